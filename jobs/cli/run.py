"""`afterclose run`: one pass of a job (or of every job), and the summary a person reads."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connector.actions import ActionResult
from connector.errors import ConfigError, LockHeldError
from connector.nps import RejectedRow
from connector.port import CallStats
from jobs import logs
from jobs.cli.exits import ExitCode
from jobs.cli.output import echo
from jobs.cli.runtime import CrmSession, Runtime, load_runtime, progress_for, stop_on_sigterm
from jobs.cli.stopping import GracefulStop
from jobs.nps import NpsReport, run_nps
from jobs.schema_fit import Skipped
from jobs.state import RunOutcome, StateStore
from jobs.sync import SyncReport, run_sync

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
    source_rejected: list[RejectedRow] = field(default_factory=list)
    """NPS: rows or items the source could not use (file, line, why)."""
    calls: CallStats | None = None
    skipped: tuple[Skipped, ...] = ()
    """Optional write-back targets the run left out, and why."""
    stopped_early: bool = False
    replanned_all: bool = False
    """Sync: the mapping or the playbooks changed, so every won deal was planned again."""
    deal_names: dict[str, str] = field(default_factory=dict)

    def deal_label(self, deal_id: str) -> str:
        name = self.deal_names.get(deal_id)
        return f"{name} ({deal_id})" if name else deal_id


def jobs_of(job: str) -> tuple[str, ...]:
    return JOBS if job == "all" else (job,)


def run_command(config_path: Path, job: str, *, rejected_ok: bool = False) -> int:
    runtime = load_runtime(config_path)
    codes = []
    with stop_on_sigterm(runtime.settings.server.stop_grace_seconds) as stop:
        for name in jobs_of(job):
            result = run_job(runtime, name, stop.is_set, record_by=stop.record_by, progress=True,
                             required=job != "all")
            echo_result(result)
            codes.append(result.exit_code)
            if stop.is_set():
                stop.exit(_exit_code(codes, rejected_ok))  # recorded: do not wait for writes the grace left behind
    return _exit_code(codes, rejected_ok)


def _exit_code(codes: list[int], rejected_ok: bool) -> int:
    """The worst job's code; with ``--rejected-ok`` a finished run whose records the CRM refused
    (kept, retried next run, listed above and by `status`) exits 0."""
    worst = max(codes)
    return ExitCode.OK if rejected_ok and worst == ExitCode.REJECTED else worst


def run_job(runtime: Runtime, job: str, should_stop: Callable[[], bool], *, progress: bool = False,
            required: bool = True, claim: Callable[[str], bool] | None = None,
            record_lock_held: bool = True, record_by: Callable[[], float | None] = lambda: None) -> JobResult:
    """One pass of ``job``; takes the scope's lock (LockHeldError when another run has it).

    Every attempt is kept in the run history: the job records its own run once it starts one; an
    attempt that fails before (credentials, mapping, an unreachable CRM, the NPS source's config)
    or is refused the lock is recorded here, so `status` and `/healthz` see it. ``claim(scope)``
    (serve) claims the tick for this replica once the scope is known; False: another replica has
    it and nothing runs. ``record_lock_held=False``: the caller waits and records the outcome."""
    started = runtime.clock()
    if job == "nps" and runtime.settings.nps.kind == "none":
        return _nps_not_configured(runtime, required)  # before the CRM: a job that is not set up costs no call
    with runtime.store() as store:
        attempt = _Attempt(runtime, store, job)
        with attempt.kept(record_lock_held=record_lock_held), runtime.crm(stopping=should_stop) as session:
            attempt.scope = runtime.scope_of(session, store)
            session.preflight((job,))
            if claim is not None and not claim(attempt.scope):
                return JobResult(job=job, exit_code=ExitCode.OK, outcome="claimed_elsewhere")
            prepared = _prepare(runtime, job, session, store, should_stop, record_by, required)
            attempt.started = True  # from here the job records its own run
            with progress_for(session, job) if progress else contextlib.nullcontext():
                result = prepared()
            result.calls = session.adapter.call_stats()
        _prune_history(runtime, store)
    _log_result(result, started, runtime.clock())
    return result


@dataclass
class _Attempt:
    """An attempt to run ``job``, recorded in the store if it ends before the job's own run starts."""

    runtime: Runtime
    store: StateStore
    job: str
    scope: str | None = None
    started: bool = False

    @contextlib.contextmanager
    def kept(self, *, record_lock_held: bool):
        try:
            yield
        except LockHeldError as exc:
            if record_lock_held:
                self._record(RunOutcome.LOCK_HELD, exc)
            raise
        except Exception as exc:
            if not self.started:
                self._record(RunOutcome.FAILED, exc)
            raise

    def _record(self, outcome: RunOutcome, exc: BaseException) -> None:
        scope = self.scope or self.runtime.known_scope(self.store) or self.runtime.address
        try:
            self.store.record_attempt(scope, self.job, outcome, str(exc))
        except Exception as failure:  # noqa: BLE001 - the command's own error is the one to report
            log.error("attempt_not_recorded", job=self.job, error=logs.redact(str(failure)))


def _prepare(runtime: Runtime, job: str, session: CrmSession, store: StateStore, should_stop: Callable[[], bool],
             record_by: Callable[[], float | None], required: bool) -> Callable[[], JobResult]:
    """The job ready to run; what can still fail before it runs fails here (the NPS source's config)."""
    if job == "sync":
        sync_job = runtime.sync_job(session, store, should_stop, record_by)
        return lambda: _sync_result(run_sync(sync_job), session)
    nps_job = runtime.nps_job(session, store)
    if nps_job is None:
        result = _nps_not_configured(runtime, required)
        return lambda: result
    return lambda: _nps_result(run_nps(nps_job))


def _prune_history(runtime: Runtime, store: StateStore) -> None:
    """Runs older than ``[state] history_days`` go, with their per-record outcomes; the ledger,
    cursors and rejected records are the state itself and are never pruned."""
    days = runtime.settings.state.history_days
    if days:
        pruned = store.prune_runs(runtime.clock() - dt.timedelta(days=days))
        if pruned:
            log.info("history_pruned", runs=pruned, older_than_days=days)


def _sync_result(report: SyncReport, session: CrmSession) -> JobResult:
    return JobResult(job="sync", exit_code=report.exit_code, outcome="rejected" if report.rejected else "ok",
                     run_id=report.run_id, deals=report.deals_seen, outcomes=report.outcomes,
                     rejected=report.rejected, stopped_early=report.stopped_early, deal_names=session.deal_names,
                     skipped=report.skipped, replanned_all=report.replanned_all)


def _nps_not_configured(runtime: Runtime, required: bool) -> JobResult:
    if required:
        raise ConfigError('is "none": set a source (csv, http or hubspot-native) to run the NPS job',
                          source=runtime.settings.source, key="nps.source")
    return JobResult(job="nps", exit_code=ExitCode.OK, outcome="skipped")


def _nps_result(report: NpsReport) -> JobResult:
    outcome = "failed" if report.source_error else "rejected" if report.rejected or report.source_rejected else "ok"
    return JobResult(job="nps", exit_code=report.exit_code, outcome=outcome, run_id=report.run_id,
                     responses=report.responses_read, outcomes=report.outcomes, rejected=report.rejected,
                     unmatched=len(report.unmatched), error=report.source_error,
                     source_rejected=list(report.source_rejected), skipped=report.skipped)


def _log_result(result: JobResult, started: dt.datetime, finished: dt.datetime) -> None:
    log.info("run_finished", job=result.job, run_id=result.run_id, outcome=result.outcome, deals=result.deals,
             responses=result.responses, rows_not_usable=len(result.source_rejected), error=result.error,
             records=dict(result.outcomes), rejected=len(result.rejected), unmatched=result.unmatched,
             api_calls=result.calls.total if result.calls else 0,
             rate_limit_wait_seconds=round(result.calls.rate_limit_wait_seconds, 3) if result.calls else 0.0,
             stopped_early=result.stopped_early, seconds=round((finished - started).total_seconds(), 3))


def echo_result(result: JobResult) -> None:
    if result.outcome == "skipped":
        echo(f"{result.job}: not configured ([nps] source = \"none\"); skipped")
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())) or "nothing to do"
    run = f" run {result.run_id}" if result.run_id is not None else ""
    deals = f"{result.deals} deals; " if result.job == "sync" else f"{result.responses} responses read; "
    unusable = (f"{len(result.source_rejected)} rows not usable (listed below and in `afterclose status`); "
                if result.source_rejected else "")
    unmatched = f"; {result.unmatched} responses unmatched (kept, retried next run)" if result.unmatched else ""
    calls = result.calls.total if result.calls else 0
    echo(f"{result.job}{run}: {deals}{unusable}{counts}{unmatched}; {calls} API calls")
    if result.replanned_all:
        echo("  the mapping or the playbooks changed since the last run: every won deal was planned again, so "
             "open tasks follow the new templates, touch points and conditions")
    for skipped in result.skipped:
        echo(f"  {skipped_line(skipped)}")
    for row in result.source_rejected:
        echo(f"  not usable: {row.describe()} (not imported; fix it at the source)")
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


def skipped_line(skipped: Skipped) -> str:
    return (f"skipped optional target {skipped}; the other fields were written (create or fix the field, or "
            "remove the key from the mapping)")


def scheduled_run(runtime: Runtime, job: str, stop: GracefulStop,
                  claim: Callable[[str], bool] | None = None) -> JobResult:
    """One tick of ``serve``; CRM and config errors propagate for the scheduler to count (the
    attempt is in the run history already). A lock held elsewhere propagates too: the scheduler
    waits and tries again, and records the tick as missed if it never gets to run."""
    return run_job(runtime, job, stop.is_set, required=False, claim=claim, record_lock_held=False,
                   record_by=stop.record_by)
