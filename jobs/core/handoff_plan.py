"""The planner's handoff part: the one "complete the handoff" task per deal, and the handoff status
written back to the deal. Pure; the rules are listed in jobs/core/planner.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from connector.actions import Action, CloseTask, CreateTask, UpdateRecord
from connector.mapping import FieldMap
from connector.model import Deal, RecordKind, RecordUpdate, TaskSpec
from jobs.core.handoff import HandoffReport
from jobs.core.keys import task_key
from jobs.core.ledger_view import EntryStatus, LedgerEntry
from jobs.core.playbook import PlannedTouchPoint
from jobs.core.values import differs

HANDOFF_STATUS_FIELD = "handoff_status"
HANDOFF_MISSING_FIELD = "handoff_missing"
MISSING_SEPARATOR = "; "

SpecFor = Callable[[PlannedTouchPoint, str], TaskSpec]
"""(planned handoff touch point, key) -> the task as it should read."""
Update = Callable[[TaskSpec, LedgerEntry, str, PlannedTouchPoint | None], Action | None]
PlannedWhenDue = Callable[[dt.datetime], PlannedTouchPoint | None]
"""due time -> the handoff task as planned on the day of first detection that leads to it."""


def handoff_task_actions(deal: Deal, report: HandoffReport, by_key: Mapping[str, LedgerEntry],
                         planned_now: PlannedTouchPoint, spec_for: SpecFor, update: Update,
                         planned_when_due: PlannedWhenDue) -> list[tuple[Action, PlannedTouchPoint | None]]:
    """Create, rewrite or close the deal's handoff task (one per deal, cycle 0)."""
    key = task_key(deal.provider, deal.id, planned_now.rule.id, 0)
    entry = by_key.get(key)
    if report.complete:
        if entry is not None and entry.status is EntryStatus.OPEN:
            reason = "handoff complete: every required field is filled"
            return [(CloseTask(key=key, deal_id=deal.id, crm_id=entry.crm_id, reason=reason), None)]
        return []
    planned = _kept_due(entry, planned_now, planned_when_due)
    spec = spec_for(planned, key)
    missing = MISSING_SEPARATOR.join(report.missing_labels)
    if entry is None:
        return [(CreateTask(spec=spec, reason=f"handoff incomplete (missing: {missing}); {planned.reason}"), planned)]
    if entry.status is EntryStatus.OPEN:
        action = update(spec, entry, f"handoff still incomplete (missing: {missing})", planned)
        return [(action, planned)] if action is not None else []
    return []


def _kept_due(entry: LedgerEntry | None, planned: PlannedTouchPoint,
              planned_when_due: PlannedWhenDue) -> PlannedTouchPoint:
    """Due one business day after first detection; once created, the ledger's due date stays, and
    so does the day of first detection its text names (read back from that due date, so a later
    run or a fresh store does not re-date it and rewrite the task)."""
    if entry is None or entry.due_at is None:
        return planned
    kept = planned_when_due(entry.due_at) or planned
    return PlannedTouchPoint(rule=planned.rule, cycle=0, due_at=entry.due_at, anchor_date=kept.anchor_date,
                             reason=f"due {entry.due_at.date()}: {planned.rule.title}",
                             counted_from=kept.counted_from)


def handoff_fields_action(deal: Deal, report: HandoffReport, fieldmap: FieldMap) -> UpdateRecord | None:
    wanted = {
        HANDOFF_STATUS_FIELD: "complete" if report.complete else "incomplete",
        HANDOFF_MISSING_FIELD: _missing_text(report),
    }
    changed = {
        name: value for name, value in wanted.items()
        if _writable(fieldmap, name) and _differs(fieldmap, name, deal.value(name), value)
    }
    if not changed:
        return None
    described = ", ".join(f"{name} {deal.value(name)!r} -> {value!r}" for name, value in changed.items())
    reason = f"handoff {wanted[HANDOFF_STATUS_FIELD]}: {described}"
    update = RecordUpdate(kind=RecordKind.DEAL, record_id=deal.id, values=changed)
    return UpdateRecord(update=update, deal_id=deal.id, reason=reason)


def _missing_text(report: HandoffReport) -> str:
    """The whole list: the adapter cuts it to the length of the CRM field it goes to, with a
    visible marker (connector/text_limits.py), and a value it cut compares equal to it."""
    return MISSING_SEPARATOR.join(report.missing_labels)


def _writable(fieldmap: FieldMap, name: str) -> bool:
    return fieldmap.has(name) and fieldmap.spec(name).write


def _differs(fieldmap: FieldMap, name: str, current: str | None, wanted: str) -> bool:
    return differs(fieldmap.spec(name).type, current, wanted)
