"""`afterclose status`: recent runs, cursors, and what waits for a retry; or, with --run or
--deal, what runs did record by record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from connector.model import Cursor
from jobs import logs
from jobs.cli.exits import ExitCode
from jobs.cli.output import add_text_row, console, echo, echo_err, jsonable, text
from jobs.cli.run import JOBS
from jobs.cli.runtime import load_runtime
from jobs.nps import JOB as NPS
from jobs.state import RunSummary, StoredNpsResponse
from jobs.state.customers import StoredCustomerDeal
from jobs.sync import TASK_KEY_MODE


def status_command(config_path: Path, limit: int, fmt: str) -> int:
    runtime = load_runtime(config_path)
    with runtime.store() as store:
        scope = runtime.scope_for_reading(store)
        runs = store.recent_runs(scope, limit)
        rejected = store.rejected(scope)
        cursors = {job: store.get_cursor(scope, job) for job in JOBS}
        waiting = [_nps_waiting(r) for r in store.nps_to_retry(scope)]
        not_imported = store.nps_source_rejects(scope)
        task_keys = store.get_flag(scope, TASK_KEY_MODE)
        in_doubt = store.creates_in_doubt(scope)
    if fmt == "json":
        body = {"scope": scope, "cursors": {job: jsonable(c) for job, c in cursors.items()},
                "runs": [jsonable(r) for r in runs], "rejected": [jsonable(r) for r in rejected],
                "nps_waiting": waiting, "nps_rows_not_imported": [jsonable(r) for r in not_imported],
                "task_keys": task_keys,
                "creates_in_doubt": [{"key": k, "deal_id": d, "sent_at": t.isoformat()}
                                     for k, (d, t) in sorted(in_doubt.items())]}
        echo(json.dumps(logs.redact_value(body), indent=2, ensure_ascii=False, default=str))
        return ExitCode.OK
    out = console()
    out.print(text((scope, "bold")))
    for job, cursor in cursors.items():
        out.print(text(f"  {_progress_line(job, cursor, runs)}"))
    out.print(text(f"  task keys: {task_keys or 'not known until the first run'}"))
    if in_doubt:
        out.print(text(f"  {len(in_doubt)} task create(s) sent without a recorded answer: the next run looks them up "
                       "in the CRM before sending any again"))
    out.print(_runs_table(runs))
    out.print(text(f"{len(rejected)} rejected record(s) waiting for a retry" + (":" if rejected else ".")))
    for row in rejected:
        out.print(text(f"  deal {row.deal_id} {row.key}: {row.reason or 'no reason given'} "
                       f"[{row.error_code or 'no code'}] "
                       f"(attempts {row.attempts}, last {row.last_seen:%Y-%m-%d %H:%M})"))
    if waiting:
        out.print(text(f"{len(waiting)} NPS response(s) not written back yet (retried each NPS run):"))
        for item in waiting:
            out.print(text(f"  response {item['response_id']} ({item['status']}): "
                           f"{item['reason'] or 'no reason given'} "
                           f"(attempts {item['attempts']})"))
    if not_imported:
        out.print(text(f"{len(not_imported)} NPS row(s) the source holds that could not be used (fix them there; "
                       "the next NPS run reads them again):"))
        for reject in not_imported:
            out.print(text(f"  {reject.describe()} (run {reject.run_id})"))
    return ExitCode.OK


def _progress_line(job: str, cursor: Cursor | None, runs: list[RunSummary]) -> str:
    """Where ``job`` goes on from. The sync job pages deals after its cursor; the NPS job has a
    cursor only when its source gives one (a CSV does not: every run reads the whole file and
    knows the responses it saw by their id), so its last run is what is true about it."""
    if cursor is not None:
        deal = f" / deal {cursor.deal_id}" if cursor.deal_id else ""
        return f"{job} cursor: after {cursor.modified.isoformat()}{deal}"
    if job != NPS:
        return f"{job} cursor: not started yet"
    last = next((run for run in runs if run.job == NPS and not run.dry_run), None)
    if last is None:
        return "nps: no run among the recent runs below" if runs else "nps: no run yet"
    outcome = last.outcome.value if last.outcome else "running"
    counts = ", ".join(f"{k} {v}" for k, v in sorted((last.counts or {}).items())) or "nothing written"
    return (f"nps: last run {last.id} at {last.started_at:%Y-%m-%d %H:%M} UTC ({outcome}): {counts}; the source has "
            "no cursor: every run reads it whole and knows the responses it saw by their id")


def history_command(config_path: Path, fmt: str, *, run_id: int | None = None, deal_id: str | None = None) -> int:
    """``status --run N`` / ``status --deal ID``: the per-record outcomes the store keeps."""
    runtime = load_runtime(config_path)
    deal_id = runtime.record_id(deal_id) if deal_id is not None else None
    with runtime.store() as store:
        scope = runtime.scope_for_reading(store)
        if run_id is not None:
            run = store.run_summary(scope, run_id)
            if run is None:
                echo_err(f"error: no run {run_id} in {scope} (it never existed, or was pruned); "
                          "`afterclose status` lists the recent runs")
                return ExitCode.CONFIG
            records = store.run_records(run_id)
            title = (f"Run {run.id} ({run.job}, started {run.started_at:%Y-%m-%d %H:%M:%S} UTC, "
                     f"{run.outcome.value if run.outcome else 'running'}): {len(records)} record(s)")
        else:
            records = store.deal_history(scope, deal_id or "")
            title = f"Deal {deal_id}: {len(records)} record(s) in the runs kept, newest run first"
        playbook = store.customer_deal(scope, deal_id) if deal_id is not None else None
    if fmt == "json":
        body: dict[str, Any] = {"scope": scope, "run": run_id, "deal": deal_id,
                                "records": [jsonable(r) for r in records]}
        if deal_id is not None:
            body["playbook"] = _playbook_json(playbook)
        echo(json.dumps(logs.redact_value(body), indent=2, ensure_ascii=False, default=str))
        return ExitCode.OK
    out = console()
    out.print(text(title))
    if playbook is not None:
        out.print(text(_playbook_line(playbook)))
    if not records:
        return ExitCode.OK
    table = Table(show_header=True)
    for column in ("run", "deal", "key", "action", "outcome", "what the CRM or the planner said"):
        table.add_column(column, overflow="fold")
    for record in records:
        said = record.message or ""
        if record.error_code:
            said += f" [{record.error_code}]"
        add_text_row(table, record.run_id, record.deal_id, record.key, record.action_kind, record.outcome.value, said)
    out.print(table)
    return ExitCode.OK


def _playbook_line(stored: StoredCustomerDeal) -> str:
    """Which playbook the deal has, since when and why, and the one it had before."""
    deal = stored.deal
    line = f"Playbook: {deal.playbook} since {stored.since:%Y-%m-%d %H:%M} UTC ({deal.because})"
    if stored.previous_playbook:
        line += f"; before: {stored.previous_playbook}"
    if deal.renewal_deal:
        line += "; a renewal deal: it carries its customer's renewals"
    return line


def _playbook_json(stored: StoredCustomerDeal | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    return {"id": stored.deal.playbook, "why": stored.deal.because, "since": stored.since.isoformat(),
            "previous": stored.previous_playbook, "renewal_deal": stored.deal.renewal_deal,
            "company_id": stored.deal.company_id}


def _nps_waiting(stored: StoredNpsResponse) -> dict[str, Any]:
    """A stored NPS response as status shows it (the reason names what did not match)."""
    return {"response_id": stored.response.response_id, "status": stored.status.value, "reason": stored.reason,
            "account_id": stored.account_id, "attempts": stored.attempts, "last_seen": stored.last_seen.isoformat()}


def _runs_table(runs: list[RunSummary]) -> Table:
    table = Table(title="Recent runs", title_justify="left")
    for column in ("run", "job", "started (UTC)", "took", "outcome", "records", "API calls"):
        table.add_column(column)
    for run in runs:
        took = f"{(run.finished_at - run.started_at).total_seconds():.1f}s" if run.finished_at else ""
        outcome = (run.outcome.value if run.outcome else "running") + (" (dry run)" if run.dry_run else "")
        if run.error:
            outcome += f": {run.error}"
        add_text_row(table, run.id, run.job, f"{run.started_at:%Y-%m-%d %H:%M:%S}", took, outcome,
                     ", ".join(f"{k} {v}" for k, v in sorted((run.counts or {}).items())), run.api_calls)
    return table
