"""What each CLI command does, kept apart from argument parsing (jobs/cli.py).

``load_runtime`` validates the config, the mapping and the playbook once, before any CRM call;
every command then opens the adapter and the state store it needs and closes them on the way out.
Tables and summaries go to stdout, log events to stderr (jobs/logs.py), so a pipe gets clean data.

Exit codes (jobs/cli.py documents them for users): 0 all written · 1 finished, some records
rejected · 2 config, mapping, credential or unreachable-CRM problem, nothing written · 3 another
run holds the lock · 4 the run stopped on a CRM or internal failure (what was recorded stays).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib
import json
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from connector.actions import Action, ActionKind, ActionResult, CloseTask, CreateTask, UpdateRecord, UpdateTask
from connector.errors import AfterCloseError, AuthError, ConfigError, RetriableError
from connector.mapping import FieldMap, builtin_mapping, load_mapping
from connector.model import DealPage, Provider
from connector.port import CallStats, CrmAdapter, SupportsSetup
from jobs import logs
from jobs.config import Settings
from jobs.state import StateStore, open_store
from jobs.nps import NpsJob, build_nps_job, run_nps
from jobs.core.playbook import Playbook
from jobs.sync import SyncJob, run_sync
from jobs.wiring import build_adapter, build_playbook, scope_of

log = logs.get_logger("afterclose")

JOBS = ("sync", "nps")
EXIT_OK, EXIT_REJECTED, EXIT_CONFIG, EXIT_LOCKED, EXIT_FAILED = 0, 1, 2, 3, 4


class CommandFailed(AfterCloseError):
    """A failure already explained in the user's terms, with the exit code it deserves."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_of(exc: BaseException) -> int:
    """2 and 3 are promises (nothing written / someone else is running); everything else that
    stops a command half-way is 4, never 1, which means "finished, some records rejected"."""
    code = getattr(exc, "exit_code", EXIT_FAILED)
    return code if code in (EXIT_CONFIG, EXIT_LOCKED) else EXIT_FAILED


# ---------------------------------------------------------------------------------------------
# The runtime: settings, mapping, playbook, scope; and what a command opens from it


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True, kw_only=True)
class Runtime:
    settings: Settings
    fieldmap: FieldMap
    playbook: Playbook
    scope: str
    clock: Callable[[], dt.datetime] = _now

    @property
    def provider(self) -> Provider:
        return Provider(self.settings.crm.provider)

    @contextlib.contextmanager
    def adapter(self) -> Iterator[ObservedAdapter]:
        with explain_crm_errors(self.settings) as watch:
            adapter = ObservedAdapter(build_adapter(self.settings, self.fieldmap))
            watch.adapter = adapter
            try:
                yield adapter
            finally:
                adapter.close()

    @contextlib.contextmanager
    def store(self) -> Iterator[StateStore]:
        store = open_store(self.settings.state.url)
        try:
            yield store
        finally:
            store.close()

    def sync_job(self, adapter: CrmAdapter, store: StateStore,
                 should_stop: Callable[[], bool] = lambda: False) -> SyncJob:
        return SyncJob(scope=self.scope, adapter=adapter, store=store, fieldmap=self.fieldmap,
                       playbook=self.playbook, clock=self.clock, should_stop=should_stop)

    def nps_job(self, adapter: CrmAdapter, store: StateStore) -> NpsJob | None:
        """The NPS job, or None when ``[nps] source = "none"``."""
        return build_nps_job(self.settings, adapter, store, self.fieldmap, self.scope, self.clock)


def load_runtime(config_path: Path | None, *, configure_logs: bool = True) -> Runtime:
    settings = Settings.load(config_path)
    if configure_logs:
        logs.configure(settings.log.level, settings.log.format)
    logs.register_secrets(settings.secret_values())
    provider = Provider(settings.crm.provider)
    fieldmap = load_mapping(settings.crm.mapping or builtin_mapping(provider))
    if fieldmap.provider is not provider:
        raise ConfigError(f"this mapping is for {fieldmap.provider.value}, but crm.provider is {provider.value}",
                          source=fieldmap.source, key="provider")
    return Runtime(settings=settings, fieldmap=fieldmap, playbook=build_playbook(settings), scope=scope_of(settings))


