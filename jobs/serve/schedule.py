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

Ticks of one process run one at a time: sync and NPS share the scope's run lock, so two ticks
due together (sync every 15 minutes, NPS at 06:00) would race for it and the loser would be
skipped for the day. The second waits its turn instead. A tick that finds the lock held by a run
elsewhere (a manual `afterclose run`, a replica) waits too, until its job's next tick; a tick that
never ran is *missed*: recorded in the run history, counted, and reported by /healthz.

SIGTERM/SIGINT set a stop flag the sync job checks between pages: the current page is finished
and recorded, then the process exits 0.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
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
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
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
                problems.append(f"last {job} tick failed at {failed_tick[0].isoformat()}: "
                                f"{logs.redact(failed_tick[1])}")
            elif run is not None and run.outcome is RunOutcome.FAILED:
                problems.append(f"last {job} run ({run.id}) failed: {logs.redact(run.error or 'no reason recorded')}")
            elif run is not None and run.outcome is RunOutcome.MISSED:
                problems.append(f"{job} missed its schedule: {logs.redact(run.error or 'no reason recorded')}")
            finished = run.finished_at if run is not None and run.finished_at else self.started_at
            if now - finished > limit:
                problems.append(f"{job} run overdue: nothing finished since {finished.isoformat()}")
        shown = {job: {"run": r.id, "outcome": r.outcome.value if r.outcome else None,
                       "finished_at": r.finished_at.isoformat() if r.finished_at else None}
                 for job, r in last.items()}
        return problems, shown


def last_finished_runs(store: StateStore, scope: str, jobs: list[str]) -> dict[str, RunSummary]:
    """The newest finished, real (not dry) run or attempt of each job in ``scope``: a tick that
    failed its checks or missed its schedule counts (the store keeps them, so a restart still sees
    them); a manual run refused the lock does not (the run that held it is what counts)."""
    found: dict[str, RunSummary] = {}
    for run in store.recent_runs(scope, limit=100):
        if (run.job in jobs and run.job not in found and run.outcome not in (None, RunOutcome.LOCK_HELD)
                and not run.dry_run):
            found[run.job] = run
    return found


