"""Opening the state store: migrations, a schema from a newer AfterClose, bad URLs."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from connector.errors import ConfigError
from jobs.cli.exits import exit_code_of
from jobs.state import VERSION_TABLE, SchemaTooNewError, StateStoreError, metadata, open_store, schema_head

UTC = dt.UTC


def _stamp(url: str, revision: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :rev"), {"rev": revision})
    engine.dispose()


def test_given_schema_from_newer_afterclose_then_open_is_refused_naming_the_revision(store_url: str) -> None:
    open_store(store_url).close()
    _stamp(store_url, "0042_from_the_future")

    with pytest.raises(SchemaTooNewError, match="0042_from_the_future.*newer version") as caught:
        open_store(store_url)
    assert exit_code_of(caught.value) == 2


def test_given_two_processes_opening_a_fresh_database_at_once_then_both_succeed(store_url: str) -> None:
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            open_store(store_url).close()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_given_another_process_is_writing_a_fresh_sqlite_file_then_opening_waits_instead_of_failing(
    tmp_path: Path,
) -> None:
    # Switching a fresh file to WAL needs an exclusive lock, and SQLite answers "database is locked"
    # at once (without the busy timeout) while another connection holds a write lock or is
    # switching too: two runs started together on a new state file failed with "cannot migrate".
    path = tmp_path / "state.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other_tool (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO other_tool VALUES (1)")
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    try:
        with open_store(f"sqlite:///{path}") as store:
            assert store.schema_revision() == schema_head()
    finally:
        release.join()
        other.close()


def test_given_no_url_then_sqlite_file_under_dot_afterclose_in_working_dir_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store(None) as store:
        assert store.dialect == "sqlite"
    assert (tmp_path / ".afterclose" / "state.db").is_file()


def test_given_in_memory_sqlite_then_store_works_and_locks(tmp_path: Path) -> None:
    with open_store("sqlite://") as store:
        store.set_revisits("s", {"d1": dt.datetime(2025, 1, 1, tzinfo=UTC)})
        with store.lock("s"):
            assert store.due_revisits("s", dt.datetime(2025, 1, 2, tzinfo=UTC)) == ["d1"]


def test_given_url_from_settings_as_secret_then_store_opens(store_url: str) -> None:
    with open_store(SecretStr(store_url)) as store:
        assert store.schema_revision() == schema_head()


@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db"])
def test_given_unusable_url_then_config_error_names_state_url(url: str) -> None:
    with pytest.raises(ConfigError, match="state.url") as caught:
        open_store(url)
    assert caught.value.key == "state.url"


def test_given_unreachable_postgres_then_store_error_without_the_password() -> None:
    with pytest.raises(StateStoreError, match="cannot open the state database") as caught:
        open_store("postgresql+psycopg://afterclose:hunter2-canary@127.0.0.1:1/nowhere")
    assert "hunter2-canary" not in str(caught.value)


def test_given_migrated_database_then_it_matches_the_tables_the_code_uses(store_url: str) -> None:
    open_store(store_url).close()
    engine = create_engine(store_url, poolclass=NullPool)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == [], "write a migration for these changes (see jobs/migrations/env.py)"