# ---------------------------------------------------------------------------------------------
# Around the adapter: deal names and progress for the output, and CRM errors in the user's terms


class ObservedAdapter:
    """The real adapter, unchanged, plus what the CLI shows: deal names, pages as they stream,
    and whether the CRM has answered at all (to tell "unreachable" from "failed half-way")."""

    def __init__(self, adapter: CrmAdapter, on_page: Callable[[DealPage], None] | None = None):
        self._adapter = adapter
        self.on_page = on_page
        self.deal_names: dict[str, str] = {}
        self.page_of_deal: dict[str, int] = {}
        """Which page (0, 1, ...) each deal was first read in: `run` applies one page at a time."""
        self.pages = 0
        self.reached = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)

    def check_schema(self):
        problems = self._adapter.check_schema()
        self.reached = True
        return problems

    def closed_won_deals(self, since):
        return self._observe(self._adapter.closed_won_deals(since))

    def deals_by_id(self, deal_ids):
        return self._observe(self._adapter.deals_by_id(deal_ids))

    def _observe(self, pages: Iterator[DealPage]) -> Iterator[DealPage]:
        for page in pages:
            self.reached = True
            self.deal_names.update((deal.id, deal.name) for deal in page.deals)
            for deal in page.deals:
                self.page_of_deal.setdefault(deal.id, self.pages)
            self.pages += 1
            if self.on_page is not None:
                self.on_page(page)
            yield page

    def deal_label(self, deal_id: str) -> str:
        """The deal's name and id, or the id alone when the deal was not read in this run."""
        name = self.deal_names.get(deal_id)
        return f"{name} ({deal_id})" if name else deal_id



@dataclass
class _Watch:
    adapter: ObservedAdapter | None = None


def _where(settings: Settings) -> tuple[str, str, str]:
    """(CRM URL, its config key, the credential keys) for messages that tell the user what to fix."""
    if settings.crm.provider is Provider.HUBSPOT:
        return (settings.hubspot.base_url, "hubspot.base_url",
                "hubspot.access_token (or hubspot.client_id + client_secret + refresh_token)")
    url = settings.salesforce.instance_url or f"{settings.salesforce.domain} login"
    return (url, "salesforce.instance_url" if settings.salesforce.instance_url else "salesforce.domain",
            "the [salesforce] login keys (access_token, or username + password + ...)")


@contextlib.contextmanager
def explain_crm_errors(settings: Settings) -> Iterator[_Watch]:
    """Bad credentials and a CRM that never answered are config problems (exit 2, nothing was
    written): name the keys to fix instead of showing the SDK's words alone."""
    watch = _Watch()
    try:
        yield watch
    except AuthError as exc:
        url, _, credentials = _where(settings)
        raise CommandFailed(f"the CRM at {url} refused the credentials; check {credentials}: {exc}",
                            EXIT_CONFIG) from None
    except RetriableError as exc:
        never_answered = exc.status is None and (watch.adapter is None or not watch.adapter.reached)
        if not never_answered:
            raise
        url, key, _ = _where(settings)
        raise CommandFailed(f"cannot reach the CRM at {url} (check {key} and the network): {exc}",
                            EXIT_CONFIG) from None


# ---------------------------------------------------------------------------------------------
# Progress on a terminal, nothing when piped


