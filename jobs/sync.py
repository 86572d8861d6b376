"""The sync job: pull -> handoff check -> plan -> apply -> record, one page of deals at a time.

This is the shell around the pure core. It owns every side effect of a run, in this order per
page, so that a crash at any point loses nothing and duplicates nothing on the next run:

1. read the deals of the page from the CRM (the adapter streams them);
2. decide (pure): handoff reports, then the plan from the deals and the ledger;
3. apply the plan's writes to the CRM (idempotent by key: a replay cannot duplicate);
4. in ONE store transaction, record the results and move the cursor past the page.

A crash between 3 and 4 replays the page next run; the CRM-side keys make the replay harmless.
``dry_run`` stops after 2 and returns the plan: ``afterclose plan`` is the same code path.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from connector.actions import ActionResult, CreateTask, Outcome, Plan, Skip
from connector.errors import SchemaError
from connector.mapping import FieldMap
from connector.model import Deal, DealPage, TaskRef
from connector.port import CrmAdapter
from jobs import handoff, logs, planner
from jobs.keys import parse_key
from jobs.ledger import StateStore
from jobs.outcomes import tally
from jobs.playbook import Playbook

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


def _run_pages(job: SyncJob, run_id: int | None, *, dry_run: bool) -> SyncReport:
    report = SyncReport(run_id=run_id, dry_run=dry_run)
    now = job.clock()
    handled: set[str] = set()
    for page, advances_cursor in _pages(job, now):
        # A deal retried at the start of this run shows up again in the incremental stream (its
        # write-backs bumped its modified date); deciding it twice in one run would only repeat
        # the same calls.
        page = DealPage(deals=tuple(d for d in page.deals if d.id not in handled), cursor=page.cursor)
        handled.update(d.id for d in page.deals)
        _process_page(job, page, now, report, advance=advances_cursor and not dry_run)
        if job.should_stop():
            report.stopped_early = True
            break
    return report


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


def _process_page(job: SyncJob, page: DealPage, now: dt.datetime, report: SyncReport, *, advance: bool) -> None:
    deals = list(page.deals)
    report.deals_seen += len(deals)
    result = _decide(job, deals, now)
    report.plan_counts.update(a.kind.value for a in result.plan.actions)
    room = len(result.plan.actions) if report.dry_run else KEPT_ACTIONS - len(report.plan_actions)
    report.plan_actions.extend(result.plan.actions[:max(0, room)])
    if report.dry_run:
        return
    writes = result.plan.writes()
    results = job.adapter.apply(writes) if writes else []
    results += [ActionResult(action=a, outcome=Outcome.SKIPPED, message=a.reason)
                for a in result.plan.actions if a.kind.value == "skip"]
    tally(results, report.outcomes, report.rejected)
    job.store.commit_page(
        job.scope, JOB, report.run_id, results, result.fingerprints,
        cursor=page.cursor if advance else None,
        revisits=result.revisit, processed_deal_ids=[d.id for d in deals],
    )


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
