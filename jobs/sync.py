"""The sync job: pull -> handoff check -> plan -> apply -> record, one page of deals at a time.

This is the shell around the pure core. It owns every side effect of a run, in this order per
page, so that a crash at any point loses nothing and duplicates nothing on the next run:

1. read the deals of the page from the CRM (the adapter streams them);
2. decide (pure): handoff reports, then the plan from the deals and the ledger;
3. apply the plan's writes to the CRM (idempotent by key: a replay cannot duplicate);
4. in ONE store transaction, record the results and move the cursor past the page.

A crash between 3 and 4 replays the page next run; the CRM-side keys make the replay harmless.
``dry_run`` stops after 2 and returns the plan: ``afterclose plan`` is the same code path.

The pages overlap (``_PageWriter``): page k's writes are under way while page k+1 is read and
decided, and page k is recorded while page k+1's writes are under way. Pages are still recorded
in order, each after its own writes, so the cursor never passes a write that was not recorded.
Against a CRM that answers in ~150 ms this took the Salesforce run from ~3x its latency bound
towards 1x (docs/benchmarks.md).
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import gc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from connector.actions import ActionResult, CreateTask, Outcome, Plan, Skip
from connector.errors import SchemaError
from connector.mapping import FieldMap
from connector.model import Deal, DealPage, TaskRef
from connector.port import CrmAdapter
from jobs import logs
from jobs.core import planner
from jobs.core import handoff
from jobs.core.keys import parse_key
from jobs.state import StateStore
from jobs.outcomes import tally
from jobs.core.playbook import Playbook

log = logs.get_logger("afterclose.sync")

JOB = "sync"
RELEARN = "relearn"
"""Scope flag: the store was lost (or is new) while the CRM already holds AfterClose's tasks.
Until one full pass has completed, every deal without ledger entries is looked up in the CRM by
key before anything is written, so nothing is rewritten and no finished task is reopened."""


@dataclass(frozen=True, kw_only=True)
class SyncJob:
    """Everything one sync run needs; built once by the CLI or the scheduler."""

    scope: str
    """Identifies the CRM instance: state, cursor and lock are per scope."""
    adapter: CrmAdapter
    store: StateStore
    fieldmap: FieldMap
    playbook: Playbook
    clock: Callable[[], dt.datetime]
    should_stop: Callable[[], bool] = lambda: False
    """Checked between pages: SIGTERM finishes the current page, records it and stops."""


KEPT_ACTIONS = 10_000
"""A real run hands its caller at most this many plan actions (the demo shows them); a dry run
keeps every one, since it is the plan. Past that only ``plan_counts`` grows: keeping them all made
a run's memory grow ~9 MB per 1,000 deals (docs/benchmarks.md)."""


@dataclass(kw_only=True)
class SyncReport:
    run_id: int | None
    dry_run: bool
    deals_seen: int = 0
    plan_actions: list = field(default_factory=list)
    """Every planned action of a dry run; the first ``KEPT_ACTIONS`` of a real run."""
    plan_counts: Counter = field(default_factory=Counter)
    """Planned actions by kind (``ActionKind`` value), all of them."""
    outcomes: Counter = field(default_factory=Counter)
    rejected: list[ActionResult] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0


def check_schema_or_raise(job: SyncJob) -> None:
    problems = job.adapter.check_schema()
    if problems:
        raise SchemaError([str(p) for p in problems], source=job.fieldmap.source)


def run_sync(job: SyncJob, *, dry_run: bool = False) -> SyncReport:
    """One pass. ``dry_run`` makes no write call and records nothing."""
    with _fewer_collector_pauses():
        return _run_sync(job, dry_run=dry_run)


@contextlib.contextmanager
def _fewer_collector_pauses() -> Iterator[None]:
    """Run the cyclic garbage collector less often during the run.

    A page makes ~100,000 short-lived objects (deals, actions, results, rows) that reference
    counting frees; with the default threshold (700) the collector still ran hundreds of times a
    page and scanned everything alive, ~25% of the run's CPU (docs/benchmarks.md). Memory is
    unaffected except for reference cycles, which now wait a little longer.
    """
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], GC_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


GC_THRESHOLD = 50_000


def _run_sync(job: SyncJob, *, dry_run: bool) -> SyncReport:
    check_schema_or_raise(job)
    if dry_run:
        return _run_pages(job, None, dry_run=True)
    with job.store.lock(job.scope):
        run_id = job.store.start_run(job.scope, JOB, dry_run=False)
        try:
            _enter_relearn_mode_if_state_was_lost(job)
            report = _run_pages(job, run_id, dry_run=False)
            if not report.stopped_early:
                job.store.set_flag(job.scope, RELEARN, None)
        except BaseException as exc:
            job.store.finish_run(run_id, "failed", {}, job.adapter.call_stats().by_endpoint, error=logs.redact(str(exc)))
            raise
        outcome = "rejected" if report.rejected else "ok"
        job.store.finish_run(run_id, outcome, dict(report.outcomes), job.adapter.call_stats().by_endpoint)
        return report