@contextlib.contextmanager
def progress_for(adapter: ObservedAdapter, job: str, stream=None) -> Iterator[None]:
    stream = stream if stream is not None else sys.stderr
    if not getattr(stream, "isatty", lambda: False)():
        yield
        return
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.completed} deals"),
                  TimeElapsedColumn(), console=Console(file=stream), transient=True) as progress:
        task = progress.add_task(f"{job}: reading and writing", total=None)
        adapter.on_page = lambda page: progress.advance(task, len(page.deals))
        try:
            yield
        finally:
            adapter.on_page = None


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[threading.Event]:
    """SIGTERM (Kubernetes stopping the pod) finishes the current page, records it, then stops."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------------------------------
# run


@dataclass(kw_only=True)
class JobResult:
    """One job's pass, as the CLI, the scheduler and the metrics see it."""

    job: str
    exit_code: int
    outcome: str
    """ok, rejected, or skipped (the NPS job with no source)"""
    run_id: int | None = None
    deals: int = 0
    outcomes: Counter = field(default_factory=Counter)
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
            _echo_result(result)
            codes.append(result.exit_code)
            if stop.is_set():
                break
    return max(codes)


def run_job(runtime: Runtime, job: str, should_stop: Callable[[], bool], *, progress: bool = False,
            required: bool = True) -> JobResult:
    """One pass of ``job``; takes the scope's lock (LockHeldError when another run has it)."""
    started = runtime.clock()
    with runtime.adapter() as adapter, runtime.store() as store:
        with progress_for(adapter, job) if progress else contextlib.nullcontext():
            result = _run_sync(runtime, adapter, store, should_stop) if job == "sync" else \
                _run_nps(runtime, adapter, store, required)
        result.calls = adapter.call_stats()
        _prune_history(runtime, store)
    _log_result(result, adapter, started, runtime.clock())
    return result


def _prune_history(runtime: Runtime, store: StateStore) -> None:
    """Runs older than ``[state] history_days`` go, with their per-record outcomes; the ledger,
    cursors and rejected records are the state itself and are never pruned."""
    days = runtime.settings.state.history_days
    if days:
        pruned = store.prune_runs(runtime.clock() - dt.timedelta(days=days))
        if pruned:
            log.info("history_pruned", runs=pruned, older_than_days=days)


def _run_sync(runtime: Runtime, adapter: ObservedAdapter, store: StateStore,
              should_stop: Callable[[], bool]) -> JobResult:
    report = run_sync(runtime.sync_job(adapter, store, should_stop))
    result = JobResult(job="sync", exit_code=report.exit_code, outcome="rejected" if report.rejected else "ok",
                       run_id=report.run_id, deals=report.deals_seen, outcomes=report.outcomes,
                       rejected=report.rejected, stopped_early=report.stopped_early,
                       deal_names=adapter.deal_names)
    return result


def _run_nps(runtime: Runtime, adapter: ObservedAdapter, store: StateStore, required: bool) -> JobResult:
    job = runtime.nps_job(adapter, store)
    if job is None:
        if required:
            raise ConfigError('is "none": set a source (csv, http or hubspot-native) to run the NPS job',
                              source=runtime.settings.source, key="nps.source")
        return JobResult(job="nps", exit_code=EXIT_OK, outcome="skipped")
    report = run_nps(job)
    outcome = "failed" if report.source_error else "rejected" if report.rejected else "ok"
    return JobResult(job="nps", exit_code=report.exit_code, outcome=outcome, run_id=report.run_id,
                     responses=report.responses_read, outcomes=report.outcomes, rejected=report.rejected,
                     unmatched=len(report.unmatched), error=report.source_error)


def _log_result(result: JobResult, adapter: ObservedAdapter, started: dt.datetime, finished: dt.datetime) -> None:
    log.info("run_finished", job=result.job, run_id=result.run_id, outcome=result.outcome, deals=result.deals,
             responses=result.responses, error=result.error,
             records=dict(result.outcomes), rejected=len(result.rejected), unmatched=result.unmatched,
             api_calls=result.calls.total if result.calls else 0,
             rate_limit_wait_seconds=round(result.calls.rate_limit_wait_seconds, 3) if result.calls else 0.0,
             stopped_early=result.stopped_early, seconds=round((finished - started).total_seconds(), 3))


