"""The sync job: pull -> handoff check -> plan -> apply -> record, one page of deals at a time.

This is the shell around the pure core (jobs/core/). It owns every side effect of a run, in this
order per page, so that a crash at any point loses nothing and duplicates nothing on the next run:

1. read the deals of the page from the CRM (the deal stream, stream.py);
2. decide (pure): handoff reports, then the plan from the deals and the ledger;
3. apply the plan's writes to the CRM (idempotent by key: a replay cannot duplicate);
4. in ONE store transaction, record the results and move the cursor past the page (writer.py).

A crash between 3 and 4 replays the page next run; the CRM-side keys make the replay harmless.
``dry_run`` stops after 2 and returns the plan: ``afterclose plan`` is the same code path.
Pages overlap: page k's writes are under way while page k+1 is read and decided, and page k is
recorded while page k+1's writes are under way; pages are still recorded in order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from connector.actions import Action, ActionResult, Plan
from connector.errors import ConfigError, ReadsNotSettled, SchemaError
from connector.mapping import FieldMap
from connector.model import Cursor, Deal, DealPage
from connector.port import CrmAdapter, SupportsCreateJournal, SupportsTaskKeyMode
from jobs import logs
from jobs.core import handoff, planner
from jobs.core.plan_inputs import plan_inputs_digest
from jobs.core.playbook import Playbook
from jobs.core.playbook_set import PlaybookSet, as_set
from jobs.playbooks.renewal_deal import renewal_deal_target_problems
from jobs.schema_fit import Skipped, fit, skipped_counts, skipped_note
from jobs.state import StateStore
from jobs.state.intents import StoreJournal
from jobs.sync import relearn
from jobs.sync.customers import LATER_ROUNDS, RunCustomers
from jobs.sync.relearn import RELEARN, RELEARN_SINCE
from jobs.sync.stream import DealBudget, DealStream
from jobs.sync.writer import PageWriter

log = logs.get_logger("afterclose.sync")

JOB = "sync"
LOOKBACK_SETTLED = "lookback_settled"
"""Scope flag: the cursor behind which every change was searchable when a run read (the run began
at least ``SETTLED_AFTER`` look-backs after it); the next run from that cursor reads no window."""
SETTLED_AFTER = 2
"""Look-back spans between a cursor and a run's start before its window counts as settled: one
covers the index lag, the second a host clock that runs ahead of the CRM's."""
PLAN_INPUTS = "plan_inputs"
"""Scope flag: the digest of the mapping and playbooks the last complete pass planned with
(jobs/core/plan_inputs.py); when they change, the next run plans every won deal again once."""
TASK_KEY_MODE = "task_key_mode"
"""Scope flag: how the CRM kept task creation exactly-once at the last run (``status`` shows it)."""
KEPT_ACTIONS = 10_000
"""A real run hands its caller at most this many plan actions (the demo shows them); a dry run
keeps every one, since it is the plan. Past that only ``plan_counts`` grows: keeping them all made
a run's memory grow ~9 MB per 1,000 deals (docs/benchmarks.md)."""
GC_THRESHOLD = 50_000


@dataclass(frozen=True, kw_only=True)
class SyncJob:
    """Everything one sync run needs; built once by the CLI or the scheduler."""

    scope: str
    """Identifies the CRM instance: state, cursor and lock are per scope."""
    adapter: CrmAdapter
    store: StateStore
    fieldmap: FieldMap
    playbook: Playbook | PlaybookSet
    """One playbook for every deal, or a set to choose from per deal (jobs/core/playbook_set.py)."""
    clock: Callable[[], dt.datetime]
    should_stop: Callable[[], bool] = lambda: False
    """Checked between pages: SIGTERM starts no new page's writes, records the pages under way, stops."""
    record_by: Callable[[], float | None] = lambda: None
    """Once stopping: the ``time.monotonic()`` time after which writes still under way are no longer
    waited for (their pages stay unrecorded; jobs/cli/stopping.py)."""
    on_page: Callable[[DealPage], None] | None = None
    """Told of every page as it is read (the CLI's progress and deal names)."""
    check_schema: bool = True
    """False when the caller checked the mapping against the live CRM already (the CLI does)."""
    skipped: tuple[Skipped, ...] = ()
    """Optional write-back targets the caller's check found unfit (left out of ``fieldmap``)."""


