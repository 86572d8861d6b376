"""The state store: what AfterClose remembers between runs, in SQLite or PostgreSQL.

Per ``scope`` (one CRM account as the sync job names it, e.g. ``"hubspot:portal-123"``) it holds
the read cursors, the ledger of idempotency keys -> CRM tasks, the run history with one row per
record touched, the records the CRM rejected (retried next run) and the deals to re-read later.

Why it is built this way:

- The schema is versioned with Alembic and migrated when the store is opened, inside one
  transaction that also serialises concurrent openers (``BEGIN IMMEDIATE`` on SQLite, a
  transaction-level advisory lock on PostgreSQL). A database migrated by a *newer* AfterClose is
  refused rather than guessed at.
- Everything that writes is one transaction; ``commit_page`` records a page's results and moves
  the cursor together, so the cursor never passes a result that was not safely stored.
- ``lock(scope)`` allows one run per scope across processes and hosts. Both implementations are
  owned by the operating system or the server, so a killed holder (``kill -9``) releases them:
  PostgreSQL session advisory locks end with the session; ``flock`` locks end with the process.
- Datetimes go in and come out timezone-aware, in UTC. SQLite has no zone-aware type, so values
  are stored as naive UTC text and re-labelled UTC when read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import filelock
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import StaticPool

from connector.actions import (
    ActionResult,
    CloseTask,
    CreateTask,
    Outcome,
    Skip,
    UpdateTask,
)
from connector.errors import AfterCloseError, ConfigError, LockHeldError
from connector.model import Cursor, NpsResponse, TaskRef, TaskStatus, require_aware
from connector.port import CallStats
from jobs.core.keys import parse_key
from jobs.core.ledger_view import EntryStatus, LedgerEntry

UTC = dt.timezone.utc
DEFAULT_STATE_URL = "sqlite:///.afterclose/state.db"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "afterclose_alembic_version"
"""Our own name, so a PostgreSQL database shared with another Alembic user does not collide."""

TouchPointOf = Callable[[str], tuple[str, int]]
"""Idempotency key -> (touch point id, cycle); the planner owns the key format."""

_IN_CHUNK = 500  # stay far below SQLite's bound-parameter limit in IN (...) lists
_ABANDONED = "abandoned: the process ended without finishing the run (killed or crashed)"


class StateStoreError(AfterCloseError):
    """The state database cannot be used as it is (unreachable, or from a newer AfterClose)."""

    exit_code = 2


class SchemaTooNewError(StateStoreError):
    """The database was migrated by a newer AfterClose; this version must not write to it."""


class RunOutcome(StrEnum):
    OK = "ok"
    REJECTED = "rejected"  # finished, but the CRM refused some records
    FAILED = "failed"
    LOCK_HELD = "lock_held"  # another run held the scope's lock; nothing was done


# ---------------------------------------------------------------------------------------------
# Schema (the current shape; jobs/migrations/versions/ holds the history that builds it)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in and out, stored as UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        require_aware("stored datetime", value)
        value = value.astimezone(UTC)
        # SQLite's DATETIME is text without a zone: store naive UTC, re-label on the way out.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

cursors = Table(
    "afterclose_cursors", metadata,
    Column("scope", String, primary_key=True),
    Column("job", String, primary_key=True),
    Column("modified", UtcDateTime, nullable=False),
    Column("deal_id", String, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

ledger = Table(
    "afterclose_ledger", metadata,
    Column("scope", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("deal_id", String, nullable=False),
    Column("touch_point", String, nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("crm_id", String),
    Column("due_at", UtcDateTime),
    Column("status", String, nullable=False),
    Column("fingerprint", String),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_afterclose_ledger_deal", "scope", "deal_id"),
)

runs = Table(
    "afterclose_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String, nullable=False),
    Column("job", String, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("host", String, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("outcome", String),
    Column("counts", JSON, nullable=False),
    Column("api_calls", Integer, nullable=False),
    Column("api_calls_by_endpoint", JSON, nullable=False),
    Column("error", Text),
    Index("ix_afterclose_runs_scope_started", "scope", "started_at"),
    sqlite_autoincrement=True,  # never reuse a run id after pruning
)

run_records = Table(
    "afterclose_run_records", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("afterclose_runs.id"), nullable=False),
    Column("deal_id", String, nullable=False),
    Column("key", String, nullable=False),
    Column("action_kind", String, nullable=False),
    Column("outcome", String, nullable=False),
    Column("crm_id", String),
    Column("message", Text),
    Column("error_code", String),
    Column("correlation_id", String),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_afterclose_run_records_run", "run_id"),
    Index("ix_afterclose_run_records_deal", "deal_id"),
    sqlite_autoincrement=True,
)

rejected_records = Table(
    "afterclose_rejected", metadata,
    Column("scope", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("deal_id", String, nullable=False),
    Column("action_kind", String, nullable=False),
    Column("reason", Text),
    Column("error_code", String),
    Column("attempts", Integer, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("last_run_id", Integer),
    Index("ix_afterclose_rejected_deal", "scope", "deal_id"),
)

revisits_table = Table(
    "afterclose_revisits", metadata,
    Column("scope", String, primary_key=True),
    Column("deal_id", String, primary_key=True),
    Column("revisit_at", UtcDateTime, nullable=False),
    Index("ix_afterclose_revisits_due", "scope", "revisit_at"),
)

flags = Table(
    "afterclose_flags", metadata,
    Column("scope", String, primary_key=True),
    Column("name", String, primary_key=True),
    Column("value", String, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

nps_responses = Table(
    "afterclose_nps_responses", metadata,
    Column("scope", String, primary_key=True),
    Column("response_id", String, primary_key=True),
    Column("email", String),
    Column("account_id", String),
    Column("score", Integer, nullable=False),
    Column("responded_at", UtcDateTime, nullable=False),
    Column("comment", Text),
    Column("source", String, nullable=False),
    Column("status", String, nullable=False),
    Column("matched_account_id", String),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Index("ix_afterclose_nps_status", "scope", "status"),
)

slots = Table(
    "afterclose_slots", metadata,
    Column("scope", String, primary_key=True),
    Column("job", String, primary_key=True),
    Column("fire_time", UtcDateTime, primary_key=True),
    Column("host", String, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
)


# ---------------------------------------------------------------------------------------------
# What the store hands back


@dataclass(frozen=True, kw_only=True, slots=True)
class RunSummary:
    id: int
    scope: str
    job: str
    dry_run: bool
    host: str
    pid: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: RunOutcome | None
    """None while the run is going (or when a dry run's process died)."""
    counts: Mapping[str, int]
    api_calls: int
    api_calls_by_endpoint: Mapping[str, int]
    error: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRecord:
    run_id: int
    deal_id: str
    key: str
    action_kind: str
    outcome: Outcome
    crm_id: str | None
    message: str | None
    """The CRM's own words for a rejection."""
    error_code: str | None
    correlation_id: str | None
    recorded_at: dt.datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class RejectedRecord:
    scope: str
    deal_id: str
    key: str
    action_kind: str
    reason: str | None
    error_code: str | None
    attempts: int
    first_seen: dt.datetime
    last_seen: dt.datetime


class NpsStatus(StrEnum):
    """What became of an NPS response AfterClose has seen (table ``afterclose_nps_responses``)."""

    MATCHED = "matched"  # tied to an account and written back: never planned again on its own
    UNMATCHED = "unmatched"  # no account yet (the reason says why): matched again every run
    REJECTED = "rejected"  # matched, but the CRM refused a write for its account: planned again


@dataclass(frozen=True, kw_only=True, slots=True)
class NpsRecord:
    """One response's outcome in a run, as ``commit_nps`` stores it."""

    response: NpsResponse
    status: NpsStatus
    account_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredNpsResponse:
    response: NpsResponse
    status: NpsStatus
    account_id: str | None
    reason: str | None
    attempts: int
    """Runs that have seen it (1 the first time)."""
    first_seen: dt.datetime
    last_seen: dt.datetime


@dataclass(kw_only=True)
class _Backend:
    """What differs between SQLite and PostgreSQL, decided once at open."""

    name: str
    lock_dir: Path | None = None  # SQLite: where the per-scope lock files live
    lock_stem: str = ""
    owns_lock_dir: bool = False  # an in-memory store's private lock folder, removed on close
    pg_schema: str = ""  # PostgreSQL: part of the advisory-lock key (schemas are separate stores)
    insert: Callable[..., Any] = field(default=sqlite.insert)


# ---------------------------------------------------------------------------------------------
# Opening: URL -> engine -> migrated schema


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL ({exc})", key="state.url") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r}; use sqlite:///path or "
            "postgresql+psycopg://user@host/db",
            key="state.url",
        )
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is what we ship
    return parsed


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _sqlite_engine(url: URL) -> tuple[Engine, _Backend]:
    if _is_memory(url):
        # One shared connection, or every checkout would see a different empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        backend = _Backend(name="sqlite", lock_dir=Path(tempfile.mkdtemp(prefix="afterclose-memory-")),
                           lock_stem="memory", owns_lock_dir=True)
    else:
        db_path = Path(url.database or "")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # timeout: wait this long for another process's write transaction instead of failing.
        engine = create_engine(url, connect_args={"timeout": 30})
        backend = _Backend(name="sqlite", lock_dir=db_path.parent, lock_stem=db_path.name)
    _use_immediate_transactions(engine)
    return engine, backend


