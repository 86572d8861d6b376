"""The planner: what AfterClose should do in the CRM for each deal, and why. Pure: ``now`` is passed in.

``plan(deals, reports, ledger, fieldmap, playbooks, now, customers=...)`` compares what the deal's
playbook and the handoff check want with what the ledger says was already done, and returns only
the difference:

- each deal gets exactly one playbook: the first of the set whose ``when`` holds
  (jobs/core/playbook_set.py); a single ``Playbook`` is a set of one.
- a touch point with no ledger entry is created, unless it is already more than
  ``catch_up_days`` overdue (counted in whole days in the playbook's zone): then it is skipped with
  that reason, so a first run over old deals does not flood reps with overdue tasks. The skip is
  recorded in the ledger and not repeated; if the close or renewal date later moves so that the
  touch point is no longer overdue, it is created then. Each occurrence of a regular check-up is a
  touch point of its own here.
- an open task is rescheduled when its due date moved (compared as instants) and rewritten when
  its content changed (subject, body, owner, priority, type or links, compared by
  ``fingerprint``); the task then ends with a note saying what AfterClose changed and when. A
  ledger entry without a fingerprint (re-learnt from the CRM after the state store was lost) is
  rewritten once, so the store learns what the task says. ``UpdateTask.changes`` holds
  ``"due_at"`` and/or ``"content"`` (and ``"body"`` for the note of a reschedule).
- an open task the deal's plan no longer wants (its touch point left the deal's playbook, the deal
  moved to another playbook, a renewal deal of the customer took over, the renewal moved a whole
  term) is retired when it is due in the future: first its body says why (one run), then it is
  closed (the next run); never deleted. One already due stays open: it is the deal's history, and
  the rep may be working on it. A task a rep completed is never reopened, rescheduled or rewritten.
- the incomplete-handoff task: one per deal (when its playbook has one), due one business day
  after the handoff was first found incomplete (that due date then stays put), rewritten when the
  missing list changes, and closed when the handoff is complete. If a rep marks it done while
  fields are still missing, no second task follows.
- ``handoff_status`` and ``handoff_missing`` are written back to every won deal only when the CRM's
  current value differs (after ``jobs.core.values.normalize_for_compare``), so AfterClose's own
  write-backs, which bump the deal's modified date, cost nothing on the next run.
- a deal that is no longer won gets only ``CloseTask`` for each of its open tasks.
- customers (``customers``, jobs/core/customers.py): when the set has a playbook for renewal
  deals, a deal plans nothing due on or after the close of its customer's next renewal deal.
  While the book is incomplete (not every won deal read yet), a deal of a company holds back its
  renewal touch points and check-ups and is named in ``PlanResult.later``, with the customer's
  other deals whose renewal deal changed.

Actions come out ordered by deal id, then due date (record writes first), then key. Every action
carries a reason a RevOps engineer can read in ``afterclose plan``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from connector.actions import Action, CloseTask, CreateTask, Plan, Skip, UpdateTask
from connector.mapping import FieldMap, humanize
from connector.model import Deal, TaskSpec, require_aware
from jobs.core.customers import CustomerBook, CustomerDeal, remembered
from jobs.core.handoff import HandoffReport
from jobs.core.handoff_plan import handoff_fields_action, handoff_task_actions
from jobs.core.keys import task_key
from jobs.core.ledger_view import EntryStatus, LedgerEntry
from jobs.core.plan_result import PlanResult, same_instant
from jobs.core.playbook import (
    PlannedTouchPoint,
    Playbook,
    RenewalCycle,
    handoff_touch_point,
    handoff_touch_point_due,
    local_today,
    schedule,
    start_of_day,
    upcoming,
)
from jobs.core.playbook_set import Choice, PlaybookSet, as_set
from jobs.core.renewal_deals import decide as decide_renewal_deal
from jobs.core.task_specs import (
    closing_spec,
    deal_owner,
    fingerprint,
    task_spec,
    template_values,
    touch_point_owner,
    with_update_note,
)

__all__ = ["PlanResult", "fingerprint", "plan", "same_instant"]


def plan(
    deals: Iterable[Deal],
    reports: Mapping[str, HandoffReport],
    ledger: Mapping[str, Sequence[LedgerEntry]],
    fieldmap: FieldMap,
    playbook: Playbook | PlaybookSet,
    now: dt.datetime,
    *,
    customers: CustomerBook | None = None,
) -> PlanResult:
    require_aware("now", now)
    playbooks = as_set(playbook)
    calendar = playbooks.calendar
    deal_list = _latest_by_id(deals)
    choices = {deal.id: playbooks.choose(deal) for deal in deal_list}
    facts = [remembered(d, choices[d.id].id, choices[d.id].playbook.renewal_deal, choices[d.id].because)
             for d in deal_list]
    stored = customers if customers is not None else CustomerBook()
    ctx = _Context(fieldmap=fieldmap, playbooks=playbooks, now=now, today=local_today(now, calendar),
                   handoff_planned=handoff_touch_point(calendar, now), book=stored.with_deals(facts),
                   follows_customers=playbooks.has_renewal_deals)
    deal_plans = [_plan_deal(deal, reports.get(deal.id), ledger.get(deal.id, ()), choices[deal.id], ctx)
                  for deal in deal_list]
    woken = _woken(stored, facts) if ctx.follows_customers else set()
    ordered = sorted(((dp.deal.id, item) for dp in deal_plans for item in dp.items), key=_order)
    revisit = {dp.deal.id: dp.revisit for dp in deal_plans if dp.revisit is not None}
    return PlanResult(
        plan=Plan(actions=tuple(item.action for _, item in ordered)),
        revisit=revisit | {deal_id: now for deal_id in woken},
        fingerprints={key: fp for dp in deal_plans for key, fp in dp.fingerprints.items()},
        notes={dp.deal.id: tuple(dp.notes) for dp in deal_plans if dp.notes},
        choices=choices,
        customers=tuple(facts),
        later=frozenset(woken | {dp.deal.id for dp in deal_plans if dp.held}),
        upcoming={dp.deal.id: dp.upcoming for dp in deal_plans if dp.upcoming},
        retiring=frozenset(key for dp in deal_plans for key in dp.retiring),
    )


def _woken(stored: CustomerBook, facts: Sequence[CustomerDeal]) -> set[str]:
    """The customers' other deals (not in this plan) whose renewals these facts change."""
    ids = {fact.deal_id for fact in facts}
    woken: set[str] = set()
    for fact in facts:
        woken |= stored.affected_by(stored.known(fact.deal_id), fact)
    return woken - ids


