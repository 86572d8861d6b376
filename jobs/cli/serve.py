"""`afterclose serve`: the jobs on their cron schedules, with /healthz and /metrics
(jobs/serve/ holds the scheduler, the health report and the metrics)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

from connector.serving import serve_app
from jobs import logs
from jobs.cli.exits import CommandFailed, ExitCode
from jobs.cli.run import scheduled_run
from jobs.cli.runtime import load_runtime
from jobs.cli.stopping import GracefulStop
from jobs.config import Settings
from jobs.serve.cron import crontab_trigger
from jobs.serve.schedule import (
    Health,
    Ticker,
    build_scheduler,
    health_app,
    install_stop_handlers,
    interval_of,
    last_finished_runs,
)

log = logs.get_logger("afterclose.serve")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def serve_command(config_path: Path, *, run_now: bool = False) -> int:
    runtime = load_runtime(config_path)
    settings = runtime.settings
    schedules = {job: cron for job, cron in (("sync", settings.schedule.sync), ("nps", settings.schedule.nps)) if cron}
    grace = dt.timedelta(seconds=settings.schedule.misfire_grace_seconds)
    now = _now()
    intervals = {job: interval_of(crontab_trigger(cron, settings.schedule.timezone), now)
                 for job, cron in schedules.items()}
    stop = GracefulStop(settings.server.stop_grace_seconds)
    install_stop_handlers(stop)
    with runtime.store() as store:
        # The account this process serves, as far as it is known without calling the CRM: every
        # run asks the CRM and remembers it (jobs/scopes.py); before the first, the store says.
        def scope() -> str:
            return runtime.known_scope(store) or runtime.address

        health = Health(
            overdue_after={job: 2 * interval + grace for job, interval in intervals.items()},
            last_runs=lambda: last_finished_runs(store, scope(), list(schedules)),
        )
        # A tick that finds the lock held elsewhere waits for it until its job's next tick.
        current = {"runtime": runtime}

        def reload() -> None:
            """The console wrote a mapping or playbook file (checked first): later ticks use it."""
            current["runtime"] = load_runtime(config_path, configure_logs=False)
            log.info("config_reloaded", reason="changed in the admin console")

        tick = Ticker(scope=scope, store=store, stop=stop, health=health, wait_limit=intervals,
                      execute=lambda job, claim: scheduled_run(current["runtime"], job, stop, claim))
        scheduler = build_scheduler(schedules, settings.schedule.timezone, settings.schedule.misfire_grace_seconds,
                                    tick, run_now=run_now)
        with _health_server(health, settings.server.host, settings.server.port) as base_url, \
                _console(config_path, settings, reload):
            scheduler.start()
            log.info("serving", address=runtime.address, scope=scope(), schedules=schedules,
                     healthz=f"{base_url}/healthz", metrics=f"{base_url}/metrics")
            while not stop.wait(0.2):
                pass
            scheduler.shutdown(wait=True)  # the running job records what landed within the grace
    log.info("stopped")
    stop.exit(ExitCode.OK)  # do not wait for writes the grace left behind


@contextlib.contextmanager
def _console(config_path: Path, settings: Settings, reload: Callable[[], None]) -> Iterator[None]:
    """The admin console next to the jobs, when ``[console] enabled`` (docs/console.md)."""
    if not settings.console.enabled:
        yield
        return
    from jobs.cli.console import console_running

    with console_running(config_path, settings.console, store_url=settings.state.url, on_change=reload) as address:
        log.info("console_serving", address=address)
        yield


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
