"""Where each job reads next: cursors, the deals to re-read later (revisits), and scope flags."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from connector.model import Cursor, require_aware
from jobs.state.base import StoreBase
from jobs.state.damage import unreadable_value_error
from jobs.state.engine import chunks, require_scope
from jobs.state.tables import cursors, flags, revisits_table


class CursorsMixin(StoreBase):
    def get_cursor(self, scope: str, job: str) -> Cursor | None:
        """Where ``job`` reads next; ``StateCorruptError`` naming the row when it cannot be read."""
        query = select(cursors.c.modified, cursors.c.deal_id).where(cursors.c.scope == scope, cursors.c.job == job)
        try:
            with self._engine.connect() as conn:
                row = conn.execute(query).first()
            return Cursor(modified=row.modified, deal_id=row.deal_id) if row else None
        except (ValueError, TypeError) as exc:  # a value no datetime can be made of
            raise unreadable_value_error(
                f"the {job} cursor of scope {scope!r}", self._backend.shown, exc,
                f"Safe to do: delete that cursor (DELETE FROM afterclose_cursors WHERE scope = '{scope}' AND "
                f"job = '{job}'); the next run then reads every deal again and re-learns nothing twice. "
                "Or move the state database aside; AfterClose re-learns its tasks from the CRM by their keys.",
            ) from None

    def set_cursor(self, scope: str, job: str, cursor: Cursor) -> None:
        with self._write(scope) as conn:
            self._set_cursor(conn, require_scope(scope), job, cursor)

    def reset_cursor(self, scope: str, job: str) -> None:
        """Forget the position: the next run reads from the beginning (a full resync)."""
        with self._write(scope) as conn:
            conn.execute(delete(cursors).where(cursors.c.scope == scope, cursors.c.job == job))

    def _set_cursor(self, conn: Connection, scope: str, job: str, cursor: Cursor) -> None:
        row = dict(scope=scope, job=job, modified=cursor.modified, deal_id=cursor.deal_id, updated_at=self._clock())
        self._upsert(conn, cursors, [row], ("scope", "job"))

    # -- revisits: deals to re-read when their next renewal cycle begins -------------------------

    def set_revisits(self, scope: str, revisit_at: Mapping[str, dt.datetime | None]) -> None:
        """When to re-read each deal (the next renewal cycle); None forgets the deal's revisit."""
        with self._write(scope) as conn:
            self._set_revisits(conn, require_scope(scope), revisit_at)

    def _set_revisits(self, conn: Connection, scope: str, revisit_at: Mapping[str, dt.datetime | None]) -> None:
        for deal_id, when in revisit_at.items():
            require_aware(f"revisit_at[{deal_id!r}]", when)
        rows = [dict(scope=scope, deal_id=d, revisit_at=w) for d, w in revisit_at.items() if w is not None]
        gone = sorted(d for d, w in revisit_at.items() if w is None)
        self._upsert(conn, revisits_table, rows, ("scope", "deal_id"))
        for chunk in chunks(gone):
            conn.execute(delete(revisits_table).where(revisits_table.c.scope == scope,
                                                      revisits_table.c.deal_id.in_(chunk)))

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

    # -- flags: named facts about a scope (e.g. "re-learning after a lost store") ----------------

    def get_flag(self, scope: str, name: str) -> str | None:
        query = select(flags.c.value).where(flags.c.scope == scope, flags.c.name == name)
        with self._engine.connect() as conn:
            return conn.execute(query).scalar()

    def set_flag(self, scope: str, name: str, value: str | None) -> None:
        """Set (or, with None, clear) a named flag of the scope."""
        with self._write(scope) as conn:
            if value is None:
                conn.execute(delete(flags).where(flags.c.scope == scope, flags.c.name == name))
            else:
                row = {"scope": require_scope(scope), "name": name, "value": value, "updated_at": self._clock()}
                self._upsert(conn, flags, [row], ("scope", "name"))
