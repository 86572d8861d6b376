"""One run per scope, across processes and hosts.

Both implementations are owned by the operating system or the server, so a killed holder
(``kill -9``) releases them: PostgreSQL session advisory locks end with the session; ``flock``
locks end with the process. A PostgreSQL session can also end under a living holder (an idle
timeout, a dropped connection): held.py keeps it busy and has every state transaction of the run
check that it still holds the lock.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.engine import Connection

from connector.errors import LockHeldError
from jobs.state.base import StoreBase
from jobs.state.engine import advisory_key, require_scope
from jobs.state.held import HeldLock
from jobs.state.rows import run_summary
from jobs.state.tables import runs
from jobs.state.values import RunOutcome, RunSummary

ABANDONED = "abandoned: the process ended without finishing the run (killed or crashed)"


class LockMixin(StoreBase):
    @contextmanager
    def lock(self, scope: str) -> Iterator[HeldLock]:
        """Hold the one-run-per-scope lock; raise ``LockHeldError`` at once if someone else has it.

        On acquiring it, runs of this scope that other processes left unfinished are marked
        failed: they cannot still be running, because they would hold the lock. While it is held,
        this store's state transactions of ``scope`` commit only if it still is (held.py).
        """
        require_scope(scope)
        if scope in self._held:  # this store holds it already (a thread of this process)
            raise self._lock_held(scope, "held by this process")
        acquire = self._pg_lock if self._backend.name == "postgresql" else self._file_lock
        with acquire(scope) as held:
            self._held[scope] = held
            try:
                self._mark_abandoned_runs(scope)
                yield held
            finally:
                del self._held[scope]

    @contextmanager
    def _pg_lock(self, scope: str) -> Iterator[HeldLock]:
        key = advisory_key(self._backend.pg_schema, scope)
        # A dedicated connection in autocommit: the session lock lives exactly as long as it, and
        # no transaction sits idle for the length of the run.
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        conn_lock = threading.Lock()  # the heartbeat and the release share the connection
        try:
            if not conn.execute(select(func.pg_try_advisory_lock(key))).scalar_one():
                raise self._lock_held(scope, "PostgreSQL advisory lock")
            held = HeldLock(scope=scope, key=key, **_session_of(conn))
            try:
                held.keep_alive(conn, conn_lock, _idle_session_timeout_ms(conn))
                yield held
            finally:
                held.stop_heartbeat()
                with conn_lock:
                    _unlock_or_drop(conn, key)
        finally:
            conn.close()

    @contextmanager
    def _file_lock(self, scope: str) -> Iterator[HeldLock]:
        path = self._lock_path(scope)
        # fallback_to_soft=False: a marker-file lock would outlive a killed holder; refuse instead.
        lock = filelock.FileLock(path, timeout=0, thread_local=False, fallback_to_soft=False)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise self._lock_held(scope, f"lock file {path}") from None
        try:
            yield HeldLock(scope=scope)
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
        return LockHeldError(f"another AfterClose run holds the lock for scope {scope!r} ({what}){since}; "
                             "try again later")

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


def _session_of(conn: Connection) -> dict:
    """The lock session's backend pid and start time: together they name it (a pid is reused)."""
    row = conn.execute(text("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")).one()
    return {"pid": row.pid, "started": row.backend_start}


def _idle_session_timeout_ms(conn: Connection) -> int:
    """The server's idle_session_timeout for this session, in milliseconds (0: none; PostgreSQL 14+)."""
    value = conn.execute(text("SELECT setting FROM pg_settings WHERE name = 'idle_session_timeout'")).scalar()
    return int(value) if value is not None else 0


def _unlock_or_drop(conn: Connection, key: int) -> None:
    """Release the advisory lock now. Dropping the session also releases it, but the server ends
    a dropped session on its own time, so a run started right after could still find it held."""
    try:
        conn.execute(select(func.pg_advisory_unlock(key)))
    except Exception:  # noqa: BLE001 - the session is unusable: dropping it is the other way out
        conn.invalidate()