def _use_immediate_transactions(engine: Engine) -> None:
    """Take SQLite's write lock at BEGIN, not at the first write.

    pysqlite otherwise starts transactions lazily, and a reader that later writes can fail with
    "database is locked" without waiting (SQLITE_BUSY on lock upgrade). This is SQLAlchemy's
    documented recipe: https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _postgres_engine(url: URL) -> tuple[Engine, _Backend]:
    engine = create_engine(url, pool_pre_ping=True)
    with engine.connect() as conn:
        schema = conn.execute(select(func.current_schema())).scalar_one()
    return engine, _Backend(name="postgresql", pg_schema=schema, insert=postgresql.insert)


def schema_head() -> str:
    """The newest schema revision this code knows (what ``open`` migrates to)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def _alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = VERSION_TABLE
    return config


def _advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key (Python's ``hash`` differs per process, so it cannot be used)."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _migrate(engine: Engine, backend: _Backend) -> None:
    with engine.connect() as conn, conn.begin():
        if backend.name == "postgresql":
            # Two processes opening a fresh database at once must not both create the tables.
            conn.execute(select(func.pg_advisory_xact_lock(_advisory_key("migrate", backend.pg_schema))))
        config = _alembic_config(conn)
        _refuse_newer_schema(conn, ScriptDirectory.from_config(config))
        command.upgrade(config, "head")


def _refuse_newer_schema(conn: Connection, scripts: ScriptDirectory) -> None:
    current = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    known = {script.revision for script in scripts.walk_revisions()}
    if current is not None and current not in known:
        raise SchemaTooNewError(
            f"the state database is at schema revision {current!r}, which this AfterClose does not "
            f"know (it knows up to {scripts.get_current_head()!r}): it was migrated by a newer "
            "version. Upgrade AfterClose, or point [state] url at another database."
        )


# ---------------------------------------------------------------------------------------------
# The store


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _require_scope(scope: str) -> str:
    if not isinstance(scope, str) or not scope.strip():
        raise ValueError(f"scope must be a non-empty string, got {scope!r}")
    return scope


class StateStore:
    """Open with ``StateStore.open(url)``; use as a context manager or call ``close()``."""

    def __init__(self, engine: Engine, backend: _Backend, *, clock: Callable[[], dt.datetime]):
        self._engine = engine
        self._backend = backend
        self._clock = clock
        self._host = socket.gethostname()

    @classmethod
    def open(cls, url: str | Any | None = None, *, clock: Callable[[], dt.datetime] = _now) -> StateStore:
        """Connect, migrate to the current schema, and return the store.

        ``url`` defaults to ``sqlite:///.afterclose/state.db`` (relative to the working
        directory; the folder is created). A pydantic ``SecretStr`` (``settings.state.url``) is
        accepted as is. ``clock`` is for tests.
        """
        if hasattr(url, "get_secret_value"):
            url = url.get_secret_value()
        parsed = _parse_url(url or DEFAULT_STATE_URL)
        shown = parsed.render_as_string(hide_password=True)
        try:
            engine, backend = (_sqlite_engine if parsed.get_backend_name() == "sqlite" else _postgres_engine)(parsed)
        except OperationalError as exc:
            raise StateStoreError(f"cannot open the state database {shown}: {exc.orig}") from None
        store = cls(engine, backend, clock=clock)
        try:
            _migrate(engine, backend)
        except BaseException as exc:
            store.close()
            if isinstance(exc, OperationalError):
                raise StateStoreError(f"cannot migrate the state database {shown}: {exc.orig}") from None
            raise
        return store

    def close(self) -> None:
        self._engine.dispose()
        if self._backend.owns_lock_dir and self._backend.lock_dir is not None:
            shutil.rmtree(self._backend.lock_dir, ignore_errors=True)

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._backend.name

    def schema_revision(self) -> str | None:
        with self._engine.connect() as conn:
            return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()

    # -- the lock ------------------------------------------------------------------------------

    @contextmanager
    def lock(self, scope: str) -> Iterator[None]:
        """Hold the one-run-per-scope lock; raise ``LockHeldError`` at once if someone else has it.

        On acquiring it, runs of this scope that other processes left unfinished are marked
        failed: they cannot still be running, because they would hold the lock.
        """
        _require_scope(scope)
        acquire = self._pg_lock if self._backend.name == "postgresql" else self._file_lock
        with acquire(scope):
            self._mark_abandoned_runs(scope)
            yield

    @contextmanager
    def _pg_lock(self, scope: str) -> Iterator[None]:
        key = _advisory_key(self._backend.pg_schema, scope)
        # A dedicated connection in autocommit: the session lock lives exactly as long as it, and
        # no transaction sits idle for the length of the run.
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if not conn.execute(select(func.pg_try_advisory_lock(key))).scalar_one():
                raise self._lock_held(scope, "PostgreSQL advisory lock")
            yield
            conn.execute(select(func.pg_advisory_unlock(key)))
        except BaseException:
            conn.invalidate()  # closing the session drops the lock even if unlock never ran
            raise
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
        return _run_summary(row) if row else None

    def _mark_abandoned_runs(self, scope: str) -> None:
        # Dry runs take no lock, so an unfinished one may be alive elsewhere: leave them be.
        # Runs of this very process may be waiting to record "lock_held": leave those too.
        with self._engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.scope == scope, runs.c.outcome.is_(None), runs.c.dry_run.is_(False))
                .where(or_(runs.c.host != self._host, runs.c.pid != os.getpid()))
                .values(outcome=RunOutcome.FAILED.value, finished_at=self._clock(), error=_ABANDONED)
            )

    # -- cursors -------------------------------------------------------------------------------

    def get_cursor(self, scope: str, job: str) -> Cursor | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(cursors.c.modified, cursors.c.deal_id).where(
                    cursors.c.scope == scope, cursors.c.job == job
                )
            ).first()
        return Cursor(modified=row.modified, deal_id=row.deal_id) if row else None

    def set_cursor(self, scope: str, job: str, cursor: Cursor) -> None:
        with self._engine.begin() as conn:
            self._set_cursor(conn, _require_scope(scope), job, cursor)

    def reset_cursor(self, scope: str, job: str) -> None:
        """Forget the position: the next run reads from the beginning (a full resync)."""
        with self._engine.begin() as conn:
            conn.execute(delete(cursors).where(cursors.c.scope == scope, cursors.c.job == job))

    def _set_cursor(self, conn: Connection, scope: str, job: str, cursor: Cursor) -> None:
        row = dict(scope=scope, job=job, modified=cursor.modified, deal_id=cursor.deal_id, updated_at=self._clock())
        self._upsert(conn, cursors, [row], ("scope", "job"))

    # -- the ledger ----------------------------------------------------------------------------

    def ledger_for_deals(self, scope: str, deal_ids: Iterable[str]) -> dict[str, list[LedgerEntry]]:
        """Ledger entries by deal id (deals without entries are absent), oldest cycle first."""
        found: dict[str, list[LedgerEntry]] = {}
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(set(deal_ids))):
                rows = conn.execute(
                    select(ledger)
                    .where(ledger.c.scope == scope, ledger.c.deal_id.in_(chunk))
                    .order_by(ledger.c.deal_id, ledger.c.cycle, ledger.c.due_at, ledger.c.key)
                )
                for row in rows.mappings():
                    found.setdefault(row["deal_id"], []).append(_ledger_entry(row))
        return found

    def known_deal_ids(self, scope: str, deal_ids: Iterable[str]) -> set[str]:
        """The deals among ``deal_ids`` that have any ledger entry."""
        known: set[str] = set()
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(set(deal_ids))):
                query = select(ledger.c.deal_id).distinct().where(ledger.c.scope == scope, ledger.c.deal_id.in_(chunk))
                known.update(conn.execute(query).scalars())
        return known

    def learn(self, scope: str, refs: Iterable[TaskRef], touch_point_of: TouchPointOf,
              fingerprints: Mapping[str, str] | None = None) -> int:
        """Re-learn ledger entries from tasks found in the CRM by key (after the store was lost).

        The CRM is the truth for crm id, due date and status; a known fingerprint is kept, else
        the one given (what the planner would write: the task is taken as already written).
        Refs without a deal id that the ledger does not know are ignored. Returns how many
        entries were written.
        """
        refs = list(refs)
        now = self._clock()
        with self._engine.begin() as conn:
            existing = self._entries_by_key(conn, scope, [ref.key for ref in refs])
            rows = [row for ref in refs
                    if (row := self._learnt_row(scope, ref, existing.get(ref.key), touch_point_of, fingerprints or {},
                                                now))]
            self._upsert(conn, ledger, rows, ("scope", "key"))
        return len(rows)

    def _learnt_row(
        self, scope: str, ref: TaskRef, known: LedgerEntry | None, touch_point_of: TouchPointOf,
        fingerprints: Mapping[str, str], now: dt.datetime,
    ) -> dict[str, Any] | None:
        deal_id = ref.deal_id or (known.deal_id if known else None)
        if deal_id is None:
            return None
        touch_point, cycle = touch_point_of(ref.key)
        status = EntryStatus.COMPLETED if ref.status is TaskStatus.COMPLETED else EntryStatus.OPEN
        return _ledger_row(
            scope, ref.key, deal_id, touch_point, cycle, ref.crm_id, ref.due_at, status,
            known.fingerprint if known and known.fingerprint else fingerprints.get(ref.key), now,
        )

    def _entries_by_key(self, conn: Connection, scope: str, keys: Sequence[str]) -> dict[str, LedgerEntry]:
        entries: dict[str, LedgerEntry] = {}
        for chunk in _chunks(sorted(set(keys))):
            rows = conn.execute(select(ledger).where(ledger.c.scope == scope, ledger.c.key.in_(chunk)))
            entries.update((row["key"], _ledger_entry(row)) for row in rows.mappings())
        return entries

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, scope: str, job: str, dry_run: bool = False) -> int:
        row = dict(
            scope=_require_scope(scope), job=job, dry_run=dry_run, host=self._host, pid=os.getpid(),
            started_at=self._clock(), counts={}, api_calls=0, api_calls_by_endpoint={},
        )
        with self._engine.begin() as conn:
            return int(conn.execute(insert(runs).values(**row)).inserted_primary_key[0])

    def finish_run(
        self,
        run_id: int,
        outcome: RunOutcome | str,
        counts: Mapping[str, int] | None = None,
        api_calls: int | Mapping[str, int] | CallStats = 0,
        error: str | None = None,
    ) -> None:
        """Close a run. ``api_calls``: a total, calls per endpoint, or the adapter's ``CallStats``."""
        total, by_endpoint = _api_calls(api_calls)
        values = dict(
            outcome=RunOutcome(outcome).value, finished_at=self._clock(), counts={k: int(v) for k, v in (counts or {}).items()},
            api_calls=total, api_calls_by_endpoint=by_endpoint, error=error,
        )
        # A run marked abandoned by a racing lock holder may still report its real outcome.
        open_run = or_(runs.c.outcome.is_(None), runs.c.error == _ABANDONED)
        with self._engine.begin() as conn:
            if conn.execute(update(runs).where(runs.c.id == run_id, open_run).values(**values)).rowcount == 1:
                return
            exists = conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first()
        raise ValueError(f"run {run_id} {'is already finished' if exists else 'does not exist'}")

    def recent_runs(self, scope: str | None = None, limit: int = 20) -> list[RunSummary]:
        """Newest first."""
        query = select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
        if scope is not None:
            query = query.where(runs.c.scope == scope)
        with self._engine.connect() as conn:
            return [_run_summary(row) for row in conn.execute(query).mappings()]

    def run_records(self, run_id: int) -> list[RunRecord]:
        """What happened to each record in one run, in the order it was recorded."""
        query = select(run_records).where(run_records.c.run_id == run_id).order_by(run_records.c.id)
        with self._engine.connect() as conn:
            return [_run_record(row) for row in conn.execute(query).mappings()]

    def deal_history(self, scope: str, deal_id: str, limit: int = 500) -> list[RunRecord]:
        """What the kept runs of ``scope`` did to one deal, newest run first (record order within
        a run): created, rescheduled, skipped and why, rejected with the CRM's words."""
        query = (
            select(run_records).join(runs, runs.c.id == run_records.c.run_id)
            .where(runs.c.scope == scope, run_records.c.deal_id == deal_id)
            .order_by(run_records.c.run_id.desc(), run_records.c.id).limit(limit)
        )
        with self._engine.connect() as conn:
            return [_run_record(row) for row in conn.execute(query).mappings()]

    def run_summary(self, scope: str, run_id: int) -> RunSummary | None:
        """One run of ``scope``, or None (no such run, or another scope's)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id, runs.c.scope == scope)).mappings().first()
        return _run_summary(row) if row is not None else None

    def prune_runs(self, before: dt.datetime) -> int:
        """Delete finished runs (and their records) started before ``before``; returns how many."""
        old = select(runs.c.id).where(runs.c.started_at < before, runs.c.outcome.is_not(None))
        with self._engine.begin() as conn:
            conn.execute(delete(run_records).where(run_records.c.run_id.in_(old)))
            return conn.execute(delete(runs).where(runs.c.id.in_(old))).rowcount

    # -- results -------------------------------------------------------------------------------

    def record_results(
        self,
        scope: str,
        run_id: int,
        results: Sequence[ActionResult],
        fingerprints: Mapping[str, str] | None = None,
        *,
        touch_point_of: TouchPointOf | None = None,
        processed_deal_ids: Iterable[str] = (),
    ) -> None:
        """Store what the CRM did, in one transaction: a run record per result, ledger changes,
        rejected records. See ``commit_page`` for the arguments."""
        with self._engine.begin() as conn:
            self._record(conn, scope, run_id, results, fingerprints or {}, touch_point_of, processed_deal_ids)

    def commit_page(
        self,
        scope: str,
        job: str,
        run_id: int,
        results: Sequence[ActionResult],
        fingerprints: Mapping[str, str] | None,
        cursor: Cursor | None,
        *,
        touch_point_of: TouchPointOf | None = None,
        processed_deal_ids: Iterable[str] = (),
        revisits: Mapping[str, dt.datetime | None] | None = None,
    ) -> None:
        """Record one page's results and advance the cursor past it, in one transaction.

        ``fingerprints``: key -> digest of the task content written (kept in the ledger).
        ``touch_point_of``: key -> (touch point, cycle); default: read from AfterClose's own
        task keys (jobs.core.keys), else the spec's touch point and the known (or 0) cycle.
        ``processed_deal_ids``: deals handled in this page even if they produced no results; any
        of them (and any deal in ``results``) without a rejection now has its rejections cleared.
        ``revisits``: deal id -> when to re-read it; a processed deal missing from it has no
        revisit any more (the planner gave none), so its old one is dropped.
        A dry run records the run records only: no ledger, rejection, revisit or cursor change.
        """
        processed = set(processed_deal_ids)
        with self._engine.begin() as conn:
            dry_run = self._record(conn, scope, run_id, results, fingerprints or {}, touch_point_of, processed)
            if dry_run:
                return
            if revisits is not None:
                gone = {deal_id: None for deal_id in processed if deal_id not in revisits}
                self._set_revisits(conn, scope, {**gone, **revisits})
            if cursor is not None:
                self._set_cursor(conn, scope, job, cursor)

    def _record(
        self, conn: Connection, scope: str, run_id: int, results: Sequence[ActionResult],
        fingerprints: Mapping[str, str], touch_point_of: TouchPointOf | None, processed: Iterable[str],
    ) -> bool:
        dry_run = self._open_run_is_dry(conn, scope, run_id)
        now = self._clock()
        if results:
            _execute_many(conn, insert(run_records), [_run_record_row(run_id, result, now) for result in results])
        if dry_run:
            return True
        existing = self._entries_by_key(conn, scope, [_key(r) for r in results])
        changes = {}
        for result in results:
            row = self._ledger_change(scope, result, existing.get(_key(result)), fingerprints, touch_point_of, now)
            if row is not None:
                changes[row["key"]] = row  # a later result for the same key wins
        self._upsert(conn, ledger, list(changes.values()), ("scope", "key"))
        self._update_rejections(conn, scope, run_id, results, set(processed), now)
        return False

    def _open_run_is_dry(self, conn: Connection, scope: str, run_id: int) -> bool:
        run = conn.execute(select(runs.c.scope, runs.c.dry_run, runs.c.outcome).where(runs.c.id == run_id)).first()
        if run is None:
            raise ValueError(f"run {run_id} does not exist")
        if run.scope != scope:
            raise ValueError(f"run {run_id} belongs to scope {run.scope!r}, not {scope!r}")
        if run.outcome is not None:
            raise ValueError(f"run {run_id} is already finished ({run.outcome}); start a new run")
        return bool(run.dry_run)

    def _ledger_change(
        self, scope: str, result: ActionResult, known: LedgerEntry | None,
        fingerprints: Mapping[str, str], touch_point_of: TouchPointOf | None, now: dt.datetime,
    ) -> dict[str, Any] | None:
        """The ledger row a successful result leads to, or None (rejections, record updates)."""
        action = result.action
        if result.rejected or not isinstance(action, CreateTask | UpdateTask | CloseTask | Skip):
            return None
        if result.outcome is Outcome.SKIPPED and not isinstance(action, Skip):
            return None  # the adapter declined to write it: the CRM holds nothing new
        key = action.key
        spec = action.spec if isinstance(action, CreateTask | UpdateTask) else None
        if touch_point_of is not None:
            touch_point, cycle = touch_point_of(key)
        elif (parts := _task_key_parts(key)) is not None:
            touch_point, cycle = parts
        elif known is not None:
            touch_point, cycle = known.touch_point, known.cycle
        else:
            touch_point, cycle = (spec.touch_point if spec else ""), 0
        crm_id = result.crm_id or getattr(action, "crm_id", None) or (known.crm_id if known else None)
        fingerprint = fingerprints.get(key, known.fingerprint if known else None)
        if spec is not None:
            status, due_at = EntryStatus.OPEN, spec.due_at
        else:
            status = EntryStatus.COMPLETED if isinstance(action, CloseTask) else EntryStatus.SKIPPED
            due_at = known.due_at if known else None
        return _ledger_row(scope, key, action.deal_id, touch_point, cycle, crm_id, due_at, status, fingerprint, now)

    def _update_rejections(
        self, conn: Connection, scope: str, run_id: int, results: Sequence[ActionResult],
        processed: set[str], now: dt.datetime,
    ) -> None:
        rejected = [r for r in results if r.rejected]
        if rejected:
            rows = [_rejected_row(scope, run_id, r, now) for r in rejected]
            self._upsert(
                conn, rejected_records, rows, ("scope", "key"),
                increment={"attempts": rejected_records.c.attempts + 1},
                keep=("first_seen",),
            )
        still_failing = {r.action.deal_id for r in rejected}
        # A deal with no rejection left is cleared whole below; only a deal that still fails
        # needs its succeeded keys cleared one by one.
        succeeded_keys = [_key(r) for r in results if not r.rejected and r.action.deal_id in still_failing]
        for chunk in _chunks(sorted(set(succeeded_keys))):
            conn.execute(delete(rejected_records).where(rejected_records.c.scope == scope, rejected_records.c.key.in_(chunk)))
        clean_deals = (processed | {r.action.deal_id for r in results}) - still_failing
        for chunk in _chunks(sorted(clean_deals)):
            conn.execute(
                delete(rejected_records).where(rejected_records.c.scope == scope, rejected_records.c.deal_id.in_(chunk))
            )

    # -- rejected records and revisits ---------------------------------------------------------

    def rejected(self, scope: str) -> list[RejectedRecord]:
        query = (
            select(rejected_records)
            .where(rejected_records.c.scope == scope)
            .order_by(rejected_records.c.first_seen, rejected_records.c.key)
        )
        with self._engine.connect() as conn:
            return [_rejected_record(row) for row in conn.execute(query).mappings()]

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

    def clear_rejected(self, scope: str, deal_ids: Iterable[str]) -> None:
        with self._engine.begin() as conn:
            for chunk in _chunks(sorted(set(deal_ids))):
                conn.execute(delete(rejected_records).where(rejected_records.c.scope == scope, rejected_records.c.deal_id.in_(chunk)))

    def set_revisits(self, scope: str, revisit_at: Mapping[str, dt.datetime | None]) -> None:
        """When to re-read each deal (the next renewal cycle); None forgets the deal's revisit."""
        with self._engine.begin() as conn:
            self._set_revisits(conn, _require_scope(scope), revisit_at)

    def _set_revisits(self, conn: Connection, scope: str, revisit_at: Mapping[str, dt.datetime | None]) -> None:
        for deal_id, when in revisit_at.items():
            require_aware(f"revisit_at[{deal_id!r}]", when)
        rows = [dict(scope=scope, deal_id=d, revisit_at=w) for d, w in revisit_at.items() if w is not None]
        gone = sorted(d for d, w in revisit_at.items() if w is None)
        self._upsert(conn, revisits_table, rows, ("scope", "deal_id"))
        for chunk in _chunks(gone):
            conn.execute(delete(revisits_table).where(revisits_table.c.scope == scope, revisits_table.c.deal_id.in_(chunk)))

    def due_revisits(self, scope: str, now: dt.datetime) -> list[str]:
        """Deals whose revisit time has come, earliest first."""
        require_aware("now", now)
        table = revisits_table
        query = (
            select(table.c.deal_id)
            .where(table.c.scope == scope, table.c.revisit_at <= now)
            .order_by(table.c.revisit_at, table.c.deal_id)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    # -- helpers -------------------------------------------------------------------------------

    # -- NPS responses (the NPS job, jobs/nps.py) ----------------------------------------------

    def nps_statuses(self, scope: str, response_ids: Iterable[str]) -> dict[str, NpsStatus]:
        """The status of each response id seen before (ids never seen are absent)."""
        table = nps_responses
        found: dict[str, NpsStatus] = {}
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(set(response_ids))):
                query = select(table.c.response_id, table.c.status).where(
                    table.c.scope == scope, table.c.response_id.in_(chunk))
                found.update((row.response_id, NpsStatus(row.status)) for row in conn.execute(query))
        return found

    def nps_responses(self, scope: str, statuses: Iterable[NpsStatus] | None = None) -> list[StoredNpsResponse]:
        """Stored responses (all, or those with one of ``statuses``), oldest first seen first."""
        table = nps_responses
        query = select(table).where(table.c.scope == scope)
        if statuses is not None:
            query = query.where(table.c.status.in_([NpsStatus(s).value for s in statuses]))
        query = query.order_by(table.c.first_seen, table.c.response_id)
        with self._engine.connect() as conn:
            return [_stored_nps(row) for row in conn.execute(query).mappings()]

    def nps_to_retry(self, scope: str) -> list[StoredNpsResponse]:
        """Responses not yet written back: unmatched (the contact may exist now) or rejected by the CRM."""
        return self.nps_responses(scope, (NpsStatus.UNMATCHED, NpsStatus.REJECTED))

    def nps_history(self, scope: str, account_ids: Iterable[str]) -> list[StoredNpsResponse]:
        """Responses already matched to these accounts (what the ``latest``/``average`` policy weighs)."""
        table = nps_responses
        out: list[StoredNpsResponse] = []
        with self._engine.connect() as conn:
            for chunk in _chunks(sorted(set(account_ids))):
                query = (select(table)
                         .where(table.c.scope == scope, table.c.status == NpsStatus.MATCHED.value,
                                table.c.matched_account_id.in_(chunk))
                         .order_by(table.c.responded_at, table.c.response_id))
                out.extend(_stored_nps(row) for row in conn.execute(query).mappings())
        return out

    def ledger_for_touch_points(self, scope: str, prefixes: Iterable[str]) -> dict[str, LedgerEntry]:
        """Ledger entries whose touch point starts with one of ``prefixes``, by key (the NPS tasks,
        whose touch point carries the response digest: ``nps_referral_ask_<digest>``)."""
        wanted = tuple(prefixes)
        conditions = [ledger.c.touch_point.startswith(p, autoescape=True) for p in wanted]
        if not conditions:
            return {}
        query = select(ledger).where(ledger.c.scope == scope, or_(*conditions)).order_by(ledger.c.key)
        with self._engine.connect() as conn:
            return {row["key"]: _ledger_entry(row) for row in conn.execute(query).mappings()}

    def commit_nps(
        self,
        scope: str,
        run_id: int,
        results: Sequence[ActionResult],
        records: Sequence[NpsRecord],
        cursor: Cursor | None,
        *,
        learned: Sequence[TaskRef] = (),
        touch_point_of: TouchPointOf | None = None,
    ) -> None:
        """Record one NPS run in one transaction: a run record per result, the task ledger (tasks
        made, skipped, or ``learned`` from the CRM: a completed referral ask), each response's
        status, and the source cursor ``cursor`` (job ``"nps"``; None keeps the old one).

        Unlike ``commit_page`` this leaves ``afterclose_rejected`` alone: a refused NPS write is
        kept on its response (status ``rejected``) and re-planned by the NPS job, so the sync
        job neither re-reads its deal nor clears it. A dry run's records only are stored."""
        now = self._clock()
        with self._engine.begin() as conn:
            if results:
                _execute_many(conn, insert(run_records), [_run_record_row(run_id, r, now) for r in results])
            if self._open_run_is_dry(conn, scope, run_id):
                return
            keys = [_key(r) for r in results] + [ref.key for ref in learned]
            existing = self._entries_by_key(conn, scope, keys)
            changes: dict[str, dict[str, Any]] = {}
            for result in results:
                row = self._ledger_change(scope, result, existing.get(_key(result)), {}, touch_point_of, now)
                if row is not None:
                    changes[row["key"]] = row
            for ref in learned:
                row = self._learnt_row(scope, ref, existing.get(ref.key), touch_point_of or _key_parts, {}, now)
                if row is not None:
                    changes[row["key"]] = row
            self._upsert(conn, ledger, list(changes.values()), ("scope", "key"))
            rows = [_nps_row(scope, record, now) for record in records]
            self._upsert(conn, nps_responses, rows, ("scope", "response_id"),
                         increment={"attempts": nps_responses.c.attempts + 1}, keep=("first_seen",))
            if cursor is not None:
                self._set_cursor(conn, scope, "nps", cursor)

    # -- flags and schedule slots --------------------------------------------------------------

    def get_flag(self, scope: str, name: str) -> str | None:
        query = select(flags.c.value).where(flags.c.scope == scope, flags.c.name == name)
        with self._engine.connect() as conn:
            return conn.execute(query).scalar()

    def set_flag(self, scope: str, name: str, value: str | None) -> None:
        """Set (or, with None, clear) a named flag of the scope."""
        with self._engine.begin() as conn:
            if value is None:
                conn.execute(delete(flags).where(flags.c.scope == scope, flags.c.name == name))
            else:
                row = {"scope": _require_scope(scope), "name": name, "value": value, "updated_at": self._clock()}
                self._upsert(conn, flags, [row], ("scope", "name"))

    def claim_slot(self, scope: str, job: str, fire_time: dt.datetime) -> bool:
        """Claim one scheduled tick; False when another replica already claimed it.

        The run lock stops two replicas from running *at the same time*; a claimed slot stops
        the second one from running the same tick again right after the first has finished.
        """
        require_aware("fire_time", fire_time)
        row = {"scope": _require_scope(scope), "job": job, "fire_time": fire_time,
               "host": socket.gethostname(), "pid": os.getpid(), "claimed_at": self._clock()}
        statement = (self._backend.insert(slots)
                     .on_conflict_do_nothing(index_elements=["scope", "job", "fire_time"])
                     .returning(slots.c.job))  # rowcount is -1 for this statement on psycopg
        with self._engine.begin() as conn:
            return conn.execute(statement, row).first() is not None

    def _upsert(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...], *,
        increment: Mapping[str, Any] | None = None, keep: tuple[str, ...] = (),
    ) -> None:
        """INSERT ... ON CONFLICT DO UPDATE (same syntax on SQLite >= 3.24 and PostgreSQL)."""
        if not rows:
            return
        statement = self._backend.insert(table)
        changed = {
            name: statement.excluded[name] for name in rows[0] if name not in keys and name not in keep
        }
        changed.update(increment or {})
        _execute_many(conn, statement.on_conflict_do_update(index_elements=list(keys), set_=changed), rows)


