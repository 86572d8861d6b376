"""Rows in and values out: the one place that knows both the tables and the values.

Text that comes from outside (a CRM's refusal, an error message) is masked with the registered
secrets (``jobs.logs.redact``) on its way into a row: a CRM or a proxy that echoes the
Authorization header must not put the token into the state database and its backups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from connector.actions import ActionResult, Outcome
from connector.model import NpsResponse
from connector.port import CallStats
from jobs import logs
from jobs.core.ledger_view import EntryStatus, LedgerEntry
from jobs.state.values import NpsRecord, NpsStatus, RejectedRecord, RunOutcome, RunRecord, RunSummary, StoredNpsResponse

Row = Mapping[Any, Any]
"""A result row as SQLAlchemy hands it (``RowMapping``), read by column name."""


def masked(text: str | None) -> str | None:
    """``text`` with every registered secret masked (None stays None)."""
    return logs.redact(text) if text else text


def ledger_row(
    scope: str, key: str, deal_id: str, touch_point: str, cycle: int, crm_id: str | None,
    due_at: dt.datetime | None, status: EntryStatus, fingerprint: str | None, now: dt.datetime,
) -> dict[str, Any]:
    """One ledger row; ``now`` is read once per transaction (its rows share one timestamp)."""
    return dict(
        scope=scope, key=key, deal_id=deal_id, touch_point=touch_point, cycle=cycle, crm_id=crm_id,
        due_at=due_at, status=status.value, fingerprint=fingerprint, updated_at=now,
    )


def ledger_entry(row: Row) -> LedgerEntry:
    return LedgerEntry(
        key=row["key"], deal_id=row["deal_id"], touch_point=row["touch_point"], cycle=row["cycle"],
        crm_id=row["crm_id"], due_at=row["due_at"], status=EntryStatus(row["status"]), fingerprint=row["fingerprint"],
    )


def run_record_row(run_id: int, result: ActionResult, now: dt.datetime) -> dict[str, Any]:
    return dict(
        run_id=run_id, deal_id=result.action.deal_id, key=result.action.key, action_kind=result.action.kind.value,
        outcome=result.outcome.value, crm_id=result.crm_id, message=masked(record_message(result)),
        error_code=result.error_code, correlation_id=result.correlation_id, recorded_at=now,
    )


def record_message(result: ActionResult) -> str | None:
    """What `status --run/--deal` shows for one record: a refusal in the CRM's own words; every
    other outcome (created and updated included) with the planner's reason, followed by what the
    CRM added ("a task with this key already existed ...")."""
    if result.rejected:
        return result.message
    reason = result.action.reason
    if not result.message or result.message == reason:
        return reason
    return f"{reason}; {result.message}" if reason else result.message


def run_record(row: Row) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"], deal_id=row["deal_id"], key=row["key"], action_kind=row["action_kind"],
        outcome=Outcome(row["outcome"]), crm_id=row["crm_id"], message=row["message"],
        error_code=row["error_code"], correlation_id=row["correlation_id"], recorded_at=row["recorded_at"],
    )


def run_summary(row: Row) -> RunSummary:
    return RunSummary(
        id=row["id"], scope=row["scope"], job=row["job"], dry_run=bool(row["dry_run"]), host=row["host"],
        pid=row["pid"], started_at=row["started_at"], finished_at=row["finished_at"],
        outcome=RunOutcome(row["outcome"]) if row["outcome"] else None, counts=dict(row["counts"]),
        api_calls=row["api_calls"], api_calls_by_endpoint=dict(row["api_calls_by_endpoint"]), error=row["error"],
    )


def call_counts(calls: int | Mapping[str, int] | CallStats) -> tuple[int, dict[str, int]]:
    """(total, per endpoint) from a total, calls per endpoint, or an adapter's ``CallStats``."""
    if isinstance(calls, CallStats):
        return calls.total, dict(calls.by_endpoint)
    if isinstance(calls, Mapping):
        by_endpoint = {str(k): int(v) for k, v in calls.items()}
        return sum(by_endpoint.values()), by_endpoint
    return int(calls), {}


def rejected_row(scope: str, run_id: int, result: ActionResult, now: dt.datetime) -> dict[str, Any]:
    return dict(
        scope=scope, key=result.action.key, deal_id=result.action.deal_id, action_kind=result.action.kind.value,
        reason=masked(result.message), error_code=result.error_code, attempts=1, first_seen=now, last_seen=now,
        last_run_id=run_id,
    )


def rejected_record(row: Row) -> RejectedRecord:
    return RejectedRecord(
        scope=row["scope"], deal_id=row["deal_id"], key=row["key"], action_kind=row["action_kind"],
        reason=row["reason"], error_code=row["error_code"], attempts=row["attempts"],
        first_seen=row["first_seen"], last_seen=row["last_seen"],
    )


def nps_row(scope: str, record: NpsRecord, now: dt.datetime) -> dict[str, Any]:
    r = record.response
    return dict(
        scope=scope, response_id=r.response_id, email=r.email, account_id=r.account_id,
        score=r.score, responded_at=r.responded_at, comment=r.comment, source=r.source or "",
        status=NpsStatus(record.status).value, matched_account_id=record.account_id, reason=masked(record.reason),
        attempts=1, first_seen=now, last_seen=now,
    )


def stored_nps(row: Row) -> StoredNpsResponse:
    response = NpsResponse(
        response_id=row["response_id"], email=row["email"], score=row["score"], responded_at=row["responded_at"],
        comment=row["comment"], account_id=row["account_id"], source=row["source"],
    )
    return StoredNpsResponse(
        response=response, status=NpsStatus(row["status"]), account_id=row["matched_account_id"],
        reason=row["reason"], attempts=row["attempts"], first_seen=row["first_seen"], last_seen=row["last_seen"],
    )