# --- internals -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class _Context:
    fieldmap: FieldMap
    playbooks: PlaybookSet
    now: dt.datetime
    today: dt.date
    handoff_planned: PlannedTouchPoint
    """The incomplete-handoff task as if first detected now (the same for every deal)."""
    book: CustomerBook
    follows_customers: bool
    memos: dict[str, dict[tuple, object]] = field(default_factory=dict)
    """``playbook.schedule``'s memo per playbook for this call: deals closed on one day share their dates."""

    def memo_for(self, playbook: Playbook) -> dict[tuple, object]:
        return self.memos.setdefault(playbook.id, {})

    def tagged(self, reason: str, playbook: Playbook) -> str:
        """A reason, with the playbook named when there is more than one."""
        return reason if len(self.playbooks.segments) == 1 else f"{reason}; playbook {playbook.id}"


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
    held: bool = False
    upcoming: dict[str, tuple[dt.date, ...]] = field(default_factory=dict)
    retiring: list[str] = field(default_factory=list)

    def add(self, action: Action | None, due: dt.datetime | None, *, content: TaskSpec | None = None) -> None:
        """``content``: the task as fingerprinted, when the action writes a note besides."""
        if action is None:
            return
        self.items.append(_Item(action, due))
        if isinstance(action, CreateTask | UpdateTask):
            self.fingerprints[action.key] = fingerprint(content or action.spec)


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


_NO_DUE = dt.datetime.min.replace(tzinfo=dt.UTC)