def _execute_many(conn: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
    """``conn.execute(statement, rows)`` without Core's per-row parameter machinery.

    Core builds every row's parameters through its compiled-statement code, ~40 µs a row; a big
    first run stores ~20 rows per deal (run records and ledger entries), and that was half of the
    run's client CPU (docs/benchmarks.md). Here the statement is compiled once, the parameters are
    built a column at a time with each bind processor (``UtcDateTime``'s conversion to UTC,
    SQLite's datetime-to-text) applied once per distinct value, and the driver's own
    ``executemany`` takes the rows. Every row has the same keys.
    """
    if not rows:
        return
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(rows[0]))
    constants = compiled.construct_params(rows[0])  # also the binds that are not row values ("attempts + 1")
    types = {name: bind.type for bind, name in compiled.bind_names.items()}  # by the name in the SQL
    names = list(compiled.positiontup) if compiled.positional else list(types)
    columns = []
    for name in names:
        process = _once_per_value(types[name].dialect_impl(dialect).bind_processor(dialect))
        if name in rows[0]:
            columns.append(list(map(process, (row[name] for row in rows))))
        else:
            columns.append([process(constants[name])] * len(rows))
    if compiled.positional:
        params: list[Any] = list(zip(*columns))
    else:
        keys = [compiled.escaped_bind_names.get(name, name) for name in names]
        params = [dict(zip(keys, values)) for values in zip(*columns)]
    conn.exec_driver_sql(compiled.string, params)


