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
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError

from jobs.config_file import process_user
from jobs.state.console_changes import ConsoleChangesMixin
from jobs.state.customers import CustomersMixin
from jobs.state.damage import damaged_file_error, is_sqlite_damage
from jobs.state.engine import DEFAULT_STATE_URL, SQLITE_WAIT_SECONDS, current_revision, engine_for, migrate, parse_url
from jobs.state.instances import InstancesMixin
from jobs.state.lock import LockMixin
from jobs.state.nps import NpsMixin
from jobs.state.slots import SlotsMixin
from jobs.state.values import StateStoreError

UTC = dt.UTC


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


class SqlStateStore(NpsMixin, LockMixin, SlotsMixin, InstancesMixin, CustomersMixin, ConsoleChangesMixin):
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

    @property
    def location(self) -> str:
        """The database as messages name it: the SQLite file, or the URL without its password."""
        return self._backend.shown

    def schema_revision(self) -> str | None:
        with self._engine.connect() as conn:
            return current_revision(conn)


def open_store(url: str | Any | None = None, *, clock: Callable[[], dt.datetime] = _now) -> SqlStateStore:
    """Connect, migrate to the current schema, and return the store.

    ``url`` defaults to ``sqlite:///.afterclose/state.db`` (relative to the working directory;
    the folder is created). A pydantic ``SecretStr`` (``settings.state.url``) is accepted as is.
    ``clock`` is for tests.
    """
    if isinstance(url, SecretStr):
        url = url.get_secret_value()
    parsed = parse_url(url or DEFAULT_STATE_URL)
    shown = parsed.render_as_string(hide_password=True)
    try:
        engine, backend = engine_for(parsed)
    except OperationalError as exc:
        raise StateStoreError(f"cannot open the state database {shown}: {exc.orig}{_access_hint(parsed, exc.orig)}"
                              ) from None
    except OSError as exc:  # the SQLite folder cannot be made (permissions, a read-only filesystem)
        raise StateStoreError(f"cannot create the folder of the state database {shown} (state.url): "
                              f"{exc.strerror or exc}: {exc.filename or parsed.database}"
                              f"{_access_hint(parsed)}") from None
    except ModuleNotFoundError as exc:
        if parsed.get_backend_name() != "postgresql":
            raise
        raise StateStoreError(
            f"state.url is a PostgreSQL database ({shown}), but its driver, psycopg, is not installed "
            f"({exc}): it comes with the `postgres` extra, pip install 'afterclose[postgres]' (the container "
            "image has it)") from None
    store = SqlStateStore(engine, backend, clock=clock)
    try:
        migrate(engine, backend)
    except BaseException as exc:
        store.close()
        if isinstance(exc, DBAPIError) and exc.orig is not None and is_sqlite_damage(exc.orig):
            raise damaged_file_error(Path(backend.shown), exc.orig) from None
        if isinstance(exc, OperationalError):
            raise StateStoreError(f"cannot migrate the state database {shown}: {exc.orig}"
                                  f"{_access_hint(parsed, exc.orig)}") from None
        raise
    return store


def _access_hint(url: URL, error: BaseException | None = None) -> str:
    """For a SQLite file: who needs to write where (the usual cause is a folder or volume owned by
    another user, e.g. a host folder mounted into the container, whose user is uid 10001), or, when
    the file stayed locked, who may be holding it."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return ""
    if error is not None and "locked" in str(error):
        return (f". Another process held the file locked for more than {SQLITE_WAIT_SECONDS} s: another AfterClose "
                "command still running, or a tool with the file open in a write transaction. Let it finish "
                "or close it, then run again")
    path = Path(url.database)
    folder = path.parent if path.is_absolute() else Path.cwd() / path.parent
    relative = "" if path.is_absolute() else f" (state.url is relative to the working folder, {Path.cwd()})"
    return (f". AfterClose runs as {process_user()} and needs to create and write files in {folder}{relative}: "
            "give that user write access to it, or set [state] url to a folder it can write. The container "
            "image runs as uid 10001 and keeps its state in /var/lib/afterclose, a volume; a host folder "
            "mounted there must be writable by uid 10001")
