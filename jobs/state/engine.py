"""Opening a state database: URL -> engine -> migrated schema, and the SQL helpers every part of
the store shares (chunked IN lists, fast executemany, upsert).

Why it is built this way:

- The schema is versioned with Alembic and migrated when the store is opened, inside one
  transaction that also serialises concurrent openers (``BEGIN IMMEDIATE`` on SQLite, a
  transaction-level advisory lock on PostgreSQL). A database migrated by a *newer* AfterClose is
  refused rather than guessed at.
- SQLite transactions take the write lock at BEGIN (``_use_immediate_transactions``), so a reader
  that later writes never fails with "database is locked" without waiting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tenacity
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Table, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from connector.errors import ConfigError
from jobs.state.damage import report_sqlite_damage
from jobs.state.values import SchemaTooNewError

UTC = dt.UTC
DEFAULT_STATE_URL = "sqlite:///.afterclose/state.db"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "afterclose_alembic_version"
"""Our own name, so a PostgreSQL database shared with another Alembic user does not collide."""
IN_CHUNK = 500
"""Values per ``IN (...)`` list: far below SQLite's bound-parameter limit."""


@dataclass(kw_only=True)
class Backend:
    """What differs between SQLite and PostgreSQL, decided once at open."""

    name: str
    lock_dir: Path | None = None  # SQLite: where the per-scope lock files live
    lock_stem: str = ""
    owns_lock_dir: bool = False  # an in-memory store's private lock folder, removed on close
    pg_schema: str = ""  # PostgreSQL: part of the advisory-lock key (schemas are separate stores)
    shown: str = ""  # how messages name the database: the SQLite file, or the URL without its password
    insert: Callable[..., Any] = field(default=sqlite.insert)


def parse_url(url: str) -> URL:
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


def engine_for(url: URL) -> tuple[Engine, Backend]:
    return (_sqlite_engine if url.get_backend_name() == "sqlite" else _postgres_engine)(url)


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _sqlite_engine(url: URL) -> tuple[Engine, Backend]:
    if _is_memory(url):
        # One shared connection, or every checkout would see a different empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        backend = Backend(name="sqlite", lock_dir=Path(tempfile.mkdtemp(prefix="afterclose-memory-")),
                          lock_stem="memory", owns_lock_dir=True, shown="(in memory)")
    else:
        db_path = Path(url.database or "")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # timeout: wait this long for another process's write transaction instead of failing.
        engine = create_engine(url, connect_args={"timeout": SQLITE_WAIT_SECONDS})
        backend = Backend(name="sqlite", lock_dir=db_path.parent, lock_stem=db_path.name,
                          shown=str(db_path.absolute()))
        report_sqlite_damage(engine, db_path.absolute())
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
        _switch_to_wal(cursor)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


SQLITE_WAIT_SECONDS = 30
"""How long a SQLite connection waits for another process's lock (the driver's busy timeout)."""


def _switch_to_wal(cursor: Any) -> None:
    """WAL journal mode, so readers do not block the writer.

    Switching a file that is not yet in WAL mode needs an exclusive lock, and SQLite answers
    "database is locked" at once, without the busy timeout, while another connection holds a
    write lock or is switching too (two runs started together on a new state file). So the
    switch is retried for as long as any other lock would be waited for.
    """
    for attempt in tenacity.Retrying(
        retry=tenacity.retry_if_exception(_is_locked), stop=tenacity.stop_after_delay(SQLITE_WAIT_SECONDS),
        wait=tenacity.wait_random(0.01, 0.1), reraise=True,
    ):
        with attempt:
            cursor.execute("PRAGMA journal_mode=WAL")


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _postgres_engine(url: URL) -> tuple[Engine, Backend]:
    engine = create_engine(url, pool_pre_ping=True)
    with engine.connect() as conn:
        schema = conn.execute(select(func.current_schema())).scalar_one()
    return engine, Backend(name="postgresql", pg_schema=schema, insert=postgresql.insert,
                           shown=url.render_as_string(hide_password=True))


# -- migrations --------------------------------------------------------------------------------


def schema_head() -> str:
    """The newest schema revision this code knows (what ``open`` migrates to)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def migrate(engine: Engine, backend: Backend) -> None:
    with engine.connect() as conn, conn.begin():
        if backend.name == "postgresql":
            # Two processes opening a fresh database at once must not both create the tables.
            conn.execute(select(func.pg_advisory_xact_lock(advisory_key("migrate", backend.pg_schema))))
        config = _alembic_config(conn)
        _refuse_newer_schema(conn, ScriptDirectory.from_config(config))
        command.upgrade(config, "head")


def _alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = VERSION_TABLE
    return config


def _refuse_newer_schema(conn: Connection, scripts: ScriptDirectory) -> None:
    current = current_revision(conn)
    known = {script.revision for script in scripts.walk_revisions()}
    if current is not None and current not in known:
        raise SchemaTooNewError(
            f"the state database is at schema revision {current!r}, which this AfterClose does not "
            f"know (it knows up to {scripts.get_current_head()!r}): it was migrated by a newer "
            "version. Upgrade AfterClose, or point [state] url at another database."
        )


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key (Python's ``hash`` differs per process, so it cannot be used)."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# -- SQL helpers ---------------------------------------------------------------------------------


def chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def require_scope(scope: str) -> str:
    if not isinstance(scope, str) or not scope.strip():
        raise ValueError(f"scope must be a non-empty string, got {scope!r}")
    return scope


def upsert(
    conn: Connection, backend: Backend, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...], *,
    increment: Mapping[str, Any] | None = None, keep: tuple[str, ...] = (),
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE (same syntax on SQLite >= 3.24 and PostgreSQL)."""
    if not rows:
        return
    statement = backend.insert(table)
    changed = {
        name: statement.excluded[name] for name in rows[0] if name not in keys and name not in keep
    }
    changed.update(increment or {})
    execute_many(conn, statement.on_conflict_do_update(index_elements=list(keys), set_=changed), rows)


def execute_many(conn: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
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
        params: list[Any] = list(zip(*columns, strict=True))
    else:
        keys = [compiled.escaped_bind_names.get(name, name) for name in names]
        params = [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]
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
