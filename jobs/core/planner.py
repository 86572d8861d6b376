"""The planner: what AfterClose should do in the CRM for each deal, and why. Pure: ``now`` is passed in.

``plan(deals, reports, ledger, fieldmap, playbook, now)`` compares what the playbook and the
handoff check want with what the ledger says was already done, and returns only the difference:

- a touch point with no ledger entry is created, unless it is already more than
  ``catch_up_days`` overdue (counted in whole days in the playbook's zone): then it is skipped with
  that reason, so a first run over old deals does not flood reps with overdue tasks. The skip is
  recorded in the ledger and not repeated; if the close or renewal date later moves so that the
  touch point is no longer overdue, it is created then.
- an open task is rescheduled when its due date moved (the close or renewal date changed) and
  rewritten when its content changed (subject, body, owner, priority, type or links, compared by
  ``fingerprint``). A ledger entry without a fingerprint (re-learnt from the CRM after the state
  store was lost) is rewritten once, so the store learns what the task says. ``UpdateTask.changes``
  holds ``"due_at"`` and/or ``"content"``; the spec always carries the whole task.
- a task a rep completed is never reopened or rescheduled.
- the incomplete-handoff task: one per deal, due one business day after the handoff was first
  found incomplete (that due date then stays put), rewritten when the missing list changes, and
  closed when the handoff is complete. If a rep marks it done while fields are still missing, no
  second task follows (the status and missing list on the deal still say what is missing).
- ``handoff_status`` and ``handoff_missing`` are written back to the deal only when the CRM's
  current value differs (after ``jobs.core.values.normalize_for_compare``), so AfterClose's own
  write-backs, which bump the deal's modified date, cost nothing on the next run.
- a deal that is no longer won gets only ``CloseTask`` for each of its open tasks.

Actions come out ordered by deal id, then due date (record writes first), then key. Every action
carries a reason a RevOps engineer can read in ``afterclose plan``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from connector.actions import Action, CloseTask, CreateTask, Plan, Skip, UpdateRecord, UpdateTask
from connector.mapping import FieldMap, TaskTemplate
from connector.model import Deal, RecordKind, RecordUpdate, TaskSpec, require_aware
from jobs.core.handoff import HandoffReport
from jobs.core.keys import task_key
from jobs.core.ledger_view import EntryStatus, LedgerEntry
from jobs.core.playbook import (
    PlannedTouchPoint,
    Playbook,
    RenewalCycle,
    handoff_touch_point,
    local_today,
    schedule,
)
from jobs.core.task_text import deal_values, render_task
from jobs.core.values import clean_text, normalize_for_compare

HANDOFF_STATUS_FIELD = "handoff_status"
HANDOFF_MISSING_FIELD = "handoff_missing"
MISSING_SEPARATOR = "; "
MAX_MISSING_CHARS = 255
"""Salesforce Text fields hold at most 255 characters; a longer list is cut with an ellipsis."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanResult:
    plan: Plan
    revisit: dict[str, dt.datetime]
    """Deal id -> when to re-read it to plan its next renewal cycle."""
    fingerprints: dict[str, str]
    """Task key -> fingerprint of the content a create/update action writes (the store saves it)."""
    notes: dict[str, tuple[str, ...]]
    """Deal id -> data problems worked around (bad renewal date, no close date...)."""

    def for_deal(self, deal_id: str) -> tuple[Action, ...]:
        return tuple(a for a in self.plan.actions if a.deal_id == deal_id)

    def deal_ids(self) -> tuple[str, ...]:
        """Deals with anything to show, in plan order."""
        ids = [a.deal_id for a in self.plan.actions] + sorted(self.notes)
        return tuple(sorted(dict.fromkeys(ids)))

    def explain(self) -> list[str]:
        """The dry run as plain lines: per deal, its notes, then each action and why."""
        lines = []
        for deal_id in self.deal_ids():
            lines.append(f"deal {deal_id}")
            lines.extend(f"  note: {note}" for note in self.notes.get(deal_id, ()))
            lines.extend(f"  {action.kind.value} {action.key}: {action.reason}" for action in self.for_deal(deal_id))
            if deal_id in self.revisit:
                lines.append(f"  revisit at {self.revisit[deal_id].isoformat()}")
        return lines


