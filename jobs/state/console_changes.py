"""The admin console's change log: who changed which mapping or playbook file, when, and how.

Written in the same breath as the file (jobs/console/edits.py), read by the console's change
page. The diff is masked with the registered secrets on its way in, like every text the store
keeps (rows.py), although mapping and playbook files hold none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from jobs.state.base import StoreBase
from jobs.state.rows import masked
from jobs.state.tables import console_changes


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsoleChange:
    id: int
    changed_at: datetime
    actor: str
    """Who: the name given at sign-in, or the user the trusted proxy named."""
    role: str
    kind: str
    """``mapping`` or ``playbooks``."""
    path: str
    summary: str
    diff: str


class ConsoleChangesMixin(StoreBase):
    def record_console_change(self, *, actor: str, role: str, kind: str, path: str, summary: str,
                              diff: str) -> int:
        row = dict(changed_at=self._clock(), actor=actor, role=role, kind=kind, path=path, summary=summary,
                   diff=masked(diff) or "")
        with self._engine.begin() as conn:
            key = conn.execute(insert(console_changes).values(**row)).inserted_primary_key
            assert key is not None
            return int(key[0])

    def console_changes(self, limit: int = 50) -> list[ConsoleChange]:
        """Newest first."""
        query = select(console_changes).order_by(console_changes.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [ConsoleChange(**dict(row)) for row in conn.execute(query).mappings()]
