"""Handoff rules: does the team taking over know what it needs to? Pure; no I/O.

``check(deal, fieldmap)`` runs the mapping's rules, in their order, on one deal and says what is
missing the way a rep understands it. It never raises for a value: a bad date or a number field
holding text is a finding, like an empty field.

Each rule judges one thing. Presence is the ``required`` rule's job, so ``min_length``,
``allowed_values`` and ``date_after`` pass on a blank value: an admin who wants "optional, but
if given at least 10 characters" writes only ``min_length``. ``required`` also needs the value
to be readable as the field's type ("next spring" in a date field is not a date).

No rule looks at today's date: a report depends on the deal and the mapping only.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from connector.mapping import CLOSE_DATE, FieldMap, FieldSpec, HandoffRule, RuleKind
from connector.model import Deal
from jobs.core.values import ValueProblem, clean_text, parse, parse_date, shown

STAKEHOLDERS = "stakeholders"
"""``Finding.field`` of the stakeholder rules, which are about contacts, not a mapped field."""
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
"""Control, format (zero-width), surrogate, private-use and unassigned characters: they do
not make "\u200b" x 10 a ten-character answer."""
_WORDY = ("L", "N")
"""Unicode letter and number categories: an answer with none of them ("----------") is empty."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One missing or invalid piece of the handoff, said the way a rep understands it."""

    field: str
    """Canonical field name, or "stakeholders"."""
    label: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


@dataclass(frozen=True, kw_only=True, slots=True)
class HandoffReport:
    deal_id: str
    complete: bool
    findings: tuple[Finding, ...]
    score: int
    """0-100: the share of rules the deal passes."""

    @property
    def missing_labels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.label for f in self.findings))


def check(deal: Deal, fieldmap: FieldMap) -> HandoffReport:
    """Run every handoff rule of ``fieldmap`` on ``deal``; findings come in rule order.

    The score is the share of rules passed, rounded down, so 100 means complete (a deal failing
    one rule of 200 scores 99, not a misleading 100). A mapping without rules scores 100.
    """
    rules = fieldmap.handoff_rules
    findings = tuple(f for f in (_judge(rule, deal, fieldmap) for rule in rules) if f is not None)
    passed = len(rules) - len(findings)
    score = passed * 100 // len(rules) if rules else 100
    return HandoffReport(deal_id=deal.id, complete=not findings, findings=findings, score=score)


def _judge(rule: HandoffRule, deal: Deal, fieldmap: FieldMap) -> Finding | None:
    if rule.kind in (RuleKind.MIN_STAKEHOLDERS, RuleKind.STAKEHOLDER_ROLE):
        reason = _STAKEHOLDER_JUDGES[rule.kind](rule, deal)
        return None if reason is None else Finding(field=STAKEHOLDERS, label=_label(rule), reason=reason)
    if rule.field is None or not fieldmap.has(rule.field):
        return None  # load_mapping refuses such rules; a hand-built map simply skips them
    spec = fieldmap.spec(rule.field)
    reason = _FIELD_JUDGES[rule.kind](rule, spec, deal, fieldmap)
    if reason is None:
        return None
    return Finding(field=spec.canonical, label=rule.label or fieldmap.label(spec.canonical),
                   reason=reason)


def _label(rule: HandoffRule) -> str:
    return rule.label or ("Stakeholders" if rule.kind is RuleKind.MIN_STAKEHOLDERS
                          else f"Stakeholder: {rule.value}")


# --- Field rules: each returns the reason it fails, or None -------------------------------

def _required(rule: HandoffRule, spec: FieldSpec, deal: Deal, fieldmap: FieldMap) -> str | None:
    raw = deal.value(spec.canonical)
    if clean_text(raw) is None:
        return "is empty"
    value = parse(spec.type, raw, spec.options)
    return value.reason if isinstance(value, ValueProblem) else None


def _min_length(rule: HandoffRule, spec: FieldSpec, deal: Deal, fieldmap: FieldMap) -> str | None:
    text = clean_text(deal.value(spec.canonical))
    if text is None or not isinstance(rule.value, int):
        return None
    visible = _visible(text)
    if not _has_letter_or_digit(visible):
        return f"has no letters or digits: {shown(text)}"
    if len(visible) < rule.value:
        return (f"is too short: {shown(text)} has {len(visible)} characters; "
                f"needs at least {rule.value}")
    return None