def _echo_result(result: JobResult) -> None:
    if result.outcome == "skipped":
        click.echo(f"{result.job}: not configured ([nps] source = \"none\"); skipped")
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())) or "nothing to do"
    run = f" run {result.run_id}" if result.run_id is not None else ""
    deals = f"{result.deals} deals; " if result.job == "sync" else f"{result.responses} responses read; "
    unmatched = f"; {result.unmatched} responses unmatched (kept, retried next run)" if result.unmatched else ""
    calls = result.calls.total if result.calls else 0
    _echo(f"{result.job}{run}: {deals}{counts}{unmatched}; {calls} API calls")
    for rejected in result.rejected:
        key = getattr(rejected.action, "key", "")
        _echo(f"  rejected: deal {result.deal_label(rejected.action.deal_id)} {key}: {rejected.message} "
              f"[{rejected.error_code or 'no code'}] (kept, retried next run)")
    if result.error:
        _echo(f"  {result.job} source stopped: {result.error} (its cursor is kept; fix the source and run again)")
    if result.stopped_early:
        _echo(f"{result.job}: stopped early (SIGTERM) after recording the current page; the next run resumes")


def _echo(text: str) -> None:
    click.echo(logs.redact(text))


# ---------------------------------------------------------------------------------------------
# plan


@dataclass(frozen=True, kw_only=True)
class PlannedAction:
    job: str
    action: Action
    deal_name: str | None


def plan_command(config_path: Path, fmt: str, job: str) -> int:
    runtime = load_runtime(config_path)
    planned: list[PlannedAction] = []
    deals = 0
    skipped_jobs = []
    with runtime.adapter() as adapter, runtime.store() as store:
        with progress_for(adapter, "plan"):
            for name in jobs_of(job):
                actions, seen = _plan_job(runtime, name, adapter, store, required=job != "all")
                if actions is None:
                    skipped_jobs.append(name)
                    continue
                deals += seen
                planned += [PlannedAction(job=name, action=a, deal_name=adapter.deal_names.get(a.deal_id))
                            for a in actions]
        reads = adapter.call_stats().total
        writes = _estimate_writes(adapter, planned)
        extra_reads = _first_run_reads(runtime, store) if "sync" in jobs_of(job) else 0
    summary = plan_summary([p.action for p in planned], deals=deals, reads=reads, writes=writes,
                           extra_reads=extra_reads)
    if skipped_jobs:
        summary["not_configured"] = skipped_jobs
    if fmt == "json":
        body = {"actions": [action_json(p.action, job=p.job, deal_name=p.deal_name) for p in planned],
                "summary": summary}
        _echo(json.dumps(body, indent=2, ensure_ascii=False, default=str))
    else:
        _print_plan_table(planned, summary)
    return EXIT_OK


def _estimate_writes(adapter: ObservedAdapter, planned: list[PlannedAction]) -> int:
    """`run` applies the sync plan page by page (and the NPS plan at once): estimate each apply."""
    applies: dict[tuple[str, int], list[Action]] = {}
    for item in planned:
        page = adapter.page_of_deal.get(item.action.deal_id, -1) if item.job == "sync" else -1
        applies.setdefault((item.job, page), []).append(item.action)
    return sum(adapter.estimate_write_calls(actions) for actions in applies.values())


def _plan_job(runtime: Runtime, job: str, adapter: ObservedAdapter, store: StateStore,
              required: bool) -> tuple[list[Action] | None, int]:
    if job == "sync":
        report = run_sync(runtime.sync_job(adapter, store), dry_run=True)
        return list(report.plan_actions), report.deals_seen
    nps_job = runtime.nps_job(adapter, store)
    if nps_job is None:
        if required:
            raise ConfigError('is "none": set a source to plan the NPS job', source=runtime.settings.source,
                              key="nps.source")
        return None, 0
    report = run_nps(nps_job, dry_run=True)
    return list(report.plan_actions), 0