@dataclass(frozen=True, kw_only=True)
class DealExplained:
    playbook: str
    because: str
    upcoming: dict[str, tuple[dt.date, ...]]
    notes: tuple[str, ...]


@dataclass(kw_only=True)
class SyncReport:
    run_id: int | None
    dry_run: bool
    deals_seen: int = 0
    plan_actions: list[Action] = field(default_factory=list)
    """Every planned action of a dry run; the first ``KEPT_ACTIONS`` of a real run."""
    plan_counts: Counter[str] = field(default_factory=Counter)
    """Planned actions by kind (``ActionKind`` value), all of them."""
    outcomes: Counter[str] = field(default_factory=Counter)
    rejected: list[ActionResult] = field(default_factory=list)
    stopped_early: bool = False
    playbooks: dict[str, str] = field(default_factory=dict)
    """Deal id -> the id of the playbook it was planned with (the last time, if decided twice)."""
    explained: dict[str, DealExplained] = field(default_factory=dict)
    """A dry run's per-deal account: why its playbook, and its check-ups' next dates."""
    applied_later: set[str] = field(default_factory=set)
    """A dry run's actions (by key) that `run` would apply at its end, not with their deal's page."""
    skipped: tuple[Skipped, ...] = ()
    """Optional write-back targets this run left out, and why (kept with the run; `status`)."""
    replanned_all: bool = False
    """The mapping or the playbooks changed since the last run: every won deal was planned again."""

    @property
    def playbook_counts(self) -> Counter[str]:
        """Deals per playbook."""
        return Counter(self.playbooks.values())

    @property
    def deferred(self) -> int:
        """Deals (relearn) and task creates left for the next run because the CRM's reads could
        not be trusted yet; the cursor stays before them."""
        return self.outcomes.get("deferred", 0)

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0


def check_schema_or_raise(job: SyncJob) -> SyncJob:
    """The job with its mapping fitted to the live CRM (jobs/schema_fit.py); SchemaError when
    something the sync job needs does not fit."""
    found = fit(job.adapter.check_schema(), job.fieldmap, JOB)
    if found.blocking:
        raise SchemaError([str(p) for p in found.blocking], source=job.fieldmap.source)
    return dataclasses.replace(job, fieldmap=found.fieldmap, skipped=found.skipped, check_schema=False)


def check_renewal_deal_targets(job: SyncJob) -> None:
    """Where the playbooks create renewal deals exists in the live CRM (one read, only when a
    playbook creates them): before any write, a wrong pipeline or stage stops the run (exit 2)."""
    problems = renewal_deal_target_problems(job.adapter, as_set(job.playbook), "playbooks")
    if problems:
        raise ConfigError("; ".join(problems) + " (`afterclose check` lists them)", key="create_renewal_deal")


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


def _run_sync(job: SyncJob, *, dry_run: bool) -> SyncReport:
    if job.check_schema:
        job = check_schema_or_raise(job)
    if not dry_run:
        check_renewal_deal_targets(job)
    inputs = plan_inputs_digest(job.fieldmap, job.playbook)
    if dry_run:
        return _run_pages(job, None, dry_run=True, replan_all=_plan_inputs_changed(job, inputs))
    with job.store.lock(job.scope):
        run_id = job.store.start_run(job.scope, JOB, dry_run=False)
        try:
            _use_the_create_journal(job, run_id)
            relearn.enter_if_state_was_lost(_crm(job), JOB)
            report = _run_pages(job, run_id, dry_run=False, replan_all=_plan_inputs_changed(job, inputs))
            if not report.stopped_early and not report.deferred:
                job.store.set_flag(job.scope, PLAN_INPUTS, inputs)
                job.store.set_flag(job.scope, RELEARN, None)
                job.store.set_flag(job.scope, RELEARN_SINCE, None)
                relearn.settle_orphan_creates(_crm(job), run_id, job.clock())
        except BaseException as exc:
            job.store.finish_run(run_id, "failed", {}, job.adapter.call_stats(), error=logs.redact(str(exc)))
            raise
        outcome = "rejected" if report.rejected else "ok"
        job.store.finish_run(run_id, outcome, dict(report.outcomes) | skipped_counts(job.skipped),
                             job.adapter.call_stats(), error=skipped_note(job.skipped))
        return report


