"""`afterclose plan`: the dry run. Read the CRM, make no write call, print what `run` would do and
how many API calls that run would spend."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from connector.actions import Action, ActionKind, CloseTask, CreateDeal, CreateTask, UpdateRecord, UpdateTask
from connector.errors import ConfigError
from connector.port import SupportsEstimate
from jobs.cli.exits import ExitCode
from jobs.cli.output import add_text_row, console, echo, text
from jobs.cli.run import jobs_of
from jobs.cli.runtime import CrmSession, Runtime, load_runtime, progress_for
from jobs.nps import run_nps
from jobs.schema_fit import Skipped
from jobs.state import StateStore
from jobs.sync import JOB as SYNC_JOB
from jobs.sync import RELEARN, SyncReport, run_sync


@dataclass(frozen=True, kw_only=True)
class PlannedAction:
    job: str
    action: Action
    deal_name: str | None
    owner_name: str | None = None
    """Whom the task goes to, by name, when the owner is a deal owner read in this plan."""
    later: bool = False
    """`run` applies it at its end, with the deals decided again (jobs/sync/customers.py)."""


def plan_command(config_path: Path, fmt: str, job: str) -> int:
    runtime = load_runtime(config_path)
    planned: list[PlannedAction] = []
    deals = 0
    skipped_jobs = []
    sync_report: SyncReport | None = None
    with runtime.store() as store, runtime.crm() as session:
        session.preflight(runtime.configured_jobs(jobs_of(job)))
        with progress_for(session, "plan"):
            for name in jobs_of(job):
                actions, seen, report = _plan_job(runtime, name, session, store, required=job != "all")
                if actions is None:
                    skipped_jobs.append(name)
                    continue
                deals += seen
                sync_report = report or sync_report
                later = report.applied_later if report else set()
                planned += [PlannedAction(job=name, action=a, deal_name=session.deal_names.get(a.deal_id),
                                          owner_name=_owner_name(a, session.owner_names), later=a.key in later)
                            for a in actions]
        reads = session.adapter.call_stats().total
        writes = _estimate_writes(session, planned)
        extra_reads = _first_run_reads(runtime.scope_of(session, store), store) if "sync" in jobs_of(job) else 0
    summary = plan_summary([p.action for p in planned], deals=deals, reads=reads, writes=writes,
                           extra_reads=extra_reads)
    if sync_report is not None and len(runtime.playbooks.set.segments) > 1:
        summary["playbooks"] = dict(sorted(sync_report.playbook_counts.items()))
    if skipped_jobs:
        summary["not_configured"] = skipped_jobs
    # One entry per target (field and CRM field), whichever jobs skip it and however each words why.
    skipped_targets: dict[tuple[str, str], tuple[Skipped, list[str]]] = {}
    for name in jobs_of(job):
        for skipped in session.skipped_of(name):
            skipped_targets.setdefault((skipped.key, skipped.crm_field), (skipped, []))[1].append(name)
    if skipped_targets:
        summary["skipped_optional_targets"] = [str(s) for s, _ in skipped_targets.values()]
        summary["skipped_optional_target_jobs"] = {str(s): jobs for s, jobs in skipped_targets.values()}
    choices = playbook_rows(sync_report, session.deal_names) if sync_report else []
    if fmt == "json":
        body = {"actions": [action_json(p.action, job=p.job, deal_name=p.deal_name, owner_name=p.owner_name)
                            for p in planned],
                "deals": choices, "summary": summary}
        echo(json.dumps(body, indent=2, ensure_ascii=False, default=str))
    else:
        _print_plan_table(planned, summary)
        _print_playbooks(choices, runtime)
    return ExitCode.OK


def playbook_rows(report: SyncReport, names: dict[str, str]) -> list[dict[str, Any]]:
    """Per deal: its playbook and why, its regular check-ups' next dates, and notes."""
    return [{"deal_id": deal_id, "deal_name": names.get(deal_id), "playbook": item.playbook, "why": item.because,
             "next": {tp: [d.isoformat() for d in days] for tp, days in item.upcoming.items()},
             "notes": list(item.notes)}
            for deal_id, item in sorted(report.explained.items(), key=lambda kv: (names.get(kv[0]) or "", kv[0]))]


def _estimate_writes(session: CrmSession, planned: list[PlannedAction]) -> int:
    """`run` applies the sync plan page by page (and the NPS plan at once): estimate each apply."""
    if not isinstance(session.adapter, SupportsEstimate):
        return 0
    applies: dict[tuple[str, int], list[Action]] = {}
    for item in planned:
        page = session.page_of_deal.get(item.action.deal_id, -1) if item.job == "sync" else -1
        page = session.pages if item.later else page
        applies.setdefault((item.job, page), []).append(item.action)
    return sum(session.adapter.estimate_write_calls(actions) for actions in applies.values())


def _plan_job(runtime: Runtime, job: str, session: CrmSession, store: StateStore,
              required: bool) -> tuple[list[Action] | None, int, SyncReport | None]:
    if job == "sync":
        report = run_sync(runtime.sync_job(session, store), dry_run=True)
        return list(report.plan_actions), report.deals_seen, report
    nps_job = runtime.nps_job(session, store)
    if nps_job is None:
        if required:
            raise ConfigError('is "none": set a source to plan the NPS job', source=runtime.settings.source,
                              key="nps.source")
        return None, 0, None
    nps_report = run_nps(nps_job, dry_run=True)
    return list(nps_report.plan_actions), 0, None