def plan_summary(actions: Sequence[Action], *, deals: int, reads: int, writes: int,
                 extra_reads: int = 0) -> dict[str, Any]:
    """Counts per action kind, and API calls: ``api_calls_reads`` the plan spent (exact: `run`
    reads the same), ``api_calls_writes_estimate`` what `run` would add, ``api_calls_estimate``
    the whole run."""
    summary: dict[str, Any] = {kind.value: sum(1 for a in actions if a.kind is kind) for kind in ActionKind}
    summary |= {"deals": deals, "api_calls_reads": reads, "api_calls_writes_estimate": writes,
                "api_calls_estimate": reads + extra_reads + writes}
    return summary


def _first_run_reads(runtime: Runtime, store: StateStore) -> int:
    """A state store that has never finished a sync page makes `run` ask the CRM once whether
    AfterClose's tasks are already there (the re-learn check in jobs/sync.py); a plan does not."""
    from jobs.sync import JOB, RELEARN

    fresh = store.get_cursor(runtime.scope, JOB) is None and store.get_flag(runtime.scope, RELEARN) is None
    return 1 if fresh else 0


def action_json(action: Action, *, job: str = "sync", deal_name: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": action.kind.value, "job": job, "deal_id": action.deal_id, "deal_name": deal_name,
                           "key": getattr(action, "key", None), "reason": action.reason}
    if isinstance(action, (CreateTask, UpdateTask)):
        spec = action.spec
        out |= {"touch_point": spec.touch_point, "subject": spec.subject, "due": spec.due_at.isoformat(),
                "owner_id": spec.owner_id, "priority": spec.priority.value, "type": spec.type.value,
                "company_id": spec.company_id, "contact_id": spec.contact_id}
    if isinstance(action, (UpdateTask, CloseTask)):
        out["crm_id"] = action.crm_id
    if isinstance(action, UpdateTask):
        out["changes"] = list(action.changes)
    if isinstance(action, UpdateRecord):
        out |= {"record": action.update.kind.value, "record_id": action.update.record_id,
                "values": dict(action.update.values)}
    return out


def _print_plan_table(planned: list[PlannedAction], summary: dict[str, Any]) -> None:
    console = _console()
    table = Table(title="What `afterclose run` would do (nothing has been written)", title_justify="left")
    for column in ("deal", "action", "what", "due", "why"):
        table.add_column(column, overflow="fold")
    previous = None
    for item in planned:
        deal = item.deal_name or item.action.deal_id
        table.add_row(deal if deal != previous else "", item.action.kind.value.replace("_", " "),
                      _what(item.action), _due(item.action), item.action.reason)
        previous = deal
    if planned:
        console.print(table)
    else:
        console.print("Nothing to do: every won deal is up to date.")
    kinds = ", ".join(f"{summary[k.value]} {k.value.replace('_', ' ')}" for k in ActionKind if summary[k.value])
    console.print(f"{summary['deals']} deals read; {kinds or 'no actions'}.")
    console.print(f"API calls: {summary['api_calls_reads']} spent reading for this plan; `run` would make about "
                  f"{summary['api_calls_estimate']} ({summary['api_calls_writes_estimate']} of them writes).")


def _what(action: Action) -> str:
    if isinstance(action, (CreateTask, UpdateTask)):
        return action.spec.subject
    if isinstance(action, UpdateRecord):
        return ", ".join(f"{k}={v!r}" for k, v in action.update.values.items())
    return getattr(action, "key", "")


def _due(action: Action) -> str:
    return action.spec.due_date.isoformat() if isinstance(action, (CreateTask, UpdateTask)) else ""


PIPED_WIDTH = 160
"""Tables written to a file or pipe are not wrapped at rich's default 80 columns."""


def _console() -> Console:
    stream = _RedactingStream(sys.stdout)
    return Console(file=stream, highlight=False, width=None if stream.isatty() else PIPED_WIDTH)


