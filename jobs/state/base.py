"""What every part of the SQL state store shares: the engine, the backend, the clock."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.engine import Connection

from jobs.state import engine as sql
from jobs.state.engine import Backend


class StoreBase:
    """The state every concern module (lock, cursors, ledger, runs, ...) works with."""

    def __init__(self, engine: Engine, backend: Backend, *, clock: Callable[[], dt.datetime]):
        self._engine = engine
        self._backend = backend
        self._clock = clock
        self._host = socket.gethostname()

    def _upsert(self, conn: Connection, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...], *,
                increment: Mapping[str, Any] | None = None, keep: tuple[str, ...] = ()) -> None:
        sql.upsert(conn, self._backend, table, rows, keys, increment=increment, keep=keep)
