"""Alembic environment for the state store.

Users never run Alembic themselves: ``open_store`` applies these migrations with its own
connection, passed in ``config.attributes["connection"]`` inside the transaction that also holds
the migration lock (see jobs/state/engine.py).

Developers making a new revision run, from the repository root::

    AFTERCLOSE_STATE__URL=sqlite:///.afterclose/dev.db \
        alembic -c jobs/state/migrations/alembic.ini revision --autogenerate -m "what changes"

Migrations are history: write them with plain ``sa`` types and never import the live tables.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from jobs.state import DEFAULT_STATE_URL, VERSION_TABLE, metadata


def _configure_and_run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=context.config.attributes.get("version_table", VERSION_TABLE),
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = create_engine(os.environ.get("AFTERCLOSE_STATE__URL", DEFAULT_STATE_URL))
    with engine.connect() as connection:
        _configure_and_run(connection)
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; open_store migrates online")
run_migrations_online()