class _RedactingStream:
    """A text stream that masks registered secrets before they reach the terminal or pipe."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(logs.redact(text))

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return getattr(self._stream, "isatty", lambda: False)()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8")


# ---------------------------------------------------------------------------------------------
# check and setup


def check_command(config_path: Path) -> int:
    runtime = load_runtime(config_path)
    for warning in runtime.settings.file_warnings():
        _echo(f"warning: {warning}")
    with runtime.store():
        pass  # opening migrates and proves the database is reachable (StateStoreError: exit 2)
    with runtime.adapter() as adapter:
        problems = adapter.check_schema()
        missing = missing_permissions(runtime.provider, adapter)
    if problems:
        click.echo(f"The mapping ({runtime.fieldmap.source}) does not fit the live CRM:", err=True)
        for problem in problems:
            _echo_err(f"  mapping key {problem.mapping_key} -> CRM field {problem.crm_field}: {problem.problem}")
        if isinstance(adapter._adapter, SupportsSetup):
            click.echo("`afterclose setup` creates AfterClose's own fields, or says how to.", err=True)
    if missing:
        click.echo("The credentials lack permissions the jobs need (docs/permissions.md):", err=True)
        for permission in missing:
            _echo_err(f"  missing permission: {permission}")
    if problems or missing:
        return EXIT_CONFIG
    url, _, _ = _where(runtime.settings)
    _echo(f"ok: config {runtime.settings.source or '(environment)'}, credentials, state database and mapping "
          f"{runtime.fieldmap.source} fit the live {runtime.provider.value} CRM at {url}")
    return EXIT_OK


def missing_permissions(provider: Provider, adapter: ObservedAdapter) -> list[str]:
    """Permissions (HubSpot scopes, Salesforce object and field rights) the credentials lack, by
    name, from the adapter's permissions module (connector/<crm>/permissions.py)."""
    try:
        module = importlib.import_module(f"connector.{provider.value}.permissions")
    except ImportError:
        return []
    return list(module.missing_permissions(adapter._adapter))


def setup_command(config_path: Path) -> int:
    runtime = load_runtime(config_path)
    with runtime.adapter() as adapter:
        if not isinstance(adapter._adapter, SupportsSetup):
            raise CommandFailed(f"the {runtime.provider.value} adapter cannot set up fields", EXIT_CONFIG)
        lines = adapter.setup()
    for line in lines:
        _echo(line)
    return EXIT_OK


def _echo_err(text: str) -> None:
    click.echo(logs.redact(text), err=True)


# ---------------------------------------------------------------------------------------------
# status


def status_command(config_path: Path, limit: int, fmt: str) -> int:
    runtime = load_runtime(config_path)
    with runtime.store() as store:
        runs = store.recent_runs(runtime.scope, limit)
        rejected = store.rejected(runtime.scope)
        cursors = {job: store.get_cursor(runtime.scope, job) for job in JOBS}
        waiting = [_nps_waiting(r) for r in store.nps_to_retry(runtime.scope)]
    if fmt == "json":
        body = {"scope": runtime.scope, "cursors": {job: _jsonable(c) for job, c in cursors.items()},
                "runs": [_jsonable(r) for r in runs], "rejected": [_jsonable(r) for r in rejected],
                "nps_waiting": waiting}
        _echo(json.dumps(logs.redact_value(body), indent=2, ensure_ascii=False, default=str))
        return EXIT_OK
    console = _console()
    console.print(f"[bold]{runtime.scope}[/]")
    for job, cursor in cursors.items():
        where = f"after {cursor.modified.isoformat()} / deal {cursor.deal_id}" if cursor else "not started yet"
        console.print(f"  {job} cursor: {where}")
    console.print(_runs_table(runs))
    console.print(f"{len(rejected)} rejected record(s) waiting for a retry" + (":" if rejected else "."))
    for row in rejected:
        console.print(f"  deal {row.deal_id} {row.key}: {row.reason or 'no reason given'} "
                      f"[{row.error_code or 'no code'}] (attempts {row.attempts}, last {row.last_seen:%Y-%m-%d %H:%M})",
                      highlight=False)
    if waiting:
        console.print(f"{len(waiting)} NPS response(s) not written back yet (retried each NPS run):")
        for item in waiting:
            console.print(f"  response {item['response_id']} ({item['status']}): {item['reason'] or 'no reason given'} "
                          f"(attempts {item['attempts']})", highlight=False)
    return EXIT_OK