def _plan_inputs_changed(job: SyncJob, inputs: str) -> bool:
    """Whether the mapping or the playbooks differ from those of the last complete pass (a store
    that never completed one reads every deal anyway)."""
    known = job.store.get_flag(job.scope, PLAN_INPUTS)
    if known is None or known == inputs:
        return False
    log.info("plan_inputs_changed", scope=job.scope,
             detail="the mapping or the playbooks changed since the last run: every won deal is planned again")
    return True


def _use_the_create_journal(job: SyncJob, run_id: int) -> None:
    """Adapters that need it note every task create in the state store before sending it, and
    say how the CRM keeps creation exactly-once (``afterclose status`` shows it)."""
    if isinstance(job.adapter, SupportsCreateJournal):
        job.adapter.use_journal(StoreJournal(job.store, job.scope, run_id))
    if isinstance(job.adapter, SupportsTaskKeyMode):
        job.store.set_flag(job.scope, TASK_KEY_MODE, job.adapter.task_key_mode())


def _wall_clock() -> dt.datetime:
    """Real time, for how long ago something happened (``job.clock`` is the planning clock)."""
    return relearn.wall_clock()


def _crm(job: SyncJob) -> relearn.CrmStore:
    return relearn.CrmStore(adapter=job.adapter, store=job.store, scope=job.scope)


def _run_pages(job: SyncJob, run_id: int | None, *, dry_run: bool, replan_all: bool) -> SyncReport:
    report = SyncReport(run_id=run_id, dry_run=dry_run, skipped=job.skipped, replanned_all=replan_all)
    now = job.clock()
    started = _wall_clock()
    budget = DealBudget()
    customers = RunCustomers(job.store, job.scope, as_set(job.playbook), dry_run=dry_run)
    stream = DealStream(job.adapter, on_page=job.on_page, stopping=job.should_stop)
    writer = None if run_id is None else PageWriter(
        scope=job.scope, job=JOB, run_id=run_id, store=job.store, submit=stream.submit,
        outcomes=report.outcomes, rejected=report.rejected, record_by=job.record_by)
    try:
        for page, advances_cursor, budgeted in _pages(job, stream, now, customers, dry_run=dry_run,
                                                      replan_all=replan_all):
            if writer is not None and writer.writing_any(page):
                writer.drain()  # a deal met again is decided from its stored ledger entries
            page = budget.take(page) if budgeted else page
            report.deals_seen = budget.distinct
            try:
                result = _decide(job, page.deals, now, customers)
            except ReadsNotSettled as wait:
                _defer(report, page, wait)
                budget.holding_cursor = True  # no later page may move the cursor past these deals
                continue
            if not budgeted:
                result = _without_refused(result, report.rejected)
            _account(report, result, dry_run=dry_run, again=not budgeted)
            if writer is not None and not job.should_stop():  # a stop asked for meanwhile: not this page
                writer.submit(page, result, advance=advances_cursor and not budget.holding_cursor)
            if job.should_stop():
                break
        if writer is not None:
            writer.drain()
        report.stopped_early = job.should_stop()
        if not report.stopped_early and not report.deferred:
            customers.run_done()
            if writer is not None:
                _note_settled_window(job, started)
    finally:
        if writer is not None:
            writer.close()
        stream.close(wait=writer is None or not writer.abandoned)
    return report


def _defer(report: SyncReport, page: DealPage, wait: ReadsNotSettled) -> None:
    if not report.deferred:
        log.warning("deals_deferred", detail=f"{wait}; these deals are left for the next run, the cursor stays "
                                             "before them")
    report.outcomes["deferred"] += len(page.deals)


def _without_refused(result: planner.PlanResult, rejected: list[ActionResult]) -> planner.PlanResult:
    """A deal decided again at the end of the run does not retry what the CRM refused earlier in
    this run (the next run retries it, as for every refused record)."""
    refused = {r.action.key for r in rejected}
    if not refused:
        return result
    kept = tuple(a for a in result.plan.actions if a.key not in refused)
    return dataclasses.replace(result, plan=Plan(actions=kept))