def fingerprint(spec: TaskSpec) -> str:
    """Digest of a task's content: what a rep sees apart from the due date."""
    parts = (
        spec.touch_point, spec.subject, spec.body, spec.owner_id or "", spec.priority.value,
        spec.type.value, spec.deal_id, spec.company_id or "", spec.contact_id or "",
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def plan(
    deals: Iterable[Deal],
    reports: Mapping[str, HandoffReport],
    ledger: Mapping[str, Sequence[LedgerEntry]],
    fieldmap: FieldMap,
    playbook: Playbook,
    now: dt.datetime,
) -> PlanResult:
    require_aware("now", now)
    ctx = _Context(fieldmap=fieldmap, playbook=playbook, now=now, today=local_today(now, playbook),
                   handoff_planned=handoff_touch_point(playbook, now))
    deal_plans = [
        _plan_deal(deal, reports.get(deal.id), ledger.get(deal.id, ()), ctx)
        for deal in _latest_by_id(deals)
    ]
    ordered = sorted(((dp.deal.id, item) for dp in deal_plans for item in dp.items), key=_order)
    return PlanResult(
        plan=Plan(actions=tuple(item.action for _, item in ordered)),
        revisit={dp.deal.id: dp.revisit for dp in deal_plans if dp.revisit is not None},
        fingerprints={key: fp for dp in deal_plans for key, fp in dp.fingerprints.items()},
        notes={dp.deal.id: tuple(dp.notes) for dp in deal_plans if dp.notes},
    )


# --- internals -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class _Context:
    fieldmap: FieldMap
    playbook: Playbook
    now: dt.datetime
    today: dt.date
    handoff_planned: PlannedTouchPoint
    """The incomplete-handoff task as if first detected now (the same for every deal)."""
    schedules: dict[tuple, PlannedTouchPoint] = field(default_factory=dict)
    """``playbook.schedule``'s memo for this call: deals closed on one day share their dates."""


@dataclass(frozen=True, slots=True)
class _Item:
    action: Action
    due_at: dt.datetime | None


@dataclass(slots=True)
class _DealPlan:
    deal: Deal
    items: list[_Item] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    revisit: dt.datetime | None = None

    def add(self, action: Action | None, due: dt.datetime | None) -> None:
        if action is None:
            return
        self.items.append(_Item(action, due))
        if isinstance(action, CreateTask | UpdateTask):
            self.fingerprints[action.key] = fingerprint(action.spec)


def _latest_by_id(deals: Iterable[Deal]) -> list[Deal]:
    """One deal per id (the most recently modified, if a page repeats one), sorted by id."""
    latest: dict[str, Deal] = {}
    for deal in deals:
        seen = latest.get(deal.id)
        if seen is None or deal.last_modified > seen.last_modified:
            latest[deal.id] = deal
    return [latest[deal_id] for deal_id in sorted(latest)]


def _order(deal_item: tuple[str, _Item]) -> tuple[str, int, dt.datetime, str]:
    """Deal, then record writes before tasks, then due date, then key."""
    deal_id, item = deal_item
    if item.due_at is None:
        return (deal_id, 0, _NO_DUE, item.action.key)
    return (deal_id, 1, item.due_at, item.action.key)


_NO_DUE = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def _plan_deal(deal: Deal, report: HandoffReport | None, entries: Sequence[LedgerEntry],
               ctx: _Context) -> _DealPlan:
    out = _DealPlan(deal)
    by_key = {entry.key: entry for entry in entries}
    if not deal.is_won:
        _close_open_tasks(out, entries)
        return out
    deal_schedule = schedule(deal, ctx.playbook, ctx.now, memo=ctx.schedules)
    out.notes.extend(deal_schedule.notes)
    out.revisit = deal_schedule.revisit_at
    context = _deal_values(deal, report, deal_schedule.renewal)
    owner = _touch_point_owner(deal, ctx.playbook)
    for planned in deal_schedule.touch_points:
        key = task_key(deal.provider, deal.id, planned.id, planned.cycle)
        # The task's text is rendered only for a task to write (about half are skips or done).
        spec = functools.partial(_task_spec, deal, planned, key, owner, context, ctx)
        out.add(_touch_point_action(spec, key, deal.id, planned, by_key.get(key), ctx), planned.due_at)
    if report is None:
        out.notes.append("no handoff report: handoff status and handoff task not planned")
        return out
    _plan_handoff_task(out, report, by_key, context, ctx)
    out.add(_handoff_fields_action(deal, report, ctx.fieldmap), None)
    return out


def _close_open_tasks(out: _DealPlan, entries: Sequence[LedgerEntry]) -> None:
    deal = out.deal
    for entry in entries:
        if entry.status is EntryStatus.OPEN:
            reason = f"deal is no longer won (stage {deal.stage!r}): close open task {entry.touch_point!r}"
            out.add(CloseTask(key=entry.key, deal_id=deal.id, crm_id=entry.crm_id, reason=reason), entry.due_at)


def _touch_point_action(spec: Callable[[], TaskSpec], key: str, deal_id: str, planned: PlannedTouchPoint,
                        entry: LedgerEntry | None, ctx: _Context) -> Action | None:
    overdue_days = (ctx.today - planned.due_date).days
    too_late = overdue_days > ctx.playbook.catch_up_days
    if entry is None:
        if too_late:
            reason = (f"skip: {planned.reason}; {overdue_days} days overdue when first planned "
                      f"(more than the {ctx.playbook.catch_up_days} catch-up days)")
            return Skip(deal_id=deal_id, key=key, reason=reason)
        return CreateTask(spec=spec(), reason=planned.reason)
    if entry.status is EntryStatus.SKIPPED and not too_late:
        return CreateTask(spec=spec(), reason=f"{planned.reason}; skipped earlier as overdue, its date has moved")
    if entry.status is EntryStatus.OPEN:
        return _update_if_changed(spec(), entry, planned.reason)
    return None  # completed by a rep (never reopened), or a skip that is still overdue


def _update_if_changed(spec: TaskSpec, entry: LedgerEntry, why: str) -> UpdateTask | None:
    changes = []
    if not same_instant(entry.due_at, spec.due_at):
        changes.append("due_at")
    if entry.fingerprint != fingerprint(spec):
        changes.append("content")
    if not changes:
        return None
    return UpdateTask(spec=spec, crm_id=entry.crm_id, changes=tuple(changes),
                      reason=_update_reason(entry, changes, why))


def same_instant(stored: dt.datetime | None, wanted: dt.datetime) -> bool:
    """Whether two aware times name the same instant, whatever zone each is labelled with
    (subtraction compares instants; ``==`` across zones is False for a time in a DST fold)."""
    return stored is not None and stored - wanted == dt.timedelta(0)


def _update_reason(entry: LedgerEntry, changes: list[str], why: str) -> str:
    parts = []
    if "due_at" in changes:
        was = entry.due_at.date().isoformat() if entry.due_at else "unknown"
        parts.append(f"reschedule (was due {was})")
    if "content" in changes:
        parts.append("rewrite (text, owner or links changed)" if entry.fingerprint
                     else "rewrite (content not known to the ledger)")
    return f"{' and '.join(parts)}: {why}"


def _plan_handoff_task(out: _DealPlan, report: HandoffReport, by_key: Mapping[str, LedgerEntry],
                       context: Mapping[str, str], ctx: _Context) -> None:
    deal, rule = out.deal, ctx.playbook.handoff_task
    key = task_key(deal.provider, deal.id, rule.id, 0)
    entry = by_key.get(key)
    if report.complete:
        if entry is not None and entry.status is EntryStatus.OPEN:
            reason = "handoff complete: every required field is filled"
            out.add(CloseTask(key=key, deal_id=deal.id, crm_id=entry.crm_id, reason=reason), entry.due_at)
        return
    planned = _handoff_planned(entry, ctx)
    spec = _task_spec(deal, planned, key, _deal_owner(deal, ctx.playbook), context, ctx)
    missing = MISSING_SEPARATOR.join(report.missing_labels)
    if entry is None:
        out.add(CreateTask(spec=spec, reason=f"handoff incomplete (missing: {missing}); {planned.reason}"),
                planned.due_at)
    elif entry.status is EntryStatus.OPEN:
        out.add(_update_if_changed(spec, entry, f"handoff still incomplete (missing: {missing})"),
                planned.due_at)


def _handoff_planned(entry: LedgerEntry | None, ctx: _Context) -> PlannedTouchPoint:
    """Due one business day after first detection; once created, the ledger's due date stays."""
    planned = ctx.handoff_planned
    if entry is None or entry.due_at is None:
        return planned
    return PlannedTouchPoint(rule=planned.rule, cycle=0, due_at=entry.due_at, anchor_date=planned.anchor_date,
                             reason=f"due {entry.due_at.date()}: {planned.rule.title}")


def _handoff_fields_action(deal: Deal, report: HandoffReport, fieldmap: FieldMap) -> UpdateRecord | None:
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
    text = MISSING_SEPARATOR.join(report.missing_labels)
    return text if len(text) <= MAX_MISSING_CHARS else text[: MAX_MISSING_CHARS - 1] + "…"


def _writable(fieldmap: FieldMap, name: str) -> bool:
    return fieldmap.has(name) and fieldmap.spec(name).write


def _differs(fieldmap: FieldMap, name: str, current: str | None, wanted: str) -> bool:
    kind = fieldmap.spec(name).type
    return normalize_for_compare(kind, current) != normalize_for_compare(kind, wanted)


# --- task content --------------------------------------------------------------------------------


def _touch_point_owner(deal: Deal, playbook: Playbook) -> str | None:
    """The CSM named in ``owner_field`` when set on the deal, else the deal's owner."""
    if playbook.owner_field:
        csm = clean_text(deal.value(playbook.owner_field))
        if csm:
            return csm
    return _deal_owner(deal, playbook)


def _deal_owner(deal: Deal, playbook: Playbook) -> str | None:
    """The deal owner; the playbook's ``fallback_owner`` instead when the owner is deactivated or
    missing and one is set (a CRM refuses a task for a deactivated user)."""
    if deal.owner is not None and (deal.owner.active or playbook.fallback_owner is None):
        return deal.owner.id
    return playbook.fallback_owner


def _task_spec(deal: Deal, planned: PlannedTouchPoint, key: str, owner_id: str | None,
               context: Mapping[str, str | None], ctx: _Context) -> TaskSpec:
    rule = planned.rule
    template = _template(ctx.fieldmap, rule.id)
    filled = {
        **context,
        "touch_point_title": rule.title,
        "due_date": planned.due_date.isoformat(),
        "cycle": str(planned.cycle),
    }
    contact = deal.main_contact
    subject, body = render_task(template, filled)
    return TaskSpec(
        key=key, deal_id=deal.id, touch_point=rule.id, subject=subject, body=body,
        due_at=planned.due_at, owner_id=owner_id, priority=rule.priority, type=rule.type,
        company_id=deal.company.id if deal.company else None,
        contact_id=contact.id if contact else None,
    )


def _template(fieldmap: FieldMap, touch_point: str) -> TaskTemplate:
    try:
        return fieldmap.template(touch_point)
    except KeyError:
        raise ValueError(
            f"{fieldmap.source}: no template for touch point {touch_point!r} and no [templates.default]"
        ) from None


def _deal_values(deal: Deal, report: HandoffReport | None, renewal: RenewalCycle | None) -> dict[str, str | None]:
    """Template placeholders for one deal (jobs/core/task_text.py), with the handoff's missing list."""
    values = deal_values(deal, renewal_date=renewal.renewal_date.isoformat() if renewal else None)
    values["missing_fields"] = _missing_labels(report)
    return values


def _missing_labels(report: HandoffReport | None) -> str:
    """The ``{missing_fields}`` value as connector.mapping.PLACEHOLDERS documents it."""
    return ", ".join(report.missing_labels) if report else ""