def _enter_relearn_mode_if_state_was_lost(job: SyncJob) -> None:
    """A store that never finished a page (new, deleted, or its first run crashed) asks the CRM
    once whether AfterClose's tasks exist there already."""
    if job.store.get_cursor(job.scope, JOB) is None and job.store.get_flag(job.scope, RELEARN) is None:
        if job.adapter.any_tasks():
            log.warning("relearn_mode", scope=job.scope,
                        detail="the CRM holds AfterClose tasks this state store does not know; re-learning them")
            job.store.set_flag(job.scope, RELEARN, "until-full-pass")


DECISIONS_PER_DEAL = 2
"""How often one run may decide the same deal. A deal comes back in the stream when a user changed
it after this run read it (decide it again: that change must not be lost), or when AfterClose's
own write-back does not read back as written (a CRM that normalises a value). The second kind
would make a run write, re-read and write again without end, so a third sighting is left for the
next run: from then on the cursor stays where it is (``_DealBudget``)."""


def _run_pages(job: SyncJob, run_id: int | None, *, dry_run: bool) -> SyncReport:
    report = SyncReport(run_id=run_id, dry_run=dry_run)
    now = job.clock()
    budget = _DealBudget()
    writer = None if dry_run else _PageWriter(job, report)
    try:
        for page, advances_cursor in _pages(job, now):
            if writer is not None and writer.writing_any(page):
                writer.drain()  # a deal met again is decided from its stored ledger entries
            page = budget.take(page)
            report.deals_seen = budget.distinct
            result = _decide(job, page.deals, now)
            report.plan_counts.update(a.kind.value for a in result.plan.actions)
            room = len(result.plan.actions) if dry_run else KEPT_ACTIONS - len(report.plan_actions)
            report.plan_actions.extend(result.plan.actions[:max(0, room)])
            if writer is not None:
                writer.submit(page, result, advance=advances_cursor and not budget.holding_cursor)
            if job.should_stop():
                report.stopped_early = True
                break
        if writer is not None:
            writer.drain()
    finally:
        if writer is not None:
            writer.close()
    return report


class _DealBudget:
    """Counts decisions per deal for one run (``DECISIONS_PER_DEAL``)."""

    def __init__(self) -> None:
        self._decided: dict[str, int] = {}
        self.holding_cursor = False
        """Set once a deal was held back: from then on no page moves the cursor, so the next run
        reads that deal again."""

    @property
    def distinct(self) -> int:
        return len(self._decided)

    def take(self, page: DealPage) -> DealPage:
        """The page without the deals already decided ``DECISIONS_PER_DEAL`` times."""
        kept = tuple(d for d in page.deals if self._decided.get(d.id, 0) < DECISIONS_PER_DEAL)
        for deal in kept:
            self._decided[deal.id] = self._decided.get(deal.id, 0) + 1
        if len(kept) < len(page.deals):
            if not self.holding_cursor:
                kept_ids = {d.id for d in kept}
                log.warning("deals_keep_coming_back", deal_ids=[d.id for d in page.deals if d.id not in kept_ids][:10],
                            detail=f"decided {DECISIONS_PER_DEAL} times in this run already (a write-back that "
                                   "does not read back as written?); left for the next run, the cursor stays "
                                   "before them")
            self.holding_cursor = True
            return DealPage(deals=kept, cursor=page.cursor)
        return page


PAGES_IN_FLIGHT = 2
"""Pages whose writes may be under way at once (``CrmAdapter.submit``). Two, so the CRM does not
wait at a page boundary: the next page's first calls queue behind this page's last ones. The
adapter's own pool still limits how many calls run together (``max_concurrency``)."""