def _allowed_values(rule: HandoffRule, spec: FieldSpec, deal: Deal, fieldmap: FieldMap) -> str | None:
    text = clean_text(deal.value(spec.canonical))
    allowed = rule.value if isinstance(rule.value, tuple) else ()
    if text is None or text in allowed:
        return None
    return f"is {shown(text)}, not one of: {', '.join(allowed)}"


def _date_after(rule: HandoffRule, spec: FieldSpec, deal: Deal, fieldmap: FieldMap) -> str | None:
    text = clean_text(deal.value(spec.canonical))
    if text is None:
        return None
    day = parse_date(text)
    if isinstance(day, ValueProblem):
        return day.reason
    other, other_label = _other_day(rule, deal, fieldmap)
    if isinstance(other, ValueProblem):
        return f"cannot be checked: {other_label} {other.reason}"
    if other is None or day > other:
        return None
    return f"must be after the {other_label.lower()} ({other.isoformat()}); it is {day.isoformat()}"


def _other_day(rule: HandoffRule, deal: Deal, fieldmap: FieldMap) -> tuple[dt.date | ValueProblem | None, str]:
    """The day a ``date_after`` rule compares with: the close date, or another mapped field."""
    name = rule.value if isinstance(rule.value, str) else CLOSE_DATE
    if name == CLOSE_DATE or not fieldmap.has(name):
        return deal.close_date, "close date"
    text = clean_text(deal.value(name))
    return (None if text is None else parse_date(text)), fieldmap.label(name)


def _has_letter_or_digit(text: str) -> bool:
    if text.isascii():
        return _ASCII_WORDY.search(text) is not None
    return any(unicodedata.category(char).startswith(_WORDY) for char in text)


_ASCII_WORDY = re.compile(r"[A-Za-z0-9]")


def _visible(text: str) -> str:
    """The text as a reader sees it: composed (NFC), without invisible characters, stripped."""
    if text.isascii() and text.isprintable():
        return text.strip()  # nothing to compose or drop: the common case, without a per-character scan
    composed = unicodedata.normalize("NFC", text)
    return "".join(c for c in composed if unicodedata.category(c) not in _INVISIBLE).strip()


_FIELD_JUDGES: dict[RuleKind, Callable[[HandoffRule, FieldSpec, Deal, FieldMap], str | None]] = {
    RuleKind.REQUIRED: _required,
    RuleKind.MIN_LENGTH: _min_length,
    RuleKind.ALLOWED_VALUES: _allowed_values,
    RuleKind.DATE_AFTER: _date_after,
}


# --- Stakeholder rules --------------------------------------------------------------------

def _min_stakeholders(rule: HandoffRule, deal: Deal) -> str | None:
    needed = rule.value if isinstance(rule.value, int) else 1
    count = len({contact.id for contact in deal.contacts})
    if count >= needed:
        return None
    noun = "contact" if needed == 1 else "contacts"
    return f"needs at least {needed} stakeholder {noun} on the deal; it has {count}"


def _stakeholder_role(rule: HandoffRule, deal: Deal) -> str | None:
    """A contact must hold the role; case is ignored and a contact may hold several roles
    separated by ";" (how multi-label associations arrive as text)."""
    wanted = str(rule.value or "").strip().casefold()
    if not wanted or any(wanted in _roles(contact.role) for contact in deal.contacts):
        return None
    held = sorted({role.strip() for c in deal.contacts for role in (c.role or "").split(";")
                   if role.strip()})
    roles = ", ".join(held) if held else "none"
    return f"needs a contact with the role {rule.value!r}; roles on the deal: {roles}"


def _roles(role: str | None) -> set[str]:
    return {part.strip().casefold() for part in (role or "").split(";") if part.strip()}


_STAKEHOLDER_JUDGES: dict[RuleKind, Callable[[HandoffRule, Deal], str | None]] = {
    RuleKind.MIN_STAKEHOLDERS: _min_stakeholders,
    RuleKind.STAKEHOLDER_ROLE: _stakeholder_role,
}