def _plan_deal(deal: Deal, report: HandoffReport | None, entries: Sequence[LedgerEntry], choice: Choice,
               ctx: _Context) -> _DealPlan:
    out = _DealPlan(deal)
    if not deal.is_won:
        _close_open_tasks(out, entries)
        return out
    playbook = choice.playbook
    taker = ctx.book.taken_over_by(deal) if ctx.follows_customers else None
    ends = taker.close_date if taker is not None else None
    deal_schedule = schedule(deal, playbook, ctx.now, memo=ctx.memo_for(playbook), ends=ends)
    out.notes.extend(deal_schedule.notes)
    if taker is not None:
        out.notes.append(f"the renewal deal {taker.name!r} ({taker.deal_id}) carries this customer's renewals "
                         f"from its close on {ends}: nothing due from then on is planned for this deal")
    out.held = ctx.follows_customers and not ctx.book.complete and deal.company is not None
    out.revisit = ctx.now if out.held else deal_schedule.revisit_at
    if out.held:
        out.notes.append("renewal touch points and check-ups wait until every won deal has been read once "
                         "(a renewal deal of this customer may take them over): this run plans them at its end")
    values = template_values(deal, report, deal_schedule.renewal, ctx.fieldmap)
    owner = touch_point_owner(deal, playbook)
    spec_for = functools.partial(_spec_for, deal, owner, values, ctx.fieldmap, playbook)
    by_key = {entry.key: entry for entry in entries}
    planned_keys = set()
    for planned in deal_schedule.touch_points:
        if out.held and (planned.rule.anchor == "renewal" or planned.rule.repeat is not None):
            continue
        key = task_key(deal.provider, deal.id, planned.id, planned.cycle)
        planned_keys.add(key)
        # The task's text is rendered only for a task to write (about half are skips or done).
        _touch_point_action(out, functools.partial(spec_for, planned, key), key, planned, by_key.get(key),
                            playbook, ctx)
    if playbook.create_renewal_deal is not None and not out.held:
        _renewal_deal(out, playbook, deal_schedule.renewal, by_key, ends, ctx)
    if not out.held:
        _retire_unwanted(out, entries, planned_keys, deal_schedule.locate, choice, spec_for, ends, taker, ctx)
        out.upcoming = {tp: days for tp, days in upcoming(deal, playbook, ctx.now, ends=ends).items()}
    if report is None:
        out.notes.append("no handoff report: handoff status and handoff task not planned")
        return out
    if playbook.handoff:
        handoff_spec = functools.partial(_spec_for, deal, deal_owner(deal, playbook), values, ctx.fieldmap, playbook)
        update = functools.partial(_update_if_changed, ctx=ctx)
        when_due = functools.partial(handoff_touch_point_due, playbook)
        for action, planned_handoff in handoff_task_actions(deal, report, by_key, ctx.handoff_planned, handoff_spec,
                                                            update, when_due):
            out.add(action, planned_handoff.due_at if planned_handoff else _due_of(action, by_key),
                    content=_content_of(action, planned_handoff, handoff_spec))
    out.add(handoff_fields_action(deal, report, ctx.fieldmap), None)
    return out


def _renewal_deal(out: _DealPlan, playbook: Playbook, renewal: RenewalCycle | None,
                  by_key: Mapping[str, LedgerEntry], ends: dt.date | None, ctx: _Context) -> None:
    """The customer's next renewal deal, when the playbook creates them (jobs/core/renewal_deals.py)."""
    assert playbook.create_renewal_deal is not None
    decision = decide_renewal_deal(out.deal, playbook.create_renewal_deal, renewal, ctx.today, ends=ends,
                                   known_keys=set(by_key), fallback_owner=playbook.fallback_owner)
    if decision.note:
        out.notes.append(decision.note)
    if decision.action is not None:
        out.add(decision.action, None)
    if decision.revisit is not None:
        opens = start_of_day(decision.revisit, playbook)
        out.revisit = opens if out.revisit is None else min(out.revisit, opens)


def _spec_for(deal: Deal, owner: str | None, values: Mapping[str, str | None], fieldmap: FieldMap,
              playbook: Playbook, planned: PlannedTouchPoint, key: str, *, why: str | None = None) -> TaskSpec:
    return task_spec(deal, planned, key, owner, values, fieldmap, playbook, why=why)


def _due_of(action: Action, by_key: Mapping[str, LedgerEntry]) -> dt.datetime | None:
    entry = by_key.get(getattr(action, "key", ""))
    return entry.due_at if entry is not None else None


def _content_of(action: Action, planned: PlannedTouchPoint | None,
                spec_for: Callable[..., TaskSpec]) -> TaskSpec | None:
    """The fingerprinted task of an update (its note left out)."""
    if isinstance(action, UpdateTask) and planned is not None:
        return spec_for(planned, action.key)
    return None


def _close_open_tasks(out: _DealPlan, entries: Sequence[LedgerEntry]) -> None:
    deal = out.deal
    for entry in entries:
        if entry.status is EntryStatus.OPEN:
            reason = f"deal is no longer won (stage {deal.stage!r}): close open task {entry.touch_point!r}"
            out.add(CloseTask(key=entry.key, deal_id=deal.id, crm_id=entry.crm_id, reason=reason), entry.due_at)