def _once_per_value(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """A bind processor that converts each distinct value once (a page's rows share timestamps)."""
    if process is None:
        return lambda value: value
    seen: dict[Any, Any] = {None: None}

    def converted(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = out = process(value)
            return out
        except TypeError:  # unhashable (a JSON value)
            return process(value)

    return converted


def _key(result: ActionResult) -> str:
    return result.action.key


def _task_key_parts(key: str) -> tuple[str, int] | None:
    """(touch point, cycle) from one of AfterClose's own task keys, else None."""
    try:
        parsed = parse_key(key)
    except ValueError:
        return None
    return parsed.touch_point, parsed.cycle


def _api_calls(api_calls: int | Mapping[str, int] | CallStats) -> tuple[int, dict[str, int]]:
    if isinstance(api_calls, CallStats):
        return api_calls.total, dict(api_calls.by_endpoint)
    if isinstance(api_calls, Mapping):
        by_endpoint = {str(k): int(v) for k, v in api_calls.items()}
        return sum(by_endpoint.values()), by_endpoint
    return int(api_calls), {}


def _ledger_row(
    scope: str, key: str, deal_id: str, touch_point: str, cycle: int, crm_id: str | None,
    due_at: dt.datetime | None, status: EntryStatus, fingerprint: str | None, now: dt.datetime,
) -> dict[str, Any]:
    """One ledger row; ``now`` is read once per transaction (its rows share one timestamp)."""
    return dict(
        scope=scope, key=key, deal_id=deal_id, touch_point=touch_point, cycle=cycle, crm_id=crm_id,
        due_at=due_at, status=status.value, fingerprint=fingerprint, updated_at=now,
    )


def _run_record_row(run_id: int, result: ActionResult, now: dt.datetime) -> dict[str, Any]:
    return dict(
        run_id=run_id, deal_id=result.action.deal_id, key=result.action.key, action_kind=result.action.kind.value,
        outcome=result.outcome.value, crm_id=result.crm_id, message=result.message,
        error_code=result.error_code, correlation_id=result.correlation_id, recorded_at=now,
    )


def _rejected_row(scope: str, run_id: int, result: ActionResult, now: dt.datetime) -> dict[str, Any]:
    return dict(
        scope=scope, key=result.action.key, deal_id=result.action.deal_id, action_kind=result.action.kind.value,
        reason=result.message, error_code=result.error_code, attempts=1, first_seen=now, last_seen=now,
        last_run_id=run_id,
    )


def _ledger_entry(row: Mapping[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        key=row["key"], deal_id=row["deal_id"], touch_point=row["touch_point"], cycle=row["cycle"],
        crm_id=row["crm_id"], due_at=row["due_at"], status=EntryStatus(row["status"]), fingerprint=row["fingerprint"],
    )


def _run_summary(row: Mapping[str, Any]) -> RunSummary:
    return RunSummary(
        id=row["id"], scope=row["scope"], job=row["job"], dry_run=bool(row["dry_run"]), host=row["host"],
        pid=row["pid"], started_at=row["started_at"], finished_at=row["finished_at"],
        outcome=RunOutcome(row["outcome"]) if row["outcome"] else None, counts=dict(row["counts"]),
        api_calls=row["api_calls"], api_calls_by_endpoint=dict(row["api_calls_by_endpoint"]), error=row["error"],
    )


def _run_record(row: Mapping[str, Any]) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"], deal_id=row["deal_id"], key=row["key"], action_kind=row["action_kind"],
        outcome=Outcome(row["outcome"]), crm_id=row["crm_id"], message=row["message"],
        error_code=row["error_code"], correlation_id=row["correlation_id"], recorded_at=row["recorded_at"],
    )


def _key_parts(key: str) -> tuple[str, int]:
    return _task_key_parts(key) or ("", 0)


def _nps_row(scope: str, record: NpsRecord, now: dt.datetime) -> dict[str, Any]:
    r = record.response
    return dict(
        scope=_require_scope(scope), response_id=r.response_id, email=r.email, account_id=r.account_id,
        score=r.score, responded_at=r.responded_at, comment=r.comment, source=r.source or "",
        status=NpsStatus(record.status).value, matched_account_id=record.account_id, reason=record.reason,
        attempts=1, first_seen=now, last_seen=now,
    )


def _stored_nps(row: Mapping[str, Any]) -> StoredNpsResponse:
    response = NpsResponse(
        response_id=row["response_id"], email=row["email"], score=row["score"], responded_at=row["responded_at"],
        comment=row["comment"], account_id=row["account_id"], source=row["source"],
    )
    return StoredNpsResponse(
        response=response, status=NpsStatus(row["status"]), account_id=row["matched_account_id"],
        reason=row["reason"], attempts=row["attempts"], first_seen=row["first_seen"], last_seen=row["last_seen"],
    )


def _rejected_record(row: Mapping[str, Any]) -> RejectedRecord:
    return RejectedRecord(
        scope=row["scope"], deal_id=row["deal_id"], key=row["key"], action_kind=row["action_kind"],
        reason=row["reason"], error_code=row["error_code"], attempts=row["attempts"],
        first_seen=row["first_seen"], last_seen=row["last_seen"],
    )
