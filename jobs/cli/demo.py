"""`afterclose demo`: AfterClose end to end against a loopback sandbox CRM.

The demo starts a sandbox with the demo data set, points the real adapter, the real planner and a
throw-away SQLite state store at it, shows what happened (deals by name, owners by name), then
runs again to show that nothing is created twice. When the NPS job is installed it then feeds the
demo's survey answers through it. Log events are silenced: the demo tells its own story, and log
lines would interleave with its tables.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from connector.actions import ActionKind, CreateTask, UpdateRecord
from connector.mapping import FieldMap, builtin_mapping, load_mapping
from connector.model import Provider
from connector.port import CrmAdapter, SupportsSetup
from connector.sandbox import SandboxEndpoint
from connector.sandbox.demo import DemoDataset, demo_dataset
from jobs import logs
from jobs.cli.output import add_text_row, text
from jobs.cli.runtime import CrmSession
from jobs.config import Settings
from jobs.core.nps import DETRACTOR_TOUCH_POINT, REFERRAL_ASK_TOUCH_POINT
from jobs.playbooks import Playbooks, build_playbooks
from jobs.scopes import resolve_scope
from jobs.state import StateStore, open_store
from jobs.sync import SyncJob, SyncReport, run_sync
from jobs.wiring import address_of, wiring

SHOWN = 6
"""Examples listed per section: enough to see the point, few enough to read."""


def run_demo(provider: str, console: Console | None = None, anchor: dt.date | None = None, *,
             with_console: bool = False) -> int:
    logs.silence()
    console = console or Console(markup=False, emoji=False, highlight=False)
    data = demo_dataset(anchor)
    console.rule(text(("AfterClose demo", "bold"), f" - {provider} sandbox"))
    console.print(text(f"A demo CRM with {len(data.deals)} deals ({len(data.won_deals())} won), "
                       f"{len(data.companies)} companies, {len(data.contacts)} contacts "
                       f"and {len(data.owners)} owners."))
    with tempfile.TemporaryDirectory(prefix="afterclose-demo-") as tmp, \
            _sandbox(provider, data) as (endpoint, session, fieldmap, owners), \
            open_store(f"sqlite:///{Path(tmp) / 'state.db'}") as store:
        _show_setup(console, _setup(session.adapter))
        playbooks = build_playbooks(_demo_settings(endpoint), fieldmap)
        # The scope a config pointing at this sandbox finds (jobs/scopes.py): the console sees these runs.
        scope = resolve_scope(store, session.adapter, provider=provider, address=address_of(_demo_settings(endpoint)))
        job = SyncJob(scope=scope, adapter=session.adapter, store=store, fieldmap=fieldmap,
                      playbook=playbooks.set, clock=lambda: dt.datetime.now(dt.UTC),
                      on_page=session.observe)
        first = run_sync(job)
        calls_first = session.adapter.call_stats().total
        _show_first_run(console, first, _name_of(session), owners, calls_first)
        _show_playbooks(console, first, playbooks, _name_of(session))
        _show_one_task(console, first, _name_of(session), owners)
        second = run_sync(job)
        _show_second_run(console, second, session.adapter.call_stats().total - calls_first)
        _show_nps(console, endpoint, session, store, fieldmap, data, Path(tmp), scope)
        if with_console:
            return _serve_console(console, endpoint, Path(tmp))
    console.print(text("\nNext: ", (f"afterclose sandbox {provider}", "bold"), " starts this CRM for you to point a "
                       "config at; then ", ("afterclose check", "bold"), ", ", ("plan", "bold"), " and ",
                       ("run", "bold"), "."))
    console.print(text("See it in a browser: ", (f"afterclose demo --provider {provider} --console", "bold"),
                       " runs this demo, then opens the admin console on its sandbox (mappings, playbooks, a preview "
                       "of the next run, runs and the handoff scorecard) and prints its address and a sign-in "
                       "token."))
    return 0


def _serve_console(console: Console, endpoint: SandboxEndpoint, tmp: Path) -> int:
    """The admin console on the demo's sandbox and state, with editable copies of the built-in
    mapping and playbooks, until Ctrl-C or SIGTERM."""
    import secrets
    import signal
    import threading

    from jobs.cli.console import console_running, sign_in_lines

    config = write_demo_config(endpoint, tmp)
    token = secrets.token_urlsafe(24)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    settings = Settings.load(config)
    with console_running(config, settings.console, store_url=settings.state.url, one_time_token=token,
                         port=0) as address:
        console.print(text("\n", ("Admin console", "bold"), f" on this demo's sandbox ({config}):"))
        for line in sign_in_lines(address, token):
            console.print(text(f"  {line}"), soft_wrap=True)
        console.file.flush()
        stop.wait()
    console.print(text("console and sandbox stopped"))
    return 0


def write_demo_config(endpoint: SandboxEndpoint, folder: Path) -> Path:
    """A config pointing at the sandbox and the demo's state, with copies of the built-in mapping
    and playbook files the console may edit."""
    import shutil

    import tomlkit

    from jobs.playbooks import builtin_playbooks_file

    provider = endpoint.provider
    mapping = Path(shutil.copy(builtin_mapping(Provider(provider)), folder / f"{provider}.toml"))
    playbooks = Path(shutil.copy(builtin_playbooks_file(provider), folder / f"{provider}.playbooks.toml"))
    config = {"crm": {"provider": provider, "mapping": str(mapping)},
              provider: wiring(provider).sandbox_settings(endpoint),
              "state": {"url": f"sqlite:///{folder / 'state.db'}"},
              "playbook": {"file": str(playbooks)}, "log": {"level": "warning"}}
    path = folder / "afterclose.toml"
    path.write_text(tomlkit.dumps(config), encoding="utf-8")
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def _sandbox(provider: str, data: DemoDataset) -> Iterator[tuple[SandboxEndpoint, CrmSession, FieldMap,
                                                                 dict[str, str]]]:
    fieldmap = load_mapping(builtin_mapping(Provider(provider)))
    wired = wiring(provider)
    sandbox = wired.new_sandbox("sandbox-token")
    sandbox.load(data)
    with sandbox.serve() as endpoint:
        session = CrmSession(adapter=wired.build_adapter(_demo_settings(endpoint), fieldmap), fieldmap=fieldmap)
        try:
            yield endpoint, session, fieldmap, _owner_names(data, sandbox.demo_ids.get(wired.demo_owner_ids, {}))
        finally:
            session.adapter.close()


def _setup(adapter: CrmAdapter) -> list[str]:
    return adapter.setup() if isinstance(adapter, SupportsSetup) else []


def _name_of(session: CrmSession) -> Callable[[str], str]:
    """Deals by name (the demo's ids mean nothing to a reader)."""
    return lambda deal_id: session.deal_names.get(deal_id, deal_id)


def _owner_names(data: DemoDataset, ids_by_key: dict[int, str]) -> dict[str, str]:
    return {ids_by_key[o.key]: f"{o.first_name} {o.last_name}" for o in data.owners if o.key in ids_by_key}


# ---------------------------------------------------------------------------------------------
# What the demo shows


def _show_setup(console: Console, lines: list[str]) -> None:
    console.print(text("\n", ("afterclose setup", "bold"), ": AfterClose's own CRM fields"))
    there = [line for line in lines if "exists" in line]
    for line in (line for line in lines if "exists" not in line):
        console.print(text(f"  {line}"))
    console.print(text(f"  {len(there)} fields already there"))


def _show_first_run(console: Console, report: SyncReport, deal_label, owners: dict[str, str], calls: int) -> None:
    creates = [a for a in report.plan_actions if isinstance(a, CreateTask)]
    writes = [a for a in report.plan_actions if isinstance(a, UpdateRecord)]
    skips = [a for a in report.plan_actions if a.kind is ActionKind.SKIP]
    console.print(text("\n", ("Run 1", "bold"), f": {report.deals_seen} won deals read, {calls} API calls."))
    by_tp = Counter(a.spec.touch_point for a in creates)
    by_owner = Counter(owners.get(a.spec.owner_id or "", a.spec.owner_id or "(no owner)") for a in creates)
    console.print(_counter_table("Tasks planned, by touch point", "touch point", by_tp))
    console.print(_counter_table("Tasks planned, by owner", "owner", by_owner))
    incomplete = [a for a in writes if a.update.values.get("handoff_status") == "incomplete"]
    console.print(text(f"Handoff checked on {len(writes)} deals: {len(writes) - len(incomplete)} complete, "
                       f"{len(incomplete)} incomplete (status and missing fields written to the deal, "
                       f"one task to the owner to fill them in):"))
    for action in incomplete[:SHOWN]:
        console.print(text(f"  - {deal_label(action.deal_id)}: missing {action.update.values.get('handoff_missing')}"))
    _more(console, incomplete)
    console.print(text(f"Skipped {len(skips)} touch points already too far overdue to be useful (catch-up rule)."))
    console.print(_counter_table("What the CRM did", "outcome", report.outcomes))
    _show_rejected(console, report.rejected, deal_label)


def _show_playbooks(console: Console, report: SyncReport, playbooks: Playbooks, deal_label) -> None:
    """Deals per playbook, and the customers whose renewal deal took over their renewals."""
    console.print(_counter_table("Deals per playbook", "playbook", report.playbook_counts))
    console.print(text(f"Each deal gets the first playbook whose condition holds ({Path(playbooks.source).name}):"))
    for segment in playbooks.set.describe():
        console.print(text(f"  {segment}"))
    renewals = [deal_id for deal_id, playbook in report.playbooks.items() if _is_renewal(playbooks, playbook)]
    taken = [a for a in report.plan_actions if isinstance(a, CreateTask) and a.deal_id in renewals
             and a.spec.touch_point.startswith("renewal_")]
    if taken:
        owners = sorted({deal_label(a.deal_id) for a in taken})
        console.print(text(f"Renewal deals carry their customer's renewal ladder ({', '.join(owners[:SHOWN])}); "
                           "the customer's earlier deals plan no second one."))


def _is_renewal(playbooks: Playbooks, playbook_id: str) -> bool:
    return any(p.id == playbook_id and p.renewal_deal for p in playbooks.set.playbooks)


def _show_one_task(console: Console, report: SyncReport, deal_label, owners: dict[str, str]) -> None:
    """One task as the rep sees it in the CRM: subject, due date, owner and body."""
    task = next((a.spec for a in report.plan_actions if isinstance(a, CreateTask) and a.spec.touch_point == "kickoff"),
                None)
    if task is None:
        return
    owner = owners.get(task.owner_id or "", task.owner_id or "(no owner)")
    console.print(text("\n", ("One task as the rep sees it", "bold"), f" (deal {deal_label(task.deal_id)}):"))
    console.print(text(f"  Subject: {task.subject}"))
    console.print(text(f"  Due: {task.due_at:%Y-%m-%d %H:%M %Z}   Owner: {owner}   Priority: {task.priority.value}"))
    for line in task.body.strip().splitlines():
        console.print(text(f"  | {line}"))


def _show_rejected(console: Console, rejected: list, deal_label) -> None:
    if not rejected:
        return
    console.print(text((f"{len(rejected)} records rejected by the CRM", "yellow"),
                       ", kept and retried on the next run (`afterclose run` exits 1):"))
    by_reason = Counter((deal_label(r.action.deal_id), r.message) for r in rejected)
    for (deal, message), count in list(by_reason.items())[:SHOWN]:
        console.print(text(f"  - {deal}: {count} task(s): {message}"))
    console.print(text("  (A deal owner who has left? `[playbook] fallback_owner` gives their tasks to someone else; "
                       "`afterclose status --deal ID` shows what every run did to a deal.)"))


def _show_second_run(console: Console, report: SyncReport, calls: int) -> None:
    created = report.outcomes.get("created", 0)
    updated = report.outcomes.get("updated", 0)
    console.print(text("\n", ("Run 2", "bold"), f" (same CRM, nothing changed): {created} tasks created, {updated} "
                       f"records updated, {len(report.rejected)} retried and still rejected, {calls} API calls."))
    console.print(text(("Nothing was created twice.", "green") if created == 0 else ("Duplicates were created!",
                                                                                     "red")))


def _show_nps(console: Console, endpoint: SandboxEndpoint, session: CrmSession, store: StateStore,
              fieldmap: FieldMap, data: DemoDataset, tmp: Path, scope: str) -> None:
    """The demo data's survey answers, from a CSV file, through the NPS job."""
    from jobs import nps

    csv_path = tmp / "nps.csv"
    nps.write_demo_csv(data, csv_path)
    settings = _demo_settings(endpoint, csv_path)
    job = nps.build_nps_job(settings, session.adapter, store, fieldmap, scope,
                            lambda: dt.datetime.now(dt.UTC))
    if job is None:
        return
    report = nps.run_nps(job)
    console.print(text("\n", ("NPS", "bold"), f": {len(data.nps_responses)} survey answers read from a CSV file."))
    categories = Counter(_category(r.score) for r in data.nps_responses)
    unmatched = len(report.unmatched)
    console.print(text(f"  {categories['promoter']} promoters, {categories['passive']} passives, "
                       f"{categories['detractor']} detractors; {len(data.nps_responses) - unmatched} matched to a "
                       "customer" + (f", {unmatched} unmatched (kept, retried next run)." if unmatched else ".")))
    tasks = Counter(_task_kind(a.spec.touch_point) for a in report.plan_actions if isinstance(a, CreateTask))
    console.print(text(f"  {tasks.get(REFERRAL_ASK_TOUCH_POINT, 0)} 'ask for a referral' tasks for promoters' "
                       f"owners, {tasks.get(DETRACTOR_TOUCH_POINT, 0)} high-priority follow-ups for detractors; "
                       f"{report.outcomes.get('updated', 0)} records got their score, category, date and referral "
                       "status."))
    _show_rejected(console, report.rejected, _name_of(session))


def _task_kind(touch_point: str) -> str:
    """NPS task touch points are the kind plus the response's digest (one task per response)."""
    return next((kind for kind in (REFERRAL_ASK_TOUCH_POINT, DETRACTOR_TOUCH_POINT)
                 if touch_point.startswith(f"{kind}_")), touch_point)


def _category(score: int) -> str:
    # The NPS definition (docs/nps.md): 9-10 promoters, 7-8 passives, 0-6 detractors.
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _demo_settings(endpoint: SandboxEndpoint, csv_path: Path | None = None) -> Settings:
    """Settings pointing at the demo's sandbox (and, for the NPS part, its survey CSV)."""
    nps = {"nps": {"source": "csv", "path": str(csv_path)}} if csv_path else {}
    return Settings.from_mapping({"crm": {"provider": endpoint.provider},
                                  endpoint.provider: wiring(endpoint.provider).sandbox_settings(endpoint), **nps},
                                 source="demo")


def _more(console: Console, items: list) -> None:
    if len(items) > SHOWN:
        console.print(text(f"  ... and {len(items) - SHOWN} more"))


def _counter_table(title: str, label: str, counts: Counter) -> Table:
    table = Table(title=text(title), title_justify="left")
    table.add_column(text(label))
    table.add_column(text("count"), justify="right")
    for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        add_text_row(table, name, count)
    return table
