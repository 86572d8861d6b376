"""One run per scope, across processes and hosts.

Both implementations are owned by the operating system or the server, so a killed holder
(``kill -9``) releases them: PostgreSQL session advisory locks end with the session; ``flock``
locks end with the process.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock
from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Connection

from connector.errors import LockHeldError
from jobs.state.base import StoreBase
from jobs.state.engine import advisory_key, require_scope
from jobs.state.rows import run_summary
from jobs.state.tables import runs
from jobs.state.values import RunOutcome, RunSummary

ABANDONED = "abandoned: the process ended without finishing the run (killed or crashed)"


class LockMixin(StoreBase):
    @contextmanager
    def lock(self, scope: str) -> Iterator[None]:
        """Hold the one-run-per-scope lock; raise ``LockHeldError`` at once if someone else has it.

        On acquiring it, runs of this scope that other processes left unfinished are marked
        failed: they cannot still be running, because they would hold the lock.
        """
        require_scope(scope)
        acquire = self._pg_lock if self._backend.name == "postgresql" else self._file_lock
        with acquire(scope):
            self._mark_abandoned_runs(scope)
            yield

    @contextmanager
    def _pg_lock(self, scope: str) -> Iterator[None]:
        key = advisory_key(self._backend.pg_schema, scope)
        # A dedicated connection in autocommit: the session lock lives exactly as long as it, and
        # no transaction sits idle for the length of the run.
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if not conn.execute(select(func.pg_try_advisory_lock(key))).scalar_one():
                raise self._lock_held(scope, "PostgreSQL advisory lock")
            try:
                yield
            finally:
                _unlock_or_drop(conn, key)
        finally:
            conn.close()

    @contextmanager
    def _file_lock(self, scope: str) -> Iterator[None]:
        path = self._lock_path(scope)
        # fallback_to_soft=False: a marker-file lock would outlive a killed holder; refuse instead.
        lock = filelock.FileLock(path, timeout=0, thread_local=False, fallback_to_soft=False)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise self._lock_held(scope, f"lock file {path}") from None
        try:
            yield
        finally:
            lock.release()

    def _lock_path(self, scope: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", scope).strip("-")[:40]
        digest = hashlib.blake2b(scope.encode(), digest_size=6).hexdigest()
        assert self._backend.lock_dir is not None
        return self._backend.lock_dir / f"{self._backend.lock_stem}.{slug}-{digest}.lock"

    def _lock_held(self, scope: str, what: str) -> LockHeldError:
        holder = self._running_elsewhere(scope)
        since = (
            f"; run {holder.id} has been running since {holder.started_at.isoformat()} on host "
            f"{holder.host}, pid {holder.pid}"
            if holder
            else ""
        )
        return LockHeldError(f"another AfterClose run holds the lock for scope {scope!r} ({what}){since}; try again later")

    def _running_elsewhere(self, scope: str) -> RunSummary | None:
        query = (
            select(runs)
            .where(runs.c.scope == scope, runs.c.outcome.is_(None), runs.c.dry_run.is_(False))
            .where(or_(runs.c.host != self._host, runs.c.pid != os.getpid()))
            .order_by(runs.c.started_at.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return run_summary(row) if row else None

    def _mark_abandoned_runs(self, scope: str) -> None:
        # Dry runs take no lock, so an unfinished one may be alive elsewhere: leave them be.
        # Runs of this very process may be waiting to record "lock_held": leave those too.
        with self._engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.scope == scope, runs.c.outcome.is_(None), runs.c.dry_run.is_(False))
                .where(or_(runs.c.host != self._host, runs.c.pid != os.getpid()))
                .values(outcome=RunOutcome.FAILED.value, finished_at=self._clock(), error=ABANDONED)
            )


def _unlock_or_drop(conn: Connection, key: int) -> None:
    """Release the advisory lock now. Dropping the session also releases it, but the server ends
    a dropped session on its own time, so a run started right after could still find it held."""
    try:
        conn.execute(select(func.pg_advisory_unlock(key)))
    except Exception:  # noqa: BLE001 - the session is unusable: dropping it is the other way out
        conn.invalidate()
