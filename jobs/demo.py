"""`afterclose demo`: the whole pipeline against a sandbox CRM, twice, with no account and no config.

It starts the sandbox with the demo data set, runs the real adapter, the real planner and a
throw-away SQLite state store, shows what happened, then runs again to show that nothing is
created twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from connector.actions import ActionKind, CreateTask, UpdateRecord
from connector.mapping import builtin_mapping, load_mapping
from connector.model import Provider
from connector.retry import RetrySettings
from connector.sandbox.demo import DemoDataset, demo_dataset
from jobs.ledger import StateStore
from jobs.playbook import DEFAULT_PLAYBOOK
from jobs.sync import SyncJob, SyncReport, run_sync


def run_demo(provider: str, console: Console | None = None, anchor: dt.date | None = None) -> int:
    console = console or Console()
    data = demo_dataset(anchor)
    console.rule(f"[bold]AfterClose demo[/] - {provider} sandbox")
    console.print(f"Demo CRM: {len(data.deals)} deals ({len(data.won_deals())} won), "
                  f"{len(data.companies)} companies, {len(data.contacts)} contacts, {len(data.owners)} owners.")
    with tempfile.TemporaryDirectory(prefix="afterclose-demo-") as tmp, _sandbox(provider, data) as (adapter, fieldmap, names):
        store = StateStore.open(f"sqlite:///{Path(tmp) / 'state.db'}")
        try:
            console.print("\n[bold]afterclose setup[/]: AfterClose's own CRM fields")
            lines = adapter.setup()
            for line in lines:
                if not line.startswith("exists"):
                    console.print(f"  {line}")
            console.print(f"  {sum(1 for line in lines if line.startswith('exists'))} fields already there")
            job = SyncJob(scope=f"{provider}:demo", adapter=adapter, store=store,
                          fieldmap=fieldmap, playbook=DEFAULT_PLAYBOOK,
                          clock=lambda: dt.datetime.now(dt.timezone.utc))
            first = run_sync(job)
            calls_first = adapter.call_stats().total
            _show_first_run(console, first, names, calls_first)
            second = run_sync(job)
            _show_second_run(console, second, adapter.call_stats().total - calls_first)
        finally:
            store.close()
    return 0


@contextlib.contextmanager
def _sandbox(provider: str, data: DemoDataset) -> Iterator[tuple[object, object, dict[str, str]]]:
    fieldmap = load_mapping(builtin_mapping(Provider(provider)))
    if provider == "hubspot":
        from connector.hubspot.adapter import HubSpotAdapter
        from connector.hubspot.settings import HubSpotSettings
        from connector.sandbox.hubspot import HubSpotSandbox

        sandbox = HubSpotSandbox()
        sandbox.load(data)
        with sandbox.serve() as ep:
            adapter = HubSpotAdapter(settings=HubSpotSettings(access_token=ep.token, base_url=ep.base_url),
                                     fieldmap=fieldmap, retry=RetrySettings())
            try:
                yield adapter, fieldmap, _owner_names(data, sandbox.demo_ids["owners"])
            finally:
                adapter.close()
    else:
        from connector.salesforce.adapter import SalesforceAdapter
        from connector.salesforce.settings import SalesforceSettings
        from connector.sandbox.salesforce import SalesforceSandbox

        sandbox = SalesforceSandbox()
        sandbox.load(data)
        with sandbox.serve() as ep:
            settings = SalesforceSettings(instance_url=ep.base_url, access_token=ep.token, ca_bundle=str(ep.ca_path))
            adapter = SalesforceAdapter(settings=settings, fieldmap=fieldmap, retry=RetrySettings())
            try:
                yield adapter, fieldmap, _owner_names(data, sandbox.demo_ids["User"])
            finally:
                adapter.close()


def _owner_names(data: DemoDataset, ids_by_key: dict[int, str]) -> dict[str, str]:
    return {ids_by_key[o.key]: f"{o.first_name} {o.last_name}" for o in data.owners if o.key in ids_by_key}


def _show_first_run(console: Console, report: SyncReport, owners: dict[str, str], calls: int) -> None:
    creates = [a for a in report.plan_actions if isinstance(a, CreateTask)]
    writes = [a for a in report.plan_actions if isinstance(a, UpdateRecord)]
    skips = [a for a in report.plan_actions if a.kind is ActionKind.SKIP]
    console.print(f"\n[bold]Run 1[/]: pulled {report.deals_seen} won deals, {calls} API calls.")
    by_tp = Counter(a.spec.touch_point for a in creates)
    by_owner = Counter(owners.get(a.spec.owner_id or "", a.spec.owner_id or "(none)") for a in creates)
    console.print(_counter_table("Tasks planned by touch point", "touch point", by_tp))
    console.print(_counter_table("Tasks planned by owner", "owner", by_owner))
    incomplete = [a for a in writes if a.update.values.get("handoff_status") == "incomplete"]
    console.print(f"Handoff write-backs: {len(writes)} deals "
                  f"({len(incomplete)} incomplete, {len(writes) - len(incomplete)} complete).")
    for action in incomplete[:6]:
        console.print(f"  - deal {action.deal_id}: missing {action.update.values.get('handoff_missing')}")
    console.print(f"Skipped (catch-up rule, too far overdue to be useful): {len(skips)}")
    console.print(_counter_table("What the CRM did", "outcome", report.outcomes))
    for result in report.rejected[:5]:
        console.print(f"  [yellow]rejected[/] {getattr(result.action, 'key', '')}: {result.message}")
    if report.rejected:
        console.print("  Rejected records are kept and retried on the next run (exit code 1).")


def _show_second_run(console: Console, report: SyncReport, calls: int) -> None:
    created = report.outcomes.get("created", 0)
    written = sum(1 for a in report.plan_actions if isinstance(a, UpdateRecord))
    console.print(f"\n[bold]Run 2[/] (same CRM, nothing changed): {created} tasks created, "
                  f"{written} fields written, {calls} API calls.")
    console.print("[green]Nothing was created twice.[/]" if created == 0 else "[red]Duplicates were created![/]")


def _counter_table(title: str, label: str, counts: Counter) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    table.add_column("count", justify="right")
    for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        table.add_row(str(name), str(count))
    return table