def _account(report: SyncReport, result: planner.PlanResult, *, dry_run: bool, again: bool) -> None:
    """Add a page's plan to the report. A dry run records nothing, so deciding a deal again at
    the end of the run plans all of it again: that plan replaces the deal's earlier one."""
    if dry_run and again:
        redone = set(result.choices)
        replaced = [a for a in report.plan_actions if a.deal_id in redone]
        report.plan_counts.subtract(a.kind.value for a in replaced)
        report.plan_actions[:] = [a for a in report.plan_actions if a.deal_id not in redone]
        before = {a.key for a in replaced}
        report.applied_later |= {a.key for a in result.plan.actions if a.key not in before}
    report.plan_counts.update(a.kind.value for a in result.plan.actions)
    room = len(result.plan.actions) if dry_run else KEPT_ACTIONS - len(report.plan_actions)
    report.plan_actions.extend(result.plan.actions[:max(0, room)])
    report.playbooks |= {deal_id: choice.id for deal_id, choice in result.choices.items()}
    if dry_run:
        report.explained |= {
            deal_id: DealExplained(playbook=choice.id, because=choice.because,
                                   upcoming=result.upcoming.get(deal_id, {}), notes=result.notes.get(deal_id, ()))
            for deal_id, choice in result.choices.items()
        }


def _pages(job: SyncJob, stream: DealStream, now: dt.datetime, customers: RunCustomers, *,
           dry_run: bool, replan_all: bool) -> Iterator[tuple[DealPage, bool, bool]]:
    """Deals to look at again first (rejected last run, next renewal cycle due), then the
    incremental stream (every won deal while the customer book is incomplete, or once the mapping
    or the playbooks changed), then the deals the customer book says to decide again. Only
    incremental pages move the cursor; the last ones are not counted against the decision limit
    (they are at most ``LATER_ROUNDS``)."""
    again = sorted(set(job.store.retry_deal_ids(job.scope)) | set(job.store.due_revisits(job.scope, now)))
    if again:
        for page in stream.by_ids(again):
            yield page, False, True
    since = None if customers.reads_every_deal or replan_all else job.store.get_cursor(job.scope, JOB)
    window = _look_back(job, since, dry_run=dry_run)
    for page in stream.changed_since(since, handled=window, look_back=window is not None):
        yield page, True, True
    if job.should_stop():
        return  # a stopping run starts no later round: each begins with a read the stop would wait for
    customers.pass_done()
    for _ in range(LATER_ROUNDS):
        later = customers.take_later()
        if not later:
            break
        for page in stream.by_ids(later):
            yield page, False, False


def _look_back(job: SyncJob, since: Cursor | None, *, dry_run: bool) -> dict[str, dt.datetime] | None:
    """The versions the deals in the look-back window were handled in (jobs/sync/lookback.py), or
    None when there is no window to read: none configured, no cursor, or settled (``LOOKBACK_SETTLED``).
    Older versions are forgotten (a dry run leaves them): no look-back reaches them any more."""
    span = job.adapter.tuning.lookback
    if since is None or not span or job.store.get_flag(job.scope, LOOKBACK_SETTLED) == _cursor_text(since):
        return None
    oldest = since.modified - span
    if not dry_run:
        job.store.forget_deal_versions(job.scope, oldest)
    return job.store.deal_versions(job.scope, oldest)


def _note_settled_window(job: SyncJob, started: dt.datetime) -> None:
    """After a complete pass that began long enough after the cursor it ended at, every change
    before that cursor was searchable when the pass read: the next run from it needs no window,
    so a quiet portal costs one search per run again."""
    span = job.adapter.tuning.lookback
    cursor = job.store.get_cursor(job.scope, JOB) if span else None
    if cursor is None or started - cursor.modified < SETTLED_AFTER * span:
        return
    if job.store.get_flag(job.scope, LOOKBACK_SETTLED) != _cursor_text(cursor):
        job.store.set_flag(job.scope, LOOKBACK_SETTLED, _cursor_text(cursor))


def _cursor_text(cursor: Cursor) -> str:
    return f"{cursor.modified.isoformat()} {cursor.deal_id}"


def _decide(job: SyncJob, deals: Sequence[Deal], now: dt.datetime, customers: RunCustomers) -> planner.PlanResult:
    reports = {d.id: handoff.check(d, job.fieldmap) for d in deals}
    ids = [d.id for d in deals]
    book = customers.book_for(deals)

    def plan() -> planner.PlanResult:
        return planner.plan(deals, reports, job.store.ledger_for_deals(job.scope, ids), job.fieldmap, job.playbook,
                            now, customers=book)

    result = plan()
    crm = _crm(job)
    if job.store.get_flag(job.scope, RELEARN) and (found := relearn.relearn(crm, result)):
        result = plan()
        if relearn.adopt_unchanged_text(crm, result, found):
            result = plan()
    if result.retiring and relearn.learn_completed(crm, result.retiring, ids):
        result = plan()
    customers.decided(result)
    return result
