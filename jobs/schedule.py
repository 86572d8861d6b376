"""`afterclose serve`: the cron schedules from the config, plus /healthz and /metrics.

Scheduler choices, deliberately:
- ``max_instances=1``: a slow run is never overlapped by the next tick of the same job (and the
  store lock stops overlap across replicas and with a manual `afterclose run`);
- ``coalesce=True``: after downtime, missed ticks collapse into one run, not a burst;
- ``misfire_grace_time`` from the config: a tick missed by less than this still runs.
SIGTERM/SIGINT set a stop flag the sync job checks between pages: the current page is finished
and recorded, then the process exits.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.errors import LockHeldError
from jobs import logs, metrics

log = logs.get_logger("afterclose.serve")


@dataclass(kw_only=True)
class Health:
    """What /healthz reports: unhealthy when the last run of a job failed or a run is overdue."""

    overdue_after: dict[str, dt.timedelta]
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    last_outcome: dict[str, str] = field(default_factory=dict)
    last_finished: dict[str, dt.datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, job: str, outcome: str, at: dt.datetime) -> None:
        with self._lock:
            self.last_outcome[job], self.last_finished[job] = outcome, at

    def problems(self, now: dt.datetime) -> list[str]:
        out = []
        with self._lock:
            for job, limit in self.overdue_after.items():
                if self.last_outcome.get(job) == "failed":
                    out.append(f"last {job} run failed")
                last = self.last_finished.get(job, self.started_at)
                if now - last > limit:
                    out.append(f"{job} run overdue: last finished {last.isoformat()}")
        return out


def interval_of(trigger: CronTrigger, now: dt.datetime) -> dt.timedelta:
    """The gap between two consecutive fire times: how long silence may last before it is news."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1))
    return (second - first) if first and second else dt.timedelta(days=1)


def health_app(health: Health) -> Starlette:
    async def healthz(_: Request) -> JSONResponse:
        problems = health.problems(dt.datetime.now(dt.timezone.utc))
        body = {"status": "fail" if problems else "ok", "problems": problems,
                "last_outcome": health.last_outcome}
        return JSONResponse(body, status_code=503 if problems else 200)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return Starlette(routes=[Route("/healthz", healthz), Route("/metrics", metrics_endpoint)])


def build_scheduler(
    schedules: dict[str, str], timezone: str, misfire_grace_seconds: int,
    execute: Callable[[str], str], health: Health,
) -> BlockingScheduler:
    """One scheduled job per configured cron string; ``execute(job)`` returns the outcome."""
    scheduler = BlockingScheduler(timezone=timezone)

    def tick(job: str) -> None:
        try:
            outcome = execute(job)
        except LockHeldError:
            outcome = "lock_held"
            log.info("run_skipped", job=job, reason="another run holds the lock")
        except Exception as exc:  # noqa: BLE001 - a scheduler must survive one bad run
            outcome = "failed"
            log.error("run_failed", job=job, error=exc)
        if outcome != "lock_held":
            health.record(job, outcome, dt.datetime.now(dt.timezone.utc))
        metrics.RUNS.labels(job=job, outcome=outcome).inc()

    for job, cron in schedules.items():
        scheduler.add_job(
            tick, CronTrigger.from_crontab(cron, timezone=timezone), args=[job], id=job, name=f"afterclose {job}",
            max_instances=1, coalesce=True, misfire_grace_time=misfire_grace_seconds, replace_existing=True,
        )
    return scheduler


def install_stop_handlers(scheduler: BlockingScheduler, stop: threading.Event) -> None:
    def on_signal(signum, _frame) -> None:
        log.info("stopping", signal=signal.Signals(signum).name, detail="finishing the current page")
        stop.set()
        threading.Thread(target=lambda: scheduler.shutdown(wait=True), daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def serve_command(config_path) -> int:
    from jobs.commands import load_runtime, execute_job
    from connector.sandbox.server import serve_in_thread

    runtime = load_runtime(config_path)
    settings = runtime.settings
    schedules = {job: cron for job, cron in (("sync", settings.schedule.sync), ("nps", settings.schedule.nps)) if cron}
    now = dt.datetime.now(dt.timezone.utc)
    grace = dt.timedelta(seconds=settings.schedule.misfire_grace_seconds)
    health = Health(overdue_after={
        job: 2 * interval_of(CronTrigger.from_crontab(cron, timezone=settings.schedule.timezone), now) + grace
        for job, cron in schedules.items()
    })
    stop = threading.Event()
    scheduler = build_scheduler(schedules, settings.schedule.timezone, settings.schedule.misfire_grace_seconds,
                                lambda job: execute_job(runtime, job, stop.is_set), health)
    install_stop_handlers(scheduler, stop)
    with serve_in_thread(health_app(health), host=settings.server.host, port=settings.server.port) as server:
        log.info("serving", schedules=schedules, health=f"{server.base_url}/healthz")
        scheduler.start()
    return 0
