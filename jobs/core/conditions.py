"""Who a playbook is for: ``when`` conditions over a deal's facts. Pure.

A condition tests the deal's *facts*: every mapped deal field by its canonical name (``deal_type``,
``pipeline``, ``renewal_date`` ...) and the built-in facts every CRM gives (``BUILT_IN_FACTS``).
A mapped field of the same name wins over a built-in fact.

- ``FieldTest`` tests one fact; the tests it holds must all pass (so ``at_least`` with ``below`` is
  a range). Text is compared without case and surrounding spaces (``"Renewal"`` equals
  ``" renewal"``); ``equals`` with a number compares numbers. An empty fact is equal to nothing,
  in no list, not in every list, and neither at least nor below any number.
- ``AllOf`` holds when every part holds (an empty ``AllOf`` always holds); ``AnyOf`` when one does.

``evaluate`` says whether a condition holds *and why*, in words a RevOps engineer reads in
``afterclose plan`` ("deal_type 'Renewal' is one of: Renewal").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from connector.model import Deal, FieldValue
from jobs.core.values import ValueProblem, clean_text, parse_number, shown

BUILT_IN_FACTS: Mapping[str, str] = MappingProxyType({
    "stage": "the deal's stage (its id as the CRM holds it)",
    "amount": "the deal amount",
    "owner_id": "the deal owner's CRM user id",
    "owner_email": "the deal owner's email",
    "owner_name": "the deal owner's name",
    "company_id": "the id of the deal's company (HubSpot) or account (Salesforce)",
    "company_name": "the name of the deal's company or account",
    "contacts": "how many contacts are on the deal",
})
"""Facts every deal has, whatever the mapping; conditions may also name any mapped deal field."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldTest:
    field: str
    equals: str | Decimal | None = None
    one_of: tuple[str, ...] | None = None
    not_one_of: tuple[str, ...] | None = None
    at_least: Decimal | None = None
    below: Decimal | None = None
    empty: bool | None = None

    def __post_init__(self) -> None:
        if all(getattr(self, name) is None for name in _TESTS):
            raise ValueError(f"condition on {self.field!r} tests nothing: give one of "
                             "equals, in, not_in, at_least, below or empty")
        if self.at_least is not None and self.below is not None and self.at_least >= self.below:
            raise ValueError(f"condition on {self.field!r}: at_least {self.at_least} must be less than "
                             f"below {self.below}, or no amount can match")


@dataclass(frozen=True, kw_only=True, slots=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class AnyOf:
    parts: tuple[Condition, ...]


Condition = FieldTest | AllOf | AnyOf
ALWAYS: Condition = AllOf(parts=())
"""The condition of a default playbook: it holds for every deal."""
_TESTS = ("equals", "one_of", "not_one_of", "at_least", "below", "empty")


@dataclass(frozen=True, slots=True)
class Verdict:
    holds: bool
    because: str
    """Why, in words: the facts that made it hold (or, when it does not, one that failed)."""


def fact(deal: Deal, name: str) -> FieldValue:
    """The deal's value for ``name``: a mapped field, else a built-in fact (None when empty)."""
    if name in deal.fields:
        return deal.fields[name]
    owner, company = deal.owner, deal.company
    built_in: dict[str, FieldValue] = {
        "stage": deal.stage,
        "amount": deal.amount,
        "owner_id": owner.id if owner else None,
        "owner_email": owner.email if owner else None,
        "owner_name": owner.name if owner else None,
        "company_id": company.id if company else None,
        "company_name": company.name if company else None,
        "contacts": str(len(deal.contacts)),
    }
    return built_in.get(name)


def evaluate(condition: Condition, deal: Deal) -> Verdict:
    if isinstance(condition, FieldTest):
        return _test(condition, deal)
    if isinstance(condition, AllOf):
        if not condition.parts:
            return Verdict(True, "the default: no condition")
        verdicts = [evaluate(part, deal) for part in condition.parts]
        failed = next((v for v in verdicts if not v.holds), None)
        return failed or Verdict(True, " and ".join(v.because for v in verdicts))
    verdicts = [evaluate(part, deal) for part in condition.parts]
    held = next((v for v in verdicts if v.holds), None)
    return held or Verdict(False, " and ".join(v.because for v in verdicts) or "no condition to meet")


def field_names(condition: Condition, path: str = "when") -> Iterator[tuple[str, str]]:
    """(dotted key, fact name) for every fact the condition reads, for checking them at load."""
    if isinstance(condition, FieldTest):
        yield f"{path}.field", condition.field
        return
    kind = "all" if isinstance(condition, AllOf) else "any"
    for index, part in enumerate(condition.parts):
        yield from field_names(part, f"{path}.{kind}[{index}]")


def describe(condition: Condition) -> str:
    """The condition in words, for docs and the plan: "deal_type is one of: Renewal"."""
    if isinstance(condition, FieldTest):
        return " and ".join(f"{condition.field} {words}" for words in _wanted(condition))
    if not condition.parts:
        return "every deal"
    joiner = " and " if isinstance(condition, AllOf) else " or "
    return joiner.join(f"({describe(p)})" if not isinstance(p, FieldTest) else describe(p)
                       for p in condition.parts)


# --- one fact -----------------------------------------------------------------------------------


def _test(test: FieldTest, deal: Deal) -> Verdict:
    raw = clean_text(fact(deal, test.field))
    seen = f"{test.field} is {shown(raw)}" if raw is not None else f"{test.field} is empty"
    for name in _TESTS:
        wanted = getattr(test, name)
        if wanted is not None and not _PASSES[name](raw, wanted):
            return Verdict(False, f"{seen}, not {_words(name, wanted)}")
    if raw is None:
        return Verdict(True, seen)
    words = " and ".join(_words(name, getattr(test, name)) for name in _TESTS if getattr(test, name) is not None)
    return Verdict(True, f"{seen}: {words}")


def _wanted(test: FieldTest) -> list[str]:
    return [f"is {_words(name, getattr(test, name))}" for name in _TESTS if getattr(test, name) is not None]


def _words(name: str, wanted: object) -> str:
    if name == "empty":
        return "empty" if wanted else "filled in"
    if name in ("one_of", "not_one_of"):
        listed = ", ".join(wanted)  # type: ignore[arg-type]
        return f"one of: {listed}" if name == "one_of" else f"none of: {listed}"
    return {"equals": f"{wanted}", "at_least": f"at least {wanted}", "below": f"below {wanted}"}[name]


def _folded(text: str) -> str:
    return text.strip().casefold()


def _number(raw: str | None) -> Decimal | None:
    value = None if raw is None else parse_number(raw)
    return None if isinstance(value, ValueProblem) else value


def _equals(raw: str | None, wanted: str | Decimal) -> bool:
    if raw is None:
        return False
    if isinstance(wanted, Decimal):
        return _number(raw) == wanted
    return _folded(raw) == _folded(wanted)


def _one_of(raw: str | None, wanted: tuple[str, ...]) -> bool:
    return raw is not None and _folded(raw) in {_folded(w) for w in wanted}


def _at_least(raw: str | None, wanted: Decimal) -> bool:
    number = _number(raw)
    return number is not None and number >= wanted


def _below(raw: str | None, wanted: Decimal) -> bool:
    number = _number(raw)
    return number is not None and number < wanted


_PASSES: Mapping[str, Callable[[str | None, Any], bool]] = {
    "equals": _equals,
    "one_of": _one_of,
    "not_one_of": lambda raw, wanted: not _one_of(raw, wanted),
    "at_least": _at_least,
    "below": _below,
    "empty": lambda raw, wanted: (raw is None) == wanted,
}
