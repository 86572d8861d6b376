"""``SqlStateStore``: the state store on SQLite (the default, a file) or PostgreSQL (shared, HA).

Per ``scope`` (one CRM account, e.g. ``"hubspot:portal-123"``) it holds the read cursors, the
ledger of idempotency keys -> CRM tasks, the run history with one row per record touched, the
records the CRM rejected (retried next run), the deals to re-read later, NPS responses seen, and
claimed schedule slots. Each concern lives in its own module; this class puts them together.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from jobs.state.customers import CustomersMixin
from jobs.state.engine import DEFAULT_STATE_URL, current_revision, engine_for, migrate, parse_url
from jobs.state.lock import LockMixin
from jobs.state.nps import NpsMixin
from jobs.state.slots import SlotsMixin
from jobs.state.values import StateStoreError

UTC = dt.timezone.utc


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


class SqlStateStore(NpsMixin, LockMixin, SlotsMixin, CustomersMixin):
    """Open with ``open_store(url)``; use as a context manager or call ``close()``."""

    def close(self) -> None:
        self._engine.dispose()
        if self._backend.owns_lock_dir and self._backend.lock_dir is not None:
            shutil.rmtree(self._backend.lock_dir, ignore_errors=True)

    def __enter__(self) -> SqlStateStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._backend.name

    def schema_revision(self) -> str | None:
        with self._engine.connect() as conn:
            return current_revision(conn)


def open_store(url: str | Any | None = None, *, clock: Callable[[], dt.datetime] = _now) -> SqlStateStore:
    """Connect, migrate to the current schema, and return the store.

    ``url`` defaults to ``sqlite:///.afterclose/state.db`` (relative to the working directory;
    the folder is created). A pydantic ``SecretStr`` (``settings.state.url``) is accepted as is.
    ``clock`` is for tests.
    """
    if hasattr(url, "get_secret_value"):
        url = url.get_secret_value()
    parsed = parse_url(url or DEFAULT_STATE_URL)
    shown = parsed.render_as_string(hide_password=True)
    try:
        engine, backend = engine_for(parsed)
    except OperationalError as exc:
        raise StateStoreError(f"cannot open the state database {shown}: {exc.orig}") from None
    store = SqlStateStore(engine, backend, clock=clock)
    try:
        migrate(engine, backend)
    except BaseException as exc:
        store.close()
        if isinstance(exc, OperationalError):
            raise StateStoreError(f"cannot migrate the state database {shown}: {exc.orig}") from None
        raise
    return store