def plan_summary(actions: Sequence[Action], *, deals: int, reads: int, writes: int,
                 extra_reads: int = 0) -> dict[str, Any]:
    """Counts per action kind, and API calls: ``api_calls_reads`` the plan spent (exact: `run`
    reads the same), ``api_calls_writes_estimate`` what `run` would add, ``api_calls_estimate``
    the whole run."""
    summary: dict[str, Any] = {kind.value: sum(1 for a in actions if a.kind is kind) for kind in ActionKind}
    summary |= {"deals": deals, "api_calls_reads": reads, "api_calls_writes_estimate": writes,
                "api_calls_estimate": reads + extra_reads + writes}
    return summary


def _first_run_reads(scope: str, store: StateStore) -> int:
    """A state store that has never finished a sync page makes `run` ask the CRM once whether
    AfterClose's tasks are already there (the re-learn check in jobs/sync/job.py); a plan does not."""
    fresh = store.get_cursor(scope, SYNC_JOB) is None and store.get_flag(scope, RELEARN) is None
    return 1 if fresh else 0


def action_json(action: Action, *, job: str = "sync", deal_name: str | None = None,
                owner_name: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": action.kind.value, "job": job, "deal_id": action.deal_id, "deal_name": deal_name,
                           "key": getattr(action, "key", None), "reason": action.reason}
    if isinstance(action, CreateTask | UpdateTask):
        spec = action.spec
        out |= {"touch_point": spec.touch_point, "subject": spec.subject, "due": spec.due_at.isoformat(),
                "owner_id": spec.owner_id, "owner_name": owner_name, "priority": spec.priority.value,
                "type": spec.type.value, "company_id": spec.company_id, "contact_id": spec.contact_id}
    if isinstance(action, UpdateTask | CloseTask):
        out["crm_id"] = action.crm_id
    if isinstance(action, UpdateTask):
        out["changes"] = list(action.changes)
    if isinstance(action, UpdateRecord):
        out |= {"record": action.update.kind.value, "record_id": action.update.record_id,
                "values": dict(action.update.values)}
    if isinstance(action, CreateDeal):
        deal = action.spec
        out |= {"name": deal.name, "close_date": deal.close_date.isoformat(), "stage": deal.stage,
                "pipeline": deal.pipeline, "owner_id": deal.owner_id, "amount": deal.amount,
                "company_id": deal.company_id, "contact_id": deal.contact_id, "values": dict(deal.fields)}
    return out


def _print_plan_table(planned: list[PlannedAction], summary: dict[str, Any]) -> None:
    out = console()
    table = Table(title="What `afterclose run` would do (nothing has been written)", title_justify="left")
    for column in ("deal", "action", "task title / what", "owner", "due", "why"):
        table.add_column(column, overflow="fold")
    previous = None
    for item in planned:
        deal = item.deal_name or item.action.deal_id
        add_text_row(table, deal if deal != previous else "", item.action.kind.value.replace("_", " "),
                     _what(item.action), _owner(item), _due(item.action), item.action.reason)
        previous = deal
    if planned:
        out.print(table)
    else:
        out.print(text("Nothing to do: every won deal is up to date."))
    kinds = ", ".join(f"{summary[k.value]} {k.value.replace('_', ' ')}" for k in ActionKind if summary[k.value])
    out.print(text(f"{summary['deals']} deals read; {kinds or 'no actions'}."))
    out.print(text(f"API calls: {summary['api_calls_reads']} spent reading for this plan; `run` would make about "
                   f"{summary['api_calls_estimate']} ({summary['api_calls_writes_estimate']} of them writes)."))
    for skipped, jobs in summary.get("skipped_optional_target_jobs", {}).items():
        by = f"the {' and '.join(jobs)} job{'s' if len(jobs) > 1 else ''}"
        out.print(text(f"skipped optional target {skipped} (by {by}); `run` writes the other fields"))


def _print_playbooks(rows: list[dict[str, Any]], runtime: Runtime) -> None:
    """Which playbook each deal gets and why, and when its regular check-ups come next."""
    out = console()
    for note in runtime.playbooks.notes:
        out.print(text(f"note: {note}"))
    if len(runtime.playbooks.set.segments) == 1 and not any(row["next"] for row in rows):
        return
    table = Table(title=f"Playbooks ({runtime.playbooks.source}): which one each deal gets, and why",
                  title_justify="left")
    for column in ("deal", "playbook", "why", "next check-ups"):
        table.add_column(column, overflow="fold")
    for row in rows:
        upcoming = "; ".join(f"{tp} {', '.join(days) or 'none'}" for tp, days in row["next"].items())
        add_text_row(table, row["deal_name"] or row["deal_id"], row["playbook"], row["why"], upcoming)
    out.print(table)


def _what(action: Action) -> str:
    if isinstance(action, CreateTask | UpdateTask):
        return action.spec.subject
    if isinstance(action, UpdateRecord):
        return ", ".join(f"{k}={v!r}" for k, v in action.update.values.items())
    if isinstance(action, CreateDeal):
        return f"{action.spec.name} (stage {action.spec.stage}, amount {action.spec.amount or 'none'})"
    return getattr(action, "key", "")


def _owner_name(action: Action, names: dict[str, str]) -> str | None:
    if not isinstance(action, CreateTask | UpdateTask) or action.spec.owner_id is None:
        return None
    return names.get(action.spec.owner_id)


def _owner(item: PlannedAction) -> str:
    """The task's owner by name (its CRM id when it owns no deal read here, a CSM field's user);
    a task without one goes to the CRM's default (the integration user)."""
    action = item.action
    if not isinstance(action, CreateTask | UpdateTask):
        return ""
    if action.spec.owner_id is None:
        return "(the CRM's default user)"
    return item.owner_name or action.spec.owner_id


def _due(action: Action) -> str:
    if isinstance(action, CreateDeal):
        return action.spec.close_date.isoformat()
    return action.spec.due_date.isoformat() if isinstance(action, CreateTask | UpdateTask) else ""