def interval_of(trigger: BaseTrigger, now: dt.datetime) -> dt.timedelta:
    """The gap between two consecutive fire times: how long silence may last before it is news."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1)) if first else None
    return (second - first) if first and second else dt.timedelta(days=1)


def health_app(health: Health) -> Starlette:
    async def healthz(_: Request) -> JSONResponse:
        problems, last = health.problems(dt.datetime.now(dt.UTC))
        body = {"status": "fail" if problems else "ok", "problems": problems, "last_runs": last}
        return JSONResponse(body, status_code=503 if problems else 200)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    return Starlette(routes=[Route("/healthz", healthz), Route("/metrics", metrics_endpoint)])


# ---------------------------------------------------------------------------------------------
# Ticks


@dataclass(kw_only=True)
class Ticker:
    """Runs one tick of a job: wait its turn, run it (claiming the tick), count it. Never raises
    (the scheduler lives on)."""

    scope: str | Callable[[], str]
    """Where missed ticks are recorded: the scope, or how to get it (the CRM account it is for)."""
    store: StateStore
    execute: Callable[..., Any]
    """``execute(job, claim)`` runs the job once and returns an object with ``outcome``,
    ``outcomes`` and ``calls``; ``claim(scope)`` claims this tick for this replica (False: another
    replica has it, and the job returns the outcome ``claimed_elsewhere`` without running)."""
    stop: threading.Event
    health: Health | None = None
    lock_retry_seconds: float = 5.0
    wait_limit: Mapping[str, dt.timedelta] = field(default_factory=dict)
    """How long after its scheduled time a tick may wait for a lock held elsewhere (serve: until
    the job's next tick); a job not named here does not wait."""
    _turn: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, job: str, scheduled_run_time: dt.datetime | None = None) -> str:
        # The default only satisfies APScheduler's signature check: FireTimeExecutor always passes it.
        outcome, error = self._tick(job, scheduled_run_time or _now())
        if self.health is not None:
            self.health.tick_finished(job, outcome, _now(), error)
        return outcome

    def missed(self, job: str, scheduled_run_time: dt.datetime, reason: str) -> None:
        """Record a tick that never ran (the store keeps it: /healthz reports it, after a restart too)."""
        error = f"the tick scheduled for {scheduled_run_time.isoformat()} did not run: {reason}"
        log.warning("run_missed", job=job, scheduled=scheduled_run_time.isoformat(), reason=reason)
        metrics.observe_run(job, RunOutcome.MISSED.value, {}, None, _now())
        try:
            self.store.record_attempt(self._scope(), job, RunOutcome.MISSED, error)
        except Exception as exc:  # noqa: BLE001 - then this replica's own health report keeps it
            log.error("run_not_recorded", job=job, error=logs.redact(str(exc)))
            if self.health is not None:
                self.health.tick_finished(job, RunOutcome.FAILED.value, _now(), error)

    def _tick(self, job: str, fire_time: dt.datetime) -> tuple[str, str | None]:
        claimed: dict[str, bool] = {}

        def claim(scope: str) -> bool:  # once per tick, however often it waits for the lock
            if scope not in claimed:
                claimed[scope] = self.store.claim_slot(scope, job, fire_time)
            return claimed[scope]

        give_up = fire_time + self.wait_limit.get(job, dt.timedelta(0))
        while True:
            if not self._take_turn():
                return "stopping", None
            try:
                if self.stop.is_set():
                    return "stopping", None
                done = self._run_once(job, claim, fire_time)
            finally:
                self._turn.release()
            if not isinstance(done, LockHeldError):
                return done
            if _now() >= give_up:
                self.missed(job, fire_time, f"another run held the lock: {done}")
                return RunOutcome.MISSED.value, str(done)
            log.info("run_waiting", job=job, reason=str(done), retry_seconds=self.lock_retry_seconds)
            if self.stop.wait(self.lock_retry_seconds):
                return "stopping", None

    def _take_turn(self) -> bool:
        """Wait until no other tick of this process runs; False when stopping meanwhile."""
        while not self._turn.acquire(timeout=0.2):
            if self.stop.is_set():
                return False
        return True

    def _run_once(self, job: str, claim: Callable[[str], bool],
                  fire_time: dt.datetime) -> tuple[str, str | None] | LockHeldError:
        log.info("run_started", job=job, scheduled=fire_time.isoformat())
        try:
            result = self.execute(job, claim)
        except LockHeldError as exc:
            return exc
        except AfterCloseError as exc:
            log.error("run_failed", job=job, error=exc)
            metrics.observe_run(job, RunOutcome.FAILED.value, {}, None, _now())
            return RunOutcome.FAILED.value, str(exc)
        except Exception as exc:
            log.error("run_failed", job=job, exc_info=True)
            metrics.observe_run(job, RunOutcome.FAILED.value, {}, None, _now())
            return RunOutcome.FAILED.value, f"internal error: {type(exc).__name__}: {exc}"
        if result.outcome == "claimed_elsewhere":
            log.info("run_skipped", job=job, scheduled=fire_time.isoformat(),
                     reason="another replica claimed this tick")
        metrics.observe_run(job, result.outcome, result.outcomes, result.calls, _now())
        return result.outcome, getattr(result, "error", None)

    def _scope(self) -> str:
        return self.scope() if callable(self.scope) else self.scope


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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

    def on_missed(event: JobExecutionEvent) -> None:
        # The process was too busy or asleep: a tick later than misfire_grace_seconds is dropped.
        tick.missed(event.job_id.removesuffix("-at-start"), event.scheduled_run_time,
                    f"the scheduler reached it more than schedule.misfire_grace_seconds "
                    f"({misfire_grace_seconds} s) late")

    scheduler.add_listener(on_missed, EVENT_JOB_MISSED)
    return scheduler


def install_stop_handlers(stop: threading.Event) -> None:
    def on_signal(signum, _frame) -> None:
        log.info("stopping", signal=signal.Signals(signum).name, detail="finishing the current page")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
