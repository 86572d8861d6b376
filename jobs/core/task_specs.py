"""What a touch-point task says, and to whom: the planner's task content. Pure.

Reps never see AfterClose, only its tasks, so each task carries its reasons (docs/playbooks.md):

- ``{why}``: the touch point, the date it counts from, the playbook, and what it is for;
- ``{missing_list}``: for the handoff task, each missing field by its label, what is wrong, and
  where to fill it in;
- a task AfterClose rewrites says so at its end (``UPDATE_NOTE``: when and what moved), and a task
  it is about to close says why first (``closing_spec``).

The update note is not part of the task's fingerprint: it describes one change, so the next run
must not see it as a change of its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping

from connector.mapping import FieldMap, TaskTemplate
from connector.model import Deal, RecordKind, TaskSpec
from jobs.core.handoff import STAKEHOLDERS, HandoffReport
from jobs.core.ledger_view import LedgerEntry
from jobs.core.playbook import PlannedTouchPoint, Playbook, RenewalCycle
from jobs.core.task_text import deal_values, render_task
from jobs.core.touch_points import TouchPointRule
from jobs.core.values import clean_text

UPDATE_NOTE = "Updated by AfterClose"
"""How the note a rewrite appends to a task's body begins (a rep can search for it)."""
CLOSING_NOTE = "AfterClose is closing this task"


