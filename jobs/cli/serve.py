"""`afterclose serve`: the jobs on their cron schedules, with /healthz and /metrics
(jobs/serve/ holds the scheduler, the health report and the metrics)."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

from connector.serving import serve_app
from jobs import logs
from jobs.cli.exits import CommandFailed, ExitCode
from jobs.cli.run import scheduled_run
from jobs.cli.runtime import load_runtime
from jobs.serve.cron import crontab_trigger
from jobs.serve.schedule import (Health, Ticker, build_scheduler, health_app, install_stop_handlers, interval_of,
                                 last_finished_runs)

log = logs.get_logger("afterclose.serve")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def serve_command(config_path: Path, *, run_now: bool = False) -> int:
    runtime = load_runtime(config_path)
    settings = runtime.settings
    schedules = {job: cron for job, cron in (("sync", settings.schedule.sync), ("nps", settings.schedule.nps)) if cron}
    grace = dt.timedelta(seconds=settings.schedule.misfire_grace_seconds)
    now = _now()
    stop = threading.Event()
    install_stop_handlers(stop)
    with runtime.store() as store:
        health = Health(
            overdue_after={job: 2 * interval_of(crontab_trigger(cron, settings.schedule.timezone), now) + grace
                           for job, cron in schedules.items()},
            last_runs=lambda: last_finished_runs(store, runtime.scope, list(schedules)),
        )
        tick = Ticker(scope=runtime.scope, store=store, stop=stop, health=health,
                      execute=lambda job: scheduled_run(runtime, job, stop.is_set))
        scheduler = build_scheduler(schedules, settings.schedule.timezone, settings.schedule.misfire_grace_seconds,
                                    tick, run_now=run_now)
        with _health_server(health, settings.server.host, settings.server.port) as base_url:
            scheduler.start()
            log.info("serving", scope=runtime.scope, schedules=schedules, healthz=f"{base_url}/healthz",
                     metrics=f"{base_url}/metrics")
            while not stop.wait(0.2):
                pass
            scheduler.shutdown(wait=True)  # the running job stops after its current page
    log.info("stopped")
    return 0


@contextlib.contextmanager
def _health_server(health: Health, host: str, port: int) -> Iterator[str]:
    try:
        server = serve_app(health_app(health), host=host, port=port, name="health")
        bound = server.__enter__()
    except (RuntimeError, OSError) as exc:
        raise CommandFailed(f"cannot serve /healthz and /metrics on {host}:{port} (server.host, server.port): "
                            f"{exc}", ExitCode.CONFIG) from None
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.__exit__(None, None, None)