class _PageWriter:
    """Writes pages while the sync decides the next one, and records pages in order.

    The order per page is the one in the module doc: its writes, then ONE store transaction with
    its results and the cursor past it. What overlaps is one page's writes with the next page's
    decisions and writes, and a page's store transaction with the next pages' writes. A crash in
    between leaves those pages unrecorded and the next run replays them; the CRM-side keys make
    that harmless, as for one page. When a page's writes fail, no later page moves the cursor.
    When ``drain`` or ``close`` returns, every write this object started has landed, so no write
    outlives the run or its lock.
    """

    def __init__(self, job: SyncJob, report: SyncReport) -> None:
        self._job = job
        self._report = report
        self._pending: collections.deque[_Pending] = collections.deque()
        self._failed = False

    def writing_any(self, page: DealPage) -> bool:
        ids = {d.id for d in page.deals}
        return any(not pending.deal_ids.isdisjoint(ids) for pending in self._pending)

    def submit(self, page: DealPage, result: planner.PlanResult, *, advance: bool) -> None:
        landed = self._take_oldest() if len(self._pending) >= PAGES_IN_FLIGHT else None
        writes = result.plan.writes()
        future = self._job.adapter.submit(writes) if writes else _done([])
        self._pending.append(_Pending(page=page, result=result, advance=advance, writes=future,
                                      deal_ids=frozenset(d.id for d in page.deals)))
        if landed is not None:
            self._record(*landed)

    def drain(self) -> None:
        while self._pending:
            self._record(*self._take_oldest())

    def close(self) -> None:
        """Whatever happened: let the writes under way land and record what can be recorded."""
        while self._pending:
            try:
                self._record(*self._take_oldest())
            except BaseException as exc:  # noqa: BLE001 - the run's own error is the one that propagates
                log.error("page_not_recorded", error=logs.redact(str(exc)),
                          detail="the next run repeats this page's writes; their keys make that harmless")

    def _take_oldest(self) -> tuple[_Pending, list[ActionResult]]:
        """The oldest page and its results, once its writes have landed (their error if they failed)."""
        pending = self._pending.popleft()
        try:
            return pending, pending.writes.result()
        except BaseException:
            self._failed = True  # the pages after it must not move the cursor past it
            raise

    def _record(self, pending: _Pending, results: list[ActionResult]) -> None:
        job, report, plan = self._job, self._report, pending.result.plan
        results = results + [ActionResult(action=a, outcome=Outcome.SKIPPED, message=a.reason)
                             for a in plan.actions if a.kind.value == "skip"]
        tally(results, report.outcomes, report.rejected)
        job.store.commit_page(
            job.scope, JOB, report.run_id, results, pending.result.fingerprints,
            cursor=pending.page.cursor if pending.advance and not self._failed else None,
            revisits=pending.result.revisit, processed_deal_ids=sorted(pending.deal_ids),
        )


@dataclass(frozen=True)
class _Pending:
    page: DealPage
    result: planner.PlanResult
    advance: bool
    writes: Future
    deal_ids: frozenset[str]


def _done(value: object) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _pages(job: SyncJob, now: dt.datetime) -> Iterator[tuple[DealPage, bool]]:
    """Deals to look at again first (rejected last run, next renewal cycle due), then the
    incremental stream. Only incremental pages move the cursor."""
    again = sorted(set(job.store.retry_deal_ids(job.scope)) | set(job.store.due_revisits(job.scope, now)))
    if again:
        for page in job.adapter.deals_by_id(again):
            yield page, False
    cursor = job.store.get_cursor(job.scope, JOB)
    for page in job.adapter.closed_won_deals(cursor):
        yield page, True


def _decide(job: SyncJob, deals: Sequence[Deal], now: dt.datetime) -> planner.PlanResult:
    reports = {d.id: handoff.check(d, job.fieldmap) for d in deals}
    ids = [d.id for d in deals]
    result = planner.plan(deals, reports, job.store.ledger_for_deals(job.scope, ids), job.fieldmap, job.playbook, now)
    if job.store.get_flag(job.scope, RELEARN) and _relearn(job, result):
        result = planner.plan(deals, reports, job.store.ledger_for_deals(job.scope, ids), job.fieldmap,
                              job.playbook, now)
    return result


def _relearn(job: SyncJob, result: planner.PlanResult) -> int:
    """Look up the tasks this plan would create (or skip) by key; adopt those that exist."""
    planned = {a.key: a for a in result.plan.actions if isinstance(a, (CreateTask, Skip))}
    if not planned:
        return 0
    found = job.adapter.find_tasks(list(planned))
    refs = [_as_planned(ref, planned[key]) for key, ref in found.items() if key in planned]
    return job.store.learn(job.scope, refs, _touch_point_of, fingerprints=result.fingerprints)


def _as_planned(ref: TaskRef, action) -> TaskRef:
    """A CRM that keeps due *dates* (not times) reports the planned day at midnight: the same
    due day is the same due date, so re-learning does not reschedule every task."""
    if isinstance(action, CreateTask) and ref.due_at is not None and ref.due_at.date() == action.spec.due_date:
        return TaskRef(key=ref.key, crm_id=ref.crm_id, deal_id=ref.deal_id or action.deal_id,
                       due_at=action.spec.due_at, status=ref.status, owner_id=ref.owner_id)
    return TaskRef(key=ref.key, crm_id=ref.crm_id, deal_id=ref.deal_id or action.deal_id, due_at=ref.due_at,
                   status=ref.status, owner_id=ref.owner_id)


def _touch_point_of(key: str) -> tuple[str, int]:
    parsed = parse_key(key)
    return parsed.touch_point, parsed.cycle


def plan_only(job: SyncJob) -> Plan:
    """The dry run's plan, for ``afterclose plan``."""
    return Plan(actions=tuple(run_sync(job, dry_run=True).plan_actions))
