"""`afterclose serve`: the cron schedules from the config, plus /healthz and /metrics.

Scheduler choices, deliberately (APScheduler 3, https://apscheduler.readthedocs.io/en/3.x/userguide.html):
- ``max_instances=1``: a slow run is never overlapped by the next tick of the same job;
- ``coalesce=True``: after downtime, missed ticks collapse into one run, not a burst;
- ``misfire_grace_time`` from the config: a tick missed by less than this still runs.

Several replicas may serve one scope (they share a PostgreSQL state database). Each tick then runs
once: before running, a replica claims the tick's *scheduled* fire time in the store
(``StateStore.claim_slot``); the replica that loses the claim skips it. The scheduled time, not
the wall clock, is what makes the claims of two replicas collide, so ``FireTimeExecutor`` hands
it to the job function. The run lock still stops a manual ``afterclose run`` from overlapping.

SIGTERM/SIGINT set a stop flag the sync job checks between pages: the current page is finished
and recorded, then the process exits 0.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.errors import AfterCloseError, LockHeldError
from jobs import logs
from jobs.serve import metrics
from jobs.serve.cron import crontab_trigger
from jobs.state import RunOutcome, RunSummary, StateStore

log = logs.get_logger("afterclose.serve")


# ---------------------------------------------------------------------------------------------
# Passing the scheduled fire time to the job


class _WithFireTime:
    """The job as ``apscheduler.executors.base.run_job`` sees it, with ``scheduled_run_time``
    added to its keyword arguments; everything else is the job's own."""

    def __init__(self, job: Any, run_time: dt.datetime):
        self._job = job
        self.kwargs = {**job.kwargs, "scheduled_run_time": run_time}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class FireTimeExecutor(ThreadPoolExecutor):
    """APScheduler 3 calls job functions with their own arguments only; the time a run was
    *scheduled* for (not when it started) reaches the executor as ``run_times``. With
    ``coalesce=True`` there is exactly one; it is passed on as ``scheduled_run_time``."""

    def _do_submit_job(self, job, run_times):
        super()._do_submit_job(_WithFireTime(job, run_times[-1]), run_times)


# ---------------------------------------------------------------------------------------------
# Health


@dataclass(kw_only=True)
class Health:
    """What /healthz reports: failing when the last run of a job failed or a run is overdue.

    ``last_runs`` reads the state store, so with replicas every replica reports on the scope's
    runs, whichever replica made them."""

    overdue_after: dict[str, dt.timedelta]
    last_runs: Callable[[], dict[str, RunSummary]]
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    failed_ticks: dict[str, tuple[dt.datetime, str]] = field(default_factory=dict)
    """This replica's last tick per job that failed before a run was recorded (a mapping that no
    longer fits the CRM, bad credentials): the run history alone would only notice it as overdue."""

    def tick_finished(self, job: str, outcome: str, at: dt.datetime, error: str | None = None) -> None:
        if outcome == RunOutcome.FAILED.value:
            self.failed_ticks[job] = (at, error or "no reason given")
        elif outcome in (RunOutcome.OK.value, RunOutcome.REJECTED.value):
            self.failed_ticks.pop(job, None)

    def problems(self, now: dt.datetime) -> tuple[list[str], dict[str, Any]]:
        try:
            last = self.last_runs()
        except Exception as exc:  # noqa: BLE001 - an unreadable store is itself the health problem
            return [f"state database unreadable: {logs.redact(str(exc))}"], {}
        problems = []
        for job, limit in self.overdue_after.items():
            run = last.get(job)
            failed_tick = self.failed_ticks.get(job)
            if failed_tick and (run is None or run.finished_at is None or failed_tick[0] > run.finished_at):
                problems.append(f"last {job} tick failed at {failed_tick[0].isoformat()}: {logs.redact(failed_tick[1])}")
            elif run is not None and run.outcome is RunOutcome.FAILED:
                problems.append(f"last {job} run ({run.id}) failed: {logs.redact(run.error or 'no reason recorded')}")
            finished = run.finished_at if run is not None and run.finished_at else self.started_at
            if now - finished > limit:
                problems.append(f"{job} run overdue: nothing finished since {finished.isoformat()}")
        shown = {job: {"run": r.id, "outcome": r.outcome.value if r.outcome else None,
                       "finished_at": r.finished_at.isoformat() if r.finished_at else None}
                 for job, r in last.items()}
        return problems, shown


