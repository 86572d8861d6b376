"""The create journal: task creates sent to the CRM whose results are not recorded yet.

A CRM adapter that cannot rely on the CRM to refuse a second task with one key (HubSpot without
unique task keys) notes the keys of a create batch here before each attempt is sent (one short
transaction, committed before the call). The one recording path (recording.py) deletes them in
the transaction that records their results, so a key still here at the next try was sent without
an answer anyone recorded (a lost response, a crash, a kill -9): the adapter looks it up before
sending it again. ``StoreJournal`` is that journal as the adapter sees it (connector.port.CreateJournal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from connector.port import SentCreate
from jobs.state.base import StoreBase
from jobs.state.engine import chunks, require_scope
from jobs.state.tables import create_intents


class IntentsMixin(StoreBase):
    def note_creates_sending(self, scope: str, run_id: int | None, creates: Mapping[str, str]) -> None:
        """Task key -> deal id, about to be sent; committed when this returns."""
        if not creates:
            return
        now = self._clock()
        rows = [dict(scope=require_scope(scope), key=key, deal_id=deal_id, run_id=run_id, sent_at=now)
                for key, deal_id in creates.items()]
        with self._engine.begin() as conn:
            self._upsert(conn, create_intents, rows, ("scope", "key"))

    def creates_in_doubt(self, scope: str, keys: Iterable[str] | None = None) -> dict[str, tuple[str, dt.datetime]]:
        """Key -> (deal id, when last sent), for the given keys (all of the scope's when None)."""
        found: dict[str, tuple[str, dt.datetime]] = {}
        columns = (create_intents.c.key, create_intents.c.deal_id, create_intents.c.sent_at)
        with self._engine.connect() as conn:
            if keys is None:
                rows = conn.execute(select(*columns).where(create_intents.c.scope == scope))
                found.update((r.key, (r.deal_id, r.sent_at)) for r in rows)
                return found
            for chunk in chunks(sorted(set(keys))):
                rows = conn.execute(select(*columns).where(create_intents.c.scope == scope,
                                                           create_intents.c.key.in_(chunk)))
                found.update((r.key, (r.deal_id, r.sent_at)) for r in rows)
        return found

    def forget_creates(self, scope: str, keys: Iterable[str]) -> None:
        """The CRM was read and holds no task for these keys: they are no longer in doubt."""
        with self._engine.begin() as conn:
            self._clear_intents(conn, scope, keys)

    def _clear_intents(self, conn: Connection, scope: str, keys: Iterable[str]) -> None:
        for chunk in chunks(sorted(set(keys))):
            conn.execute(delete(create_intents).where(create_intents.c.scope == scope,
                                                      create_intents.c.key.in_(chunk)))


class JournalStore(Protocol):
    """The part of the state store the create journal uses."""

    def note_creates_sending(self, scope: str, run_id: int | None, creates: Mapping[str, str]) -> None: ...
    def creates_in_doubt(self, scope: str, keys: Iterable[str] | None = None) -> dict[str, tuple[str, dt.datetime]]: ...
    def now(self) -> dt.datetime: ...


class StoreJournal:
    """``connector.port.CreateJournal`` over the state store, for one scope and run."""

    def __init__(self, store: JournalStore, scope: str, run_id: int | None):
        self._store, self._scope, self._run_id = store, scope, run_id

    def sending(self, creates: Mapping[str, str]) -> None:
        self._store.note_creates_sending(self._scope, self._run_id, creates)

    def in_doubt(self, keys: Iterable[str]) -> dict[str, SentCreate]:
        found = self._store.creates_in_doubt(self._scope, keys)
        if not found:
            return {}
        now = self._store.now()
        return {key: SentCreate(key=key, deal_id=deal_id, age_seconds=(now - sent_at).total_seconds())
                for key, (deal_id, sent_at) in found.items()}
