"""A state database that cannot be read as it is: what to tell the person who must mend it.

A SQLite file can be damaged (a full or failing disk, a copy taken mid-write, a truncated
restore); a value in it can be unreadable (edited by hand, written by a broken tool). Either way
every command would otherwise stop with a driver traceback ("internal error", exit 4) forever.
Instead they raise ``StateCorruptError`` (exit 2): the message names the file, says what is wrong
and what is safe to do. Moving the file aside is safe because AfterClose's tasks carry their keys
in the CRM: a new state database re-learns them by key (jobs/sync/job.py, ``relearn``) and
creates nothing twice (docs/reliability.md, section 2).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from jobs.state.values import StateCorruptError

SQLITE_DAMAGE = ("file is not a database", "database disk image is malformed", "malformed database schema",
                 "file is encrypted")
"""SQLite's words for a file it cannot read as a database (SQLITE_NOTADB, SQLITE_CORRUPT)."""


def move_aside_advice(path: Path) -> str:
    return (f"Safe to do: stop AfterClose, move it aside (mv {path} {path}.damaged, and its -wal and -shm files "
            "if present) and run again: a new state database re-learns AfterClose's tasks from the CRM by their "
            "keys, so nothing is created twice. Keep the moved file to look into what happened.")


def damaged_file_error(path: Path, cause: BaseException) -> StateCorruptError:
    return StateCorruptError(f"the state database {path} is damaged and cannot be read (SQLite: {cause}). "
                             + move_aside_advice(path))


def is_sqlite_damage(error: BaseException | None) -> bool:
    return isinstance(error, sqlite3.DatabaseError) and any(m in str(error).lower() for m in SQLITE_DAMAGE)


def report_sqlite_damage(engine: Engine, path: Path) -> None:
    """Every statement on ``engine`` that meets a damaged file raises ``StateCorruptError``,
    wherever it runs (opening, migrating, a read in the middle of a run)."""

    @event.listens_for(engine, "handle_error")
    def _damaged(context: Any) -> BaseException | None:
        if is_sqlite_damage(context.original_exception):
            return damaged_file_error(path, context.original_exception)
        return None


def unreadable_value_error(what: str, where: str, cause: BaseException, fix: str) -> StateCorruptError:
    return StateCorruptError(f"{what} in the state database {where} cannot be read ({type(cause).__name__}: "
                             f"{cause}). {fix}")
