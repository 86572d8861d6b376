"""Runs: their history with per-record outcomes, and the records the CRM rejected (retried)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, CursorResult

from connector.port import CallStats
from jobs.state.base import StoreBase
from jobs.state.engine import chunks, require_scope
from jobs.state.lock import ABANDONED
from jobs.state.rows import call_counts, masked, rejected_record, run_record, run_summary
from jobs.state.tables import rejected_records, run_records, runs
from jobs.state.values import RejectedRecord, RunOutcome, RunRecord, RunSummary


class RunsMixin(StoreBase):
    def start_run(self, scope: str, job: str, dry_run: bool = False) -> int:
        row = dict(
            scope=require_scope(scope), job=job, dry_run=dry_run, host=self._host, pid=os.getpid(),
            started_at=self._clock(), counts={}, api_calls=0, api_calls_by_endpoint={},
        )
        with self._engine.begin() as conn:
            return _inserted_id(conn.execute(insert(runs).values(**row)))

    def finish_run(
        self,
        run_id: int,
        outcome: RunOutcome | str,
        counts: Mapping[str, int] | None = None,
        api_calls: int | Mapping[str, int] | CallStats = 0,
        error: str | None = None,
    ) -> None:
        """Close a run. ``api_calls``: a total, calls per endpoint, or the adapter's ``CallStats``."""
        total, by_endpoint = call_counts(api_calls)
        values = dict(
            outcome=RunOutcome(outcome).value, finished_at=self._clock(),
            counts={k: int(v) for k, v in (counts or {}).items()},
            api_calls=total, api_calls_by_endpoint=by_endpoint, error=masked(error),
        )
        # A run marked abandoned by a racing lock holder may still report its real outcome.
        open_run = or_(runs.c.outcome.is_(None), runs.c.error == ABANDONED)
        with self._engine.begin() as conn:
            if conn.execute(update(runs).where(runs.c.id == run_id, open_run).values(**values)).rowcount == 1:
                return
            exists = conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first()
        raise ValueError(f"run {run_id} {'is already finished' if exists else 'does not exist'}")

    def record_attempt(self, scope: str, job: str, outcome: RunOutcome | str, error: str | None = None) -> int:
        """A run that ended before it began: a tick or command that failed its checks (credentials,
        mapping, an unreachable CRM), was refused the lock, or missed its schedule. Kept in the run
        history like any run, so `status` and `/healthz` (after a restart too) see it."""
        now = self._clock()
        row = dict(
            scope=require_scope(scope), job=job, dry_run=False, host=self._host, pid=os.getpid(), started_at=now,
            finished_at=now, outcome=RunOutcome(outcome).value, counts={}, api_calls=0, api_calls_by_endpoint={},
            error=masked(error),
        )
        with self._engine.begin() as conn:
            return _inserted_id(conn.execute(insert(runs).values(**row)))

    def recent_runs(self, scope: str | None = None, limit: int = 20) -> list[RunSummary]:
        """Newest first."""
        query = select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
        if scope is not None:
            query = query.where(runs.c.scope == scope)
        with self._engine.connect() as conn:
            return [run_summary(row) for row in conn.execute(query).mappings()]

    def run_records(self, run_id: int) -> list[RunRecord]:
        """What happened to each record in one run, in the order it was recorded."""
        query = select(run_records).where(run_records.c.run_id == run_id).order_by(run_records.c.id)
        with self._engine.connect() as conn:
            return [run_record(row) for row in conn.execute(query).mappings()]

    def deal_history(self, scope: str, deal_id: str, limit: int = 500) -> list[RunRecord]:
        """What the kept runs of ``scope`` did to one deal, newest run first (record order within
        a run): created, rescheduled, skipped and why, rejected with the CRM's words."""
        query = (
            select(run_records).join(runs, runs.c.id == run_records.c.run_id)
            .where(runs.c.scope == scope, run_records.c.deal_id == deal_id)
            .order_by(run_records.c.run_id.desc(), run_records.c.id).limit(limit)
        )
        with self._engine.connect() as conn:
            return [run_record(row) for row in conn.execute(query).mappings()]

    def run_summary(self, scope: str, run_id: int) -> RunSummary | None:
        """One run of ``scope``, or None (no such run, or another scope's)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id, runs.c.scope == scope)).mappings().first()
        return run_summary(row) if row is not None else None

    def prune_runs(self, before: dt.datetime) -> int:
        """Delete finished runs (and their records) started before ``before``; returns how many."""
        old = select(runs.c.id).where(runs.c.started_at < before, runs.c.outcome.is_not(None))
        with self._engine.begin() as conn:
            conn.execute(delete(run_records).where(run_records.c.run_id.in_(old)))
            return conn.execute(delete(runs).where(runs.c.id.in_(old))).rowcount

    def _open_run_is_dry(self, conn: Connection, scope: str, run_id: int) -> bool:
        run = conn.execute(select(runs.c.scope, runs.c.dry_run, runs.c.outcome).where(runs.c.id == run_id)).first()
        if run is None:
            raise ValueError(f"run {run_id} does not exist")
        if run.scope != scope:
            raise ValueError(f"run {run_id} belongs to scope {run.scope!r}, not {scope!r}")
        if run.outcome is not None:
            raise ValueError(f"run {run_id} is already finished ({run.outcome}); start a new run")
        return bool(run.dry_run)

    # -- rejected records: kept with the CRM's words, their deals re-read next run ---------------

    def rejected(self, scope: str) -> list[RejectedRecord]:
        query = (
            select(rejected_records)
            .where(rejected_records.c.scope == scope)
            .order_by(rejected_records.c.first_seen, rejected_records.c.key)
        )
        with self._engine.connect() as conn:
            return [rejected_record(row) for row in conn.execute(query).mappings()]

    def retry_deal_ids(self, scope: str) -> list[str]:
        """Deals with a record the CRM rejected: re-read them on the next run."""
        query = (
            select(rejected_records.c.deal_id)
            .where(rejected_records.c.scope == scope)
            .group_by(rejected_records.c.deal_id)
            .order_by(func.min(rejected_records.c.first_seen), rejected_records.c.deal_id)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def _clear_rejected(self, conn: Connection, scope: str, deal_ids: Iterable[str]) -> None:
        for chunk in chunks(sorted(set(deal_ids))):
            conn.execute(delete(rejected_records).where(rejected_records.c.scope == scope,
                                                        rejected_records.c.deal_id.in_(chunk)))


def _inserted_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None, "an INSERT always returns its primary key"
    return int(key[0])