def fingerprint(spec: TaskSpec) -> str:
    """Digest of a task's content: what a rep sees apart from the due date."""
    parts = (
        spec.touch_point, spec.subject, spec.body, spec.owner_id or "", spec.priority.value,
        spec.type.value, spec.deal_id, spec.company_id or "", spec.contact_id or "",
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


# --- owners ----------------------------------------------------------------------------------------


def touch_point_owner(deal: Deal, playbook: Playbook) -> str | None:
    """The CSM named in ``owner_field`` when set on the deal, else the deal's owner."""
    if playbook.owner_field:
        csm = clean_text(deal.value(playbook.owner_field))
        if csm:
            return csm
    return deal_owner(deal, playbook)


def deal_owner(deal: Deal, playbook: Playbook) -> str | None:
    """The deal owner; the playbook's ``fallback_owner`` instead when the owner is deactivated or
    missing and one is set (a CRM refuses a task for a deactivated user)."""
    if deal.owner is not None and (deal.owner.active or playbook.fallback_owner is None):
        return deal.owner.id
    return playbook.fallback_owner


# --- the task -------------------------------------------------------------------------------------


def task_spec(deal: Deal, planned: PlannedTouchPoint, key: str, owner_id: str | None,
              values: Mapping[str, str | None], fieldmap: FieldMap, playbook: Playbook, *,
              why: str | None = None) -> TaskSpec:
    """The task for one planned touch point; ``why`` replaces the usual reason (a closing note)."""
    rule = planned.rule
    filled = {
        **values,
        "touch_point_title": rule.title,
        "due_date": planned.due_date.isoformat(),
        "cycle": str(planned.cycle),
        "playbook": playbook.title,
        "why": why if why is not None else why_text(rule, planned.counted_from, playbook),
    }
    contact = deal.main_contact
    subject, body = render_task(template_for(fieldmap, rule.id), filled)
    return TaskSpec(
        key=key, deal_id=deal.id, touch_point=rule.id, subject=subject, body=body,
        due_at=planned.due_at, owner_id=owner_id, priority=rule.priority, type=rule.type,
        company_id=deal.company.id if deal.company else None,
        contact_id=contact.id if contact else None,
    )


def why_text(rule: TouchPointRule, counted_from: str, playbook: Playbook) -> str:
    """"Renewal decision, 30 days before the renewal date 2027-03-02 (renewal cycle 1), in the New
    business playbook. What it is for: get a clear yes or no before the renewal date." Words that
    change only when the task's date or the deal's playbook does, so the text stays put."""
    text = f"{rule.title}, {counted_from}, in the {playbook.title} playbook."
    purpose = rule.purpose.strip()
    return f"{text} What it is for: {purpose}" if purpose else text


def closing_spec(entry: LedgerEntry, rule: TouchPointRule, why: str,
                 spec_for: Callable[..., TaskSpec]) -> TaskSpec | None:
    """The task as it stands, ending with the reason AfterClose closes it (whatever its template
    says, like the update note); None when the task's due date is unknown."""
    if entry.due_at is None:
        return None
    planned = PlannedTouchPoint(rule=rule, cycle=entry.cycle, due_at=entry.due_at, anchor_date=entry.due_at.date(),
                                reason=why, counted_from=f"due {entry.due_at.date()}")
    spec = spec_for(planned, entry.key)
    return dataclasses.replace(spec, body=f"{spec.body.rstrip()}\n\n{CLOSING_NOTE}: {why}.\n")


def with_update_note(spec: TaskSpec, entry: LedgerEntry, changes: tuple[str, ...], today: dt.date,
                     planned: PlannedTouchPoint | None) -> TaskSpec:
    """``spec`` with a note at the end of its body saying what AfterClose changed, and when."""
    parts = []
    if "due_at" in changes:
        moved = f"moved from {_when(entry.due_at, spec.due_at)} to {_when(spec.due_at, entry.due_at)}"
        if planned is not None and planned.rule.anchor in ("close", "renewal"):
            moved += f" ({planned.counted_from})"
        parts.append(moved)
    if "content" in changes:
        parts.append("its text, owner or links brought up to date with the deal")
    note = f"{UPDATE_NOTE} on {today}: {'; '.join(parts)}."
    return dataclasses.replace(spec, body=f"{spec.body.rstrip()}\n\n{note}\n")


def without_update_note(body: str | None) -> str | None:
    """A task's body as its template wrote it: without the note a rewrite appended at its end.
    Re-learning compares a task with a fresh plan, which carries no note; the note is AfterClose's
    own words about an earlier change, not a rep's edit, and must not cause another rewrite."""
    if body is None:
        return None
    head, sep, note = body.rpartition(f"\n\n{UPDATE_NOTE} on ")
    return head if sep and "\n\n" not in note.strip() else body


def _when(due: dt.datetime | None, other: dt.datetime | None) -> str:
    """The due date in the task's zone; with the hour when the other due time is the same day."""
    if due is None:
        return "an unknown date"
    zone = other.tzinfo if other is not None else due.tzinfo
    local = due.astimezone(zone)
    same_day = other is not None and local.date() == other.astimezone(zone).date()
    return f"{local:%Y-%m-%d %H:%M}" if same_day else local.date().isoformat()


def template_for(fieldmap: FieldMap, touch_point: str) -> TaskTemplate:
    try:
        return fieldmap.template(touch_point)
    except KeyError:
        raise ValueError(
            f"{fieldmap.source}: no template for touch point {touch_point!r} and no [templates.default]"
        ) from None


# --- template values --------------------------------------------------------------------------------


def template_values(deal: Deal, report: HandoffReport | None, renewal: RenewalCycle | None,
                    fieldmap: FieldMap) -> dict[str, str | None]:
    """Template placeholders for one deal (jobs/core/task_text.py), with the handoff's missing list."""
    values = deal_values(deal, renewal_date=renewal.renewal_date.isoformat() if renewal else None)
    values["missing_fields"] = ", ".join(report.missing_labels) if report else ""
    values["missing_list"] = missing_list(report, fieldmap)
    return values


def missing_list(report: HandoffReport | None, fieldmap: FieldMap) -> str:
    """The ``{missing_list}`` value: one line per missing field, with where to fill it in."""
    if report is None:
        return ""
    lines = []
    for finding in report.findings:
        lines.append(f"- {finding.label}: {finding.reason}. {_where(finding.field, finding.label, fieldmap)}")
    return "\n".join(dict.fromkeys(lines))


_RECORD_WORDS = {RecordKind.DEAL: "deal", RecordKind.COMPANY: "company", RecordKind.CONTACT: "contact"}


def _where(field: str, label: str, fieldmap: FieldMap) -> str:
    if field == STAKEHOLDERS:
        return "Add the contact (with their role) to the deal."
    record = _RECORD_WORDS[fieldmap.spec(field).record] if fieldmap.has(field) else "deal"
    return f"Fill it in on the {record}: field \"{fieldmap.label(field) if fieldmap.has(field) else label}\"."
