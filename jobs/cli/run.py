"""`afterclose run`: one pass of a job (or of every job), and the summary a person reads."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from connector.actions import ActionResult
from connector.errors import ConfigError
from connector.port import CallStats
from jobs import logs
from jobs.cli.exits import ExitCode
from jobs.cli.output import echo
from jobs.cli.runtime import CrmSession, Runtime, load_runtime, progress_for, stop_on_sigterm
from jobs.nps import run_nps
from jobs.state import StateStore
from jobs.sync import run_sync

log = logs.get_logger("afterclose")

JOBS = ("sync", "nps")


@dataclass(kw_only=True)
class JobResult:
    """One job's pass, as the CLI, the scheduler and the metrics see it."""

    job: str
    exit_code: int
    outcome: str
    """ok, rejected, or skipped (the NPS job with no source)"""
    run_id: int | None = None
    deals: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    rejected: list[ActionResult] = field(default_factory=list)
    unmatched: int = 0
    responses: int = 0
    """NPS: valid survey responses read from the source."""
    error: str | None = None
    """NPS: why the source was stopped this run (its cursor is kept)."""
    calls: CallStats | None = None
    stopped_early: bool = False
    deal_names: dict[str, str] = field(default_factory=dict)

    def deal_label(self, deal_id: str) -> str:
        name = self.deal_names.get(deal_id)
        return f"{name} ({deal_id})" if name else deal_id


def jobs_of(job: str) -> tuple[str, ...]:
    return JOBS if job == "all" else (job,)


def run_command(config_path: Path, job: str) -> int:
    runtime = load_runtime(config_path)
    codes = []
    with stop_on_sigterm() as stop:
        for name in jobs_of(job):
            result = run_job(runtime, name, stop.is_set, progress=True, required=job != "all")
            echo_result(result)
            codes.append(result.exit_code)
            if stop.is_set():
                break
    return max(codes)


def run_job(runtime: Runtime, job: str, should_stop: Callable[[], bool], *, progress: bool = False,
            required: bool = True) -> JobResult:
    """One pass of ``job``; takes the scope's lock (LockHeldError when another run has it)."""
    started = runtime.clock()
    with runtime.crm() as session, runtime.store() as store:
        session.preflight()
        with progress_for(session, job) if progress else contextlib.nullcontext():
            result = _run_sync(runtime, session, store, should_stop) if job == "sync" else \
                _run_nps(runtime, session, store, required)
        result.calls = session.adapter.call_stats()
        _prune_history(runtime, store)
    _log_result(result, started, runtime.clock())
    return result


def _prune_history(runtime: Runtime, store: StateStore) -> None:
    """Runs older than ``[state] history_days`` go, with their per-record outcomes; the ledger,
    cursors and rejected records are the state itself and are never pruned."""
    days = runtime.settings.state.history_days
    if days:
        pruned = store.prune_runs(runtime.clock() - dt.timedelta(days=days))
        if pruned:
            log.info("history_pruned", runs=pruned, older_than_days=days)


def _run_sync(runtime: Runtime, session: CrmSession, store: StateStore, should_stop: Callable[[], bool]) -> JobResult:
    report = run_sync(runtime.sync_job(session, store, should_stop))
    return JobResult(job="sync", exit_code=report.exit_code, outcome="rejected" if report.rejected else "ok",
                     run_id=report.run_id, deals=report.deals_seen, outcomes=report.outcomes,
                     rejected=report.rejected, stopped_early=report.stopped_early, deal_names=session.deal_names)


def _run_nps(runtime: Runtime, session: CrmSession, store: StateStore, required: bool) -> JobResult:
    job = runtime.nps_job(session, store)
    if job is None:
        if required:
            raise ConfigError('is "none": set a source (csv, http or hubspot-native) to run the NPS job',
                              source=runtime.settings.source, key="nps.source")
        return JobResult(job="nps", exit_code=ExitCode.OK, outcome="skipped")
    report = run_nps(job)
    outcome = "failed" if report.source_error else "rejected" if report.rejected else "ok"
    return JobResult(job="nps", exit_code=report.exit_code, outcome=outcome, run_id=report.run_id,
                     responses=report.responses_read, outcomes=report.outcomes, rejected=report.rejected,
                     unmatched=len(report.unmatched), error=report.source_error)


def _log_result(result: JobResult, started: dt.datetime, finished: dt.datetime) -> None:
    log.info("run_finished", job=result.job, run_id=result.run_id, outcome=result.outcome, deals=result.deals,
             responses=result.responses, error=result.error,
             records=dict(result.outcomes), rejected=len(result.rejected), unmatched=result.unmatched,
             api_calls=result.calls.total if result.calls else 0,
             rate_limit_wait_seconds=round(result.calls.rate_limit_wait_seconds, 3) if result.calls else 0.0,
             stopped_early=result.stopped_early, seconds=round((finished - started).total_seconds(), 3))


def echo_result(result: JobResult) -> None:
    if result.outcome == "skipped":
        click.echo(f"{result.job}: not configured ([nps] source = \"none\"); skipped")
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())) or "nothing to do"
    run = f" run {result.run_id}" if result.run_id is not None else ""
    deals = f"{result.deals} deals; " if result.job == "sync" else f"{result.responses} responses read; "
    unmatched = f"; {result.unmatched} responses unmatched (kept, retried next run)" if result.unmatched else ""
    calls = result.calls.total if result.calls else 0
    echo(f"{result.job}{run}: {deals}{counts}{unmatched}; {calls} API calls")
    for rejected in result.rejected:
        key = getattr(rejected.action, "key", "")
        echo(f"  rejected: deal {result.deal_label(rejected.action.deal_id)} {key}: {rejected.message} "
             f"[{rejected.error_code or 'no code'}] (kept, retried next run)")
    if result.error:
        echo(f"  {result.job} source stopped: {result.error} (its cursor is kept; fix the source and run again)")
    if result.outcomes.get("deferred"):
        echo(f"  deferred {result.outcomes['deferred']}: the CRM's reads cannot yet be trusted to show a task "
             "made moments ago (hubspot.settle_seconds); left for the next run, the cursor stays before them")
    if result.stopped_early:
        echo(f"{result.job}: stopped early (SIGTERM) after recording the current page; the next run resumes")


def scheduled_run(runtime: Runtime, job: str, should_stop: Callable[[], bool]) -> JobResult:
    """One tick of ``serve``; CRM and config errors propagate for the scheduler to record."""
    return run_job(runtime, job, should_stop, required=False)