def history_command(config_path: Path, fmt: str, *, run_id: int | None = None, deal_id: str | None = None) -> int:
    """``status --run N`` / ``status --deal ID``: the per-record outcomes the store keeps."""
    runtime = load_runtime(config_path)
    with runtime.store() as store:
        if run_id is not None:
            run = store.run_summary(runtime.scope, run_id)
            if run is None:
                _echo_err(f"error: no run {run_id} in {runtime.scope} (it never existed, or was pruned); "
                          "`afterclose status` lists the recent runs")
                return EXIT_CONFIG
            records = store.run_records(run_id)
            title = (f"Run {run.id} ({run.job}, started {run.started_at:%Y-%m-%d %H:%M:%S} UTC, "
                     f"{run.outcome.value if run.outcome else 'running'}): {len(records)} record(s)")
        else:
            records = store.deal_history(runtime.scope, deal_id or "")
            title = f"Deal {deal_id}: {len(records)} record(s) in the runs kept, newest run first"
    if fmt == "json":
        body = {"scope": runtime.scope, "run": run_id, "deal": deal_id, "records": [_jsonable(r) for r in records]}
        _echo(json.dumps(logs.redact_value(body), indent=2, ensure_ascii=False, default=str))
        return EXIT_OK
    console = _console()
    console.print(title, highlight=False)
    if not records:
        return EXIT_OK
    table = Table(show_header=True)
    for column in ("run", "deal", "key", "action", "outcome", "what the CRM or the planner said"):
        table.add_column(column, overflow="fold")
    for record in records:
        said = record.message or ""
        if record.error_code:
            said += f" [{record.error_code}]"
        table.add_row(str(record.run_id), record.deal_id, record.key, record.action_kind, record.outcome.value, said)
    console.print(table)
    return EXIT_OK


def _nps_waiting(stored) -> dict[str, Any]:
    """A stored NPS response as status shows it (the reason names what did not match)."""
    return {"response_id": stored.response.response_id, "status": stored.status.value, "reason": stored.reason,
            "account_id": stored.account_id, "attempts": stored.attempts, "last_seen": stored.last_seen.isoformat()}


def _runs_table(runs) -> Table:
    table = Table(title="Recent runs", title_justify="left")
    for column in ("run", "job", "started (UTC)", "took", "outcome", "records", "API calls"):
        table.add_column(column)
    for run in runs:
        took = f"{(run.finished_at - run.started_at).total_seconds():.1f}s" if run.finished_at else ""
        outcome = (run.outcome.value if run.outcome else "running") + (" (dry run)" if run.dry_run else "")
        if run.error:
            outcome += f": {run.error}"
        table.add_row(str(run.id), run.job, f"{run.started_at:%Y-%m-%d %H:%M:%S}", took, outcome,
                      ", ".join(f"{k} {v}" for k, v in sorted((run.counts or {}).items())), str(run.api_calls))
    return table


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if dataclasses.is_dataclass(value):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# ---------------------------------------------------------------------------------------------
# one scheduled run (for `serve`)


def scheduled_run(runtime: Runtime, job: str, should_stop: Callable[[], bool]) -> JobResult:
    """One tick of ``serve``; CRM and config errors propagate for the scheduler to record."""
    return run_job(runtime, job, should_stop, required=False)


__all__ = ["Runtime", "JobResult", "ObservedAdapter", "CommandFailed", "exit_code_of", "load_runtime",
           "run_command", "run_job", "plan_command", "plan_summary", "action_json", "check_command",
           "setup_command", "status_command", "scheduled_run", "JOBS"]