def last_finished_runs(store: StateStore, scope: str, jobs: list[str]) -> dict[str, RunSummary]:
    """The newest finished, real (not dry) run of each job in ``scope``."""
    found: dict[str, RunSummary] = {}
    for run in store.recent_runs(scope, limit=100):
        if run.job in jobs and run.job not in found and run.outcome is not None and not run.dry_run:
            found[run.job] = run
    return found


def interval_of(trigger: BaseTrigger, now: dt.datetime) -> dt.timedelta:
    """The gap between two consecutive fire times: how long silence may last before it is news."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1)) if first else None
    return (second - first) if first and second else dt.timedelta(days=1)


def health_app(health: Health) -> Starlette:
    async def healthz(_: Request) -> JSONResponse:
        problems, last = health.problems(dt.datetime.now(dt.timezone.utc))
        body = {"status": "fail" if problems else "ok", "problems": problems, "last_runs": last}
        return JSONResponse(body, status_code=503 if problems else 200)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    return Starlette(routes=[Route("/healthz", healthz), Route("/metrics", metrics_endpoint)])


# ---------------------------------------------------------------------------------------------
# Ticks


@dataclass(kw_only=True)
class Ticker:
    """Runs one tick of a job: claim it, run it, count it. Never raises (the scheduler lives on)."""

    scope: str
    store: StateStore
    execute: Callable[[str], Any]
    """Runs the job once; returns an object with ``outcome``, ``outcomes`` and ``calls``."""
    stop: threading.Event
    health: Health | None = None

    def __call__(self, job: str, scheduled_run_time: dt.datetime | None = None) -> str:
        outcome, error = self._tick(job, scheduled_run_time)
        if self.health is not None:
            self.health.tick_finished(job, outcome, _now(), error)
        return outcome

    def _tick(self, job: str, scheduled_run_time: dt.datetime | None) -> tuple[str, str | None]:
        # The default only satisfies APScheduler's signature check: FireTimeExecutor always passes it.
        scheduled_run_time = scheduled_run_time or _now()
        if self.stop.is_set():
            return "stopping", None
        if not self.store.claim_slot(self.scope, job, scheduled_run_time):
            log.info("run_skipped", job=job, scheduled=scheduled_run_time.isoformat(),
                     reason="another replica claimed this tick")
            metrics.observe_run(job, "claimed_elsewhere", {}, None, _now())
            return "claimed_elsewhere", None
        log.info("run_started", job=job, scheduled=scheduled_run_time.isoformat())
        try:
            result = self.execute(job)
        except LockHeldError as exc:
            log.info("run_skipped", job=job, reason=str(exc))
            metrics.observe_run(job, RunOutcome.LOCK_HELD.value, {}, None, _now())
            return RunOutcome.LOCK_HELD.value, None
        except AfterCloseError as exc:
            log.error("run_failed", job=job, error=exc)
            metrics.observe_run(job, RunOutcome.FAILED.value, {}, None, _now())
            return RunOutcome.FAILED.value, str(exc)
        except Exception as exc:  # noqa: BLE001 - a scheduler must survive one bad run; the log has the trace
            log.error("run_failed", job=job, exc_info=True)
            metrics.observe_run(job, RunOutcome.FAILED.value, {}, None, _now())
            return RunOutcome.FAILED.value, f"internal error: {type(exc).__name__}: {exc}"
        metrics.observe_run(job, result.outcome, result.outcomes, result.calls, _now())
        return result.outcome, getattr(result, "error", None)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def build_scheduler(schedules: dict[str, str], timezone: str, misfire_grace_seconds: int, tick: Ticker,
                    *, run_now: bool = False) -> BackgroundScheduler:
    """One scheduled job per configured cron string (and, with ``run_now``, one run at start)."""
    scheduler = BackgroundScheduler(timezone=timezone, executors={"default": FireTimeExecutor(max_workers=4)})
    common = dict(max_instances=1, coalesce=True, misfire_grace_time=misfire_grace_seconds)
    for job, cron in schedules.items():
        scheduler.add_job(tick, crontab_trigger(cron, timezone), args=[job], id=job,
                          name=f"afterclose {job}", replace_existing=True, **common)
        if run_now:
            scheduler.add_job(tick, DateTrigger(run_date=_now()), args=[job], id=f"{job}-at-start",
                              name=f"afterclose {job} (at start)", **common)
    return scheduler


def install_stop_handlers(stop: threading.Event) -> None:
    def on_signal(signum, _frame) -> None:
        log.info("stopping", signal=signal.Signals(signum).name, detail="finishing the current page")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
