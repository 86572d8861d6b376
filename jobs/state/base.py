"""What every part of the SQL state store shares: the engine, the backend, the clock."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.engine import Connection

from jobs.state import engine as sql
from jobs.state.engine import Backend
from jobs.state.held import HeldLock


class StoreBase:
    """The state every concern module (lock, cursors, ledger, runs, ...) works with."""

    def __init__(self, engine: Engine, backend: Backend, *, clock: Callable[[], dt.datetime]):
        self._engine = engine
        self._backend = backend
        self._clock = clock
        self._host = socket.gethostname()
        self._held: dict[str, HeldLock] = {}
        """The run locks this store holds, by scope (lock.py)."""

    def now(self) -> dt.datetime:
        """The store's clock: what it stamps rows with (a test may set it)."""
        return self._clock()

    @contextlib.contextmanager
    def _write(self, scope: str) -> Iterator[Connection]:
        """A transaction that changes the state of ``scope``. While this store holds the scope's
        run lock, the transaction commits only if the lock is still held (held.py): a run that
        lost its lock records nothing more."""
        with self._engine.begin() as conn:
            yield conn
            held = self._held.get(scope)
            if held is not None:
                held.verify(conn)

    def _upsert(self, conn: Connection, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...], *,
                increment: Mapping[str, Any] | None = None, keep: tuple[str, ...] = ()) -> None:
        sql.upsert(conn, self._backend, table, rows, keys, increment=increment, keep=keep)
