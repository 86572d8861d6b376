"""What each CLI command does, kept apart from argument parsing (jobs/cli.py).

``load_runtime`` validates the config, the mapping and the playbook once, before any CRM call;
every command then opens the adapter and the state store it needs and closes them on the way out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from connector.actions import Action, ActionKind, ActionResult, CreateTask, UpdateRecord, UpdateTask
from connector.mapping import FieldMap, builtin_mapping, load_mapping
from connector.model import Provider
from connector.port import CrmAdapter
from jobs import logs, metrics
from jobs.config import Settings
from jobs.ledger import StateStore
from jobs.playbook import Playbook
from jobs.sync import SyncJob, SyncReport, check_schema_or_raise, run_sync
from jobs.wiring import build_adapter, build_playbook, scope_of

log = logs.get_logger("afterclose")


@dataclass(frozen=True, kw_only=True)
class Runtime:
    settings: Settings
    fieldmap: FieldMap
    playbook: Playbook
    scope: str

    @contextlib.contextmanager
    def open(self, *, with_store: bool = True) -> Iterator[tuple[CrmAdapter, StateStore | None]]:
        adapter = build_adapter(self.settings, self.fieldmap)
        store = StateStore.open(self.settings.state.url) if with_store else None
        try:
            yield adapter, store
        finally:
            adapter.close()
            if store is not None:
                store.close()

    def sync_job(self, adapter: CrmAdapter, store: StateStore, should_stop: Callable[[], bool] = lambda: False):
        return SyncJob(scope=self.scope, adapter=adapter, store=store, fieldmap=self.fieldmap,
                       playbook=self.playbook, clock=lambda: dt.datetime.now(dt.timezone.utc),
                       should_stop=should_stop)


def load_runtime(config_path: Path) -> Runtime:
    settings = Settings.load(config_path)
    logs.configure(settings.log.level, settings.log.format)
    logs.register_secrets(settings.secret_values())
    provider = Provider(settings.crm.provider)
    fieldmap = load_mapping(settings.crm.mapping or builtin_mapping(provider))
    return Runtime(settings=settings, fieldmap=fieldmap, playbook=build_playbook(settings), scope=scope_of(settings))


def run_command(config_path: Path, job: str) -> int:
    runtime = load_runtime(config_path)
    with runtime.open() as (adapter, store):
        report = run_sync(runtime.sync_job(adapter, store))
        _echo_run_summary(report, adapter)
        return report.exit_code


def execute_job(runtime: Runtime, job: str, should_stop: Callable[[], bool]) -> str:
    """One scheduled run (for `serve`): returns the outcome recorded in metrics and /healthz."""
    with runtime.open() as (adapter, store):
        report = run_sync(runtime.sync_job(adapter, store, should_stop))
        _observe(report, adapter, job)
        return "rejected" if report.rejected else "ok"


def _observe(report: SyncReport, adapter: CrmAdapter, job: str) -> None:
    for outcome, count in report.outcomes.items():
        metrics.RECORDS.labels(job=job, outcome=outcome).inc(count)
    stats = adapter.call_stats()
    for endpoint, count in stats.by_endpoint.items():
        metrics.API_CALLS.labels(endpoint=endpoint).inc(count)
    metrics.RATE_LIMIT_WAIT.inc(stats.rate_limit_wait_seconds)
    metrics.LAST_SUCCESS.labels(job=job).set(dt.datetime.now(dt.timezone.utc).timestamp())


def _echo_run_summary(report: SyncReport, adapter: CrmAdapter) -> None:
    stats = adapter.call_stats()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items())) or "nothing to do"
    click.echo(f"run {report.run_id}: {report.deals_seen} deals; {counts}; {stats.total} API calls")
    for result in report.rejected:
        click.echo(f"  rejected {_describe_target(result)}: {result.message} "
                   f"[{result.error_code or 'no code'}] (kept, retried next run)")
    log.info("run_finished", run_id=report.run_id, deals=report.deals_seen, outcomes=dict(report.outcomes),
             api_calls=stats.total, rejected=len(report.rejected))


def _describe_target(result: ActionResult) -> str:
    action = result.action
    return f"deal {action.deal_id} {getattr(action, 'key', '')}".strip()


def plan_command(config_path: Path, fmt: str, job: str) -> int:
    runtime = load_runtime(config_path)
    with runtime.open() as (adapter, store):
        report = run_sync(runtime.sync_job(adapter, store), dry_run=True)
        reads = adapter.call_stats().total
        writes = adapter.estimate_write_calls(report.plan_actions)
    summary = {kind.value: sum(1 for a in report.plan_actions if a.kind is kind) for kind in ActionKind}
    summary |= {"deals": report.deals_seen, "api_calls_reads": reads, "api_calls_writes_estimate": writes,
                "api_calls_estimate": reads + writes}
    if fmt == "json":
        click.echo(json.dumps({"actions": [action_json(a) for a in report.plan_actions], "summary": summary},
                              indent=2, ensure_ascii=False, default=str))
    else:
        _print_plan_table(report.plan_actions, summary)
    return 0


def action_json(action: Action) -> dict:
    out = {"kind": action.kind.value, "deal_id": action.deal_id, "key": getattr(action, "key", None),
           "reason": action.reason}
    if isinstance(action, (CreateTask, UpdateTask)):
        spec = action.spec
        out |= {"touch_point": spec.touch_point, "subject": spec.subject, "due": spec.due_at.isoformat(),
                "owner_id": spec.owner_id, "priority": spec.priority.value, "type": spec.type.value,
                "company_id": spec.company_id, "contact_id": spec.contact_id}
    if isinstance(action, UpdateTask):
        out["changes"] = list(action.changes)
    if isinstance(action, UpdateRecord):
        out |= {"record": action.update.kind.value, "record_id": action.update.record_id,
                "values": dict(action.update.values)}
    return out


def _print_plan_table(actions: list[Action], summary: dict) -> None:
    console = Console()
    by_deal: dict[str, list[Action]] = defaultdict(list)
    for action in actions:
        by_deal[action.deal_id].append(action)
    table = Table(title="What `afterclose run` would do (nothing has been written)", title_justify="left")
    for column in ("deal", "action", "what", "due", "why"):
        table.add_column(column, overflow="fold")
    for deal_id, items in by_deal.items():
        for n, action in enumerate(items):
            table.add_row(deal_id if n == 0 else "", action.kind.value, _what(action), _due(action), action.reason)
    console.print(table)
    console.print(" · ".join(f"{k}: {v}" for k, v in summary.items()))


def _what(action: Action) -> str:
    if isinstance(action, (CreateTask, UpdateTask)):
        return action.spec.subject
    if isinstance(action, UpdateRecord):
        return ", ".join(f"{k}={v!r}" for k, v in action.update.values.items())
    return getattr(action, "key", "")


def _due(action: Action) -> str:
    return action.spec.due_date.isoformat() if isinstance(action, (CreateTask, UpdateTask)) else ""


def check_command(config_path: Path) -> int:
    runtime = load_runtime(config_path)
    problems = [f"warning: {w}" for w in runtime.settings.file_warnings()]
    for warning in problems:
        click.echo(warning)
    with runtime.open(with_store=False) as (adapter, _):
        check_schema_or_raise(runtime.sync_job(adapter, None))  # type: ignore[arg-type]
    click.echo(f"ok: config, credentials and mapping ({runtime.fieldmap.source}) fit the live {runtime.scope}")
    return 0


def setup_command(config_path: Path) -> int:
    runtime = load_runtime(config_path)
    with runtime.open(with_store=False) as (adapter, _):
        for line in adapter.setup():
            click.echo(line)
    return 0


def status_command(config_path: Path, limit: int, fmt: str) -> int:
    settings = Settings.load(config_path)
    scope = scope_of(settings)
    store = StateStore.open(settings.state.url)
    try:
        runs = store.recent_runs(scope, limit)
        rejected = store.rejected(scope)
        cursor = store.get_cursor(scope, "sync")
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps({"scope": scope, "cursor": cursor, "runs": runs, "rejected": rejected},
                              default=_jsonable, indent=2, ensure_ascii=False))
        return 0
    console = Console()
    console.print(f"scope {scope}; sync cursor: {cursor.modified.isoformat() + ' / ' + cursor.deal_id if cursor else 'none yet'}")
    table = Table(title="Recent runs", title_justify="left")
    for column in ("run", "job", "started", "finished", "outcome", "counts", "api calls"):
        table.add_column(column)
    for run in runs:
        table.add_row(str(run.id), run.job, str(run.started_at), str(run.finished_at or ""), run.outcome or "running",
                      ", ".join(f"{k} {v}" for k, v in (run.counts or {}).items()), str(run.api_calls or 0))
    console.print(table)
    console.print(f"{len(rejected)} rejected record(s) waiting for a retry" + (":" if rejected else "."))
    for row in rejected:
        console.print(f"  deal {row.deal_id} {row.key or ''}: {row.reason} (attempts {row.attempts})")
    return 0


def _jsonable(obj):
    if hasattr(obj, "__dataclass_fields__"):
        return {k: getattr(obj, k) for k in obj.__dataclass_fields__}
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    return str(obj)


__all__ = ["Counter", "load_runtime", "run_command", "plan_command", "check_command", "setup_command",
           "status_command", "execute_job"]