def _touch_point_action(out: _DealPlan, spec: Callable[[], TaskSpec], key: str, planned: PlannedTouchPoint,
                        entry: LedgerEntry | None, playbook: Playbook, ctx: _Context) -> None:
    deal_id = out.deal.id
    overdue_days = (ctx.today - planned.due_date).days
    too_late = overdue_days > ctx.playbooks.calendar.catch_up_days
    reason = ctx.tagged(planned.reason, playbook)
    if entry is None:
        if too_late:
            reason = (f"skip: {reason}; {overdue_days} days overdue when first planned "
                      f"(more than the {ctx.playbooks.calendar.catch_up_days} catch-up days)")
            out.add(Skip(deal_id=deal_id, key=key, reason=reason), planned.due_at)
        else:
            out.add(CreateTask(spec=spec(), reason=reason), planned.due_at)
    elif entry.status is EntryStatus.SKIPPED and not too_late:
        out.add(CreateTask(spec=spec(), reason=f"{reason}; skipped earlier as overdue, its date has moved"),
                planned.due_at)
    elif entry.status is EntryStatus.OPEN:
        wanted = spec()
        out.add(_update_if_changed(wanted, entry, reason, planned, ctx=ctx), planned.due_at, content=wanted)
    # else: completed by a rep (never reopened), or a skip that is still overdue


def _update_if_changed(spec: TaskSpec, entry: LedgerEntry, why: str, planned: PlannedTouchPoint | None, *,
                       ctx: _Context) -> UpdateTask | None:
    changes = []
    if not same_instant(entry.due_at, spec.due_at):
        changes.append("due_at")
    if entry.fingerprint != fingerprint(spec):
        changes.append("content")
    if not changes:
        return None
    written = with_update_note(spec, entry, tuple(changes), ctx.today, planned)
    carried = tuple(changes) if "content" in changes else (*changes, "body")  # the note travels in the body
    return UpdateTask(spec=written, crm_id=entry.crm_id, changes=carried, reason=_update_reason(entry, changes, why))


def _update_reason(entry: LedgerEntry, changes: list[str], why: str) -> str:
    parts = []
    if "due_at" in changes:
        was = entry.due_at.date().isoformat() if entry.due_at else "unknown"
        parts.append(f"reschedule (was due {was})")
    if "content" in changes:
        parts.append("rewrite (text, owner or links changed)" if entry.fingerprint
                     else "rewrite (content not known to the ledger)")
    return f"{' and '.join(parts)}: {why}"


# --- tasks the plan no longer wants ----------------------------------------------------------------


def _retire_unwanted(out: _DealPlan, entries: Sequence[LedgerEntry], planned_keys: set[str],
                     locate: Callable[[object, int], PlannedTouchPoint | str], choice: Choice,
                     spec_for: Callable[..., TaskSpec], ends: dt.date | None,
                     taker: CustomerDeal | None, ctx: _Context) -> None:
    playbook = choice.playbook
    for entry in entries:
        if (entry.status is not EntryStatus.OPEN or entry.key in planned_keys
                or entry.touch_point == playbook.handoff_task.id):
            continue
        rule = playbook.rule(entry.touch_point)
        if rule is not None:
            where = locate(rule, entry.cycle)
            if isinstance(where, PlannedTouchPoint):  # wanted, only outside today's window (a far check-up)
                wanted = spec_for(where, entry.key)
                out.add(_update_if_changed(wanted, entry, ctx.tagged(where.reason, playbook), where, ctx=ctx),
                        where.due_at, content=wanted)
                continue
            why = where
            if taker is not None and ends is not None and entry.due_at is not None and entry.due_at.date() >= ends:
                why = (f"the renewal deal {taker.name!r} carries this customer's renewals from {ends}, "
                       f"so {rule.title!r} is planned there")
        else:
            title = ctx.playbooks.rule(entry.touch_point)
            named = title.title if title is not None else humanize(entry.touch_point)
            chosen = "" if len(ctx.playbooks.segments) == 1 else f" ({choice.because})"
            why = f"this deal's playbook, {playbook.title}{chosen}, has no {named!r} touch point"
        _retire(out, entry, why, spec_for, ctx)


def _retire(out: _DealPlan, entry: LedgerEntry, why: str, spec_for: Callable[..., TaskSpec],
            ctx: _Context) -> None:
    """Note the reason on the task, then (next run) close it; a task already due stays (history)."""
    deal_id = out.deal.id
    rule = ctx.playbooks.rule(entry.touch_point)
    note = None
    if rule is not None and entry.due_at is not None:
        note = closing_spec(entry, rule, why, spec_for)
    noted = note is not None and entry.fingerprint == fingerprint(note)
    future = entry.due_at is not None and entry.due_at > ctx.now
    if not (future or noted):
        return
    out.retiring.append(entry.key)
    if note is not None and not noted:
        out.add(UpdateTask(spec=note, crm_id=entry.crm_id, changes=("content",),
                           reason=f"say why, then close it on the next run: {why}"), entry.due_at)
        out.revisit = ctx.now  # nothing else may change on the deal: the next run reads it to close the task
        return
    out.add(CloseTask(key=entry.key, deal_id=deal_id, crm_id=entry.crm_id, reason=f"close: {why}"), entry.due_at)
