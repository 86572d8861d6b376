"""The ledger: AfterClose's idempotency keys -> the CRM tasks they made, per scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from connector.actions import ActionResult, CloseTask, CreateDeal, CreateTask, Outcome, Skip, UpdateTask
from connector.model import TaskRef, TaskStatus
from jobs.core.keys import touch_point_and_cycle
from jobs.core.ledger_view import EntryStatus, LedgerEntry
from jobs.state.engine import chunks
from jobs.state.intents import IntentsMixin
from jobs.state.rows import ledger_entry, ledger_row
from jobs.state.tables import ledger

TouchPointOf = Callable[[str], tuple[str, int] | None]
"""Idempotency key -> (touch point id, cycle), or None when the key does not say; by default
``jobs.core.keys.touch_point_and_cycle``, the one module that reads keys."""


class LedgerMixin(IntentsMixin):
    def ledger_for_deals(self, scope: str, deal_ids: Iterable[str]) -> dict[str, list[LedgerEntry]]:
        """Ledger entries by deal id (deals without entries are absent), oldest cycle first."""
        found: dict[str, list[LedgerEntry]] = {}
        with self._engine.connect() as conn:
            for chunk in chunks(sorted(set(deal_ids))):
                rows = conn.execute(
                    select(ledger)
                    .where(ledger.c.scope == scope, ledger.c.deal_id.in_(chunk))
                    .order_by(ledger.c.deal_id, ledger.c.cycle, ledger.c.due_at, ledger.c.key)
                )
                for row in rows.mappings():
                    found.setdefault(row["deal_id"], []).append(ledger_entry(row))
        return found

    def known_deal_ids(self, scope: str, deal_ids: Iterable[str]) -> set[str]:
        """The deals among ``deal_ids`` that have any ledger entry."""
        known: set[str] = set()
        with self._engine.connect() as conn:
            for chunk in chunks(sorted(set(deal_ids))):
                query = select(ledger.c.deal_id).distinct().where(ledger.c.scope == scope, ledger.c.deal_id.in_(chunk))
                known.update(conn.execute(query).scalars())
        return known

    def ledger_for_touch_points(self, scope: str, prefixes: Iterable[str]) -> dict[str, LedgerEntry]:
        """Ledger entries whose touch point starts with one of ``prefixes``, by key (the NPS tasks,
        whose touch point carries the response digest: ``nps_referral_ask_<digest>``)."""
        conditions = [ledger.c.touch_point.startswith(p, autoescape=True) for p in prefixes]
        if not conditions:
            return {}
        query = select(ledger).where(ledger.c.scope == scope, or_(*conditions)).order_by(ledger.c.key)
        with self._engine.connect() as conn:
            return {row["key"]: ledger_entry(row) for row in conn.execute(query).mappings()}

    def learn(self, scope: str, refs: Iterable[TaskRef], touch_point_of: TouchPointOf = touch_point_and_cycle,
              fingerprints: Mapping[str, str] | None = None) -> int:
        """Re-learn ledger entries from tasks found in the CRM by key (after the store was lost).

        The CRM is the truth for crm id, due date and status; a known fingerprint is kept, else
        the one given (what the planner would write: the task is taken as already written).
        Refs without a deal id that the ledger does not know are ignored. Returns how many
        entries were written.
        """
        refs = list(refs)
        now = self._clock()
        with self._write(scope) as conn:
            existing = self._entries_by_key(conn, scope, [ref.key for ref in refs])
            rows = [row for ref in refs
                    if (row := self._learnt_row(scope, ref, existing.get(ref.key), touch_point_of, fingerprints or {},
                                                now))]
            self._upsert(conn, ledger, rows, ("scope", "key"))
            self._clear_intents(conn, scope, [ref.key for ref in refs])  # found: no longer in doubt
        return len(rows)

    def _learnt_row(
        self, scope: str, ref: TaskRef, known: LedgerEntry | None, touch_point_of: TouchPointOf,
        fingerprints: Mapping[str, str], now: dt.datetime,
    ) -> dict[str, Any] | None:
        deal_id = ref.deal_id or (known.deal_id if known else None)
        if deal_id is None:
            return None
        touch_point, cycle = touch_point_of(ref.key) or ((known.touch_point, known.cycle) if known else ("", 0))
        status = EntryStatus.COMPLETED if ref.status is TaskStatus.COMPLETED else EntryStatus.OPEN
        return ledger_row(
            scope, ref.key, deal_id, touch_point, cycle, ref.crm_id, ref.due_at, status,
            known.fingerprint if known and known.fingerprint else fingerprints.get(ref.key), now,
        )

    def _entries_by_key(self, conn: Connection, scope: str, keys: Sequence[str]) -> dict[str, LedgerEntry]:
        entries: dict[str, LedgerEntry] = {}
        for chunk in chunks(sorted(set(keys))):
            rows = conn.execute(select(ledger).where(ledger.c.scope == scope, ledger.c.key.in_(chunk)))
            entries.update((row["key"], ledger_entry(row)) for row in rows.mappings())
        return entries

    def _created_deal_row(self, scope: str, result: ActionResult, action: CreateDeal, touch_point_of: TouchPointOf,
                          now: dt.datetime) -> dict[str, Any]:
        """A renewal deal made (or found by its key) is done: the ledger keeps its key, so it is
        never planned again, and its id; it is no task, so nothing ever reschedules or closes it."""
        touch_point, cycle = touch_point_of(action.key) or ("renewal_deal", 0)
        return ledger_row(scope, action.key, action.deal_id, touch_point, cycle, result.crm_id, None,
                          EntryStatus.COMPLETED, None, now)

    def _ledger_change(
        self, scope: str, result: ActionResult, known: LedgerEntry | None,
        fingerprints: Mapping[str, str], touch_point_of: TouchPointOf, now: dt.datetime,
    ) -> dict[str, Any] | None:
        """The ledger row a successful result leads to, or None (rejections, record updates)."""
        action = result.action
        if result.rejected or not isinstance(action, CreateTask | UpdateTask | CloseTask | CreateDeal | Skip):
            return None
        if result.outcome in (Outcome.SKIPPED, Outcome.DEFERRED) and not isinstance(action, Skip):
            return None  # the adapter declined or put off writing it: the CRM holds nothing new
        if isinstance(action, CreateDeal):
            return self._created_deal_row(scope, result, action, touch_point_of, now)
        key = action.key
        spec = action.spec if isinstance(action, CreateTask | UpdateTask) else None
        if (parts := touch_point_of(key)) is not None:
            touch_point, cycle = parts
        elif known is not None:
            touch_point, cycle = known.touch_point, known.cycle
        else:
            touch_point, cycle = (spec.touch_point if spec else ""), 0
        crm_id = result.crm_id or getattr(action, "crm_id", None) or (known.crm_id if known else None)
        fingerprint = fingerprints.get(key, known.fingerprint if known else None)
        due_at: dt.datetime | None
        if spec is not None:
            status, due_at = EntryStatus.OPEN, spec.due_at
        else:
            status = EntryStatus.COMPLETED if isinstance(action, CloseTask) else EntryStatus.SKIPPED
            due_at = known.due_at if known else None  # a skip may never have had a due date
        return ledger_row(scope, key, action.deal_id, touch_point, cycle, crm_id, due_at, status, fingerprint, now)
