"""CRM accounts and the addresses they were reached at (jobs/scopes.py decides; this stores).

A scope names one CRM account (``hubspot:portal-<id>``). A config names an address
(``hubspot:api.hubapi.com``), which several accounts share. Each run records which scope it
found behind its address, so commands that do not call the CRM (``status``) can tell which
state is theirs, and state kept under an address by an older AfterClose can be moved to its
account's scope, once.
"""

from __future__ import annotations

from sqlalchemy import exists, select, update

from jobs.core.ledger_view import LedgerEntry
from jobs.state.base import StoreBase
from jobs.state.engine import require_scope
from jobs.state.rows import ledger_entry
from jobs.state.tables import SCOPED_TABLES, instances, ledger


class InstancesMixin(StoreBase):
    def scopes_at(self, address: str) -> list[str]:
        """The scopes runs found behind ``address``, the most recently seen first."""
        query = (select(instances.c.scope).where(instances.c.address == address)
                 .order_by(instances.c.last_seen.desc(), instances.c.scope))
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def bind_scope(self, address: str, scope: str) -> None:
        """Note that a run found ``scope`` behind ``address`` (now)."""
        now = self._clock()
        row = {"address": require_scope(address), "scope": require_scope(scope), "first_seen": now, "last_seen": now}
        with self._engine.begin() as conn:
            self._upsert(conn, instances, [row], ("address", "scope"), keep=("first_seen",))

    def holds_state(self, scope: str) -> bool:
        """Whether anything is kept under ``scope``: a cursor, ledger entries, runs, NPS responses..."""
        with self._engine.connect() as conn:
            return any(conn.execute(select(exists().where(table.c.scope == scope))).scalar()
                       for table in SCOPED_TABLES)

    def ledger_sample(self, scope: str, limit: int = 20) -> list[LedgerEntry]:
        """Up to ``limit`` ledger entries of ``scope`` that name a CRM task, newest first."""
        query = (select(ledger).where(ledger.c.scope == scope, ledger.c.crm_id.is_not(None))
                 .order_by(ledger.c.updated_at.desc(), ledger.c.key).limit(limit))
        with self._engine.connect() as conn:
            return [ledger_entry(row) for row in conn.execute(query).mappings()]

    def move_scope(self, old: str, new: str) -> int:
        """Move everything kept under ``old`` to ``new`` (which must hold nothing), in one
        transaction; returns how many rows moved."""
        require_scope(new)
        with self._engine.begin() as conn:
            taken = [t.name for t in SCOPED_TABLES if conn.execute(select(exists().where(t.c.scope == new))).scalar()]
            if taken:
                raise ValueError(f"scope {new!r} already holds state ({', '.join(taken)}); not moving {old!r} onto it")
            return sum(conn.execute(update(t).where(t.c.scope == old).values(scope=new)).rowcount
                       for t in SCOPED_TABLES)
