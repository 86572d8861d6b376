"""The customer book: what AfterClose remembers of each won deal's customer and playbook, so that a
customer's renewal deal, read on another page or in another run, takes over the renewals of the
customer's earlier deals (jobs/core/customers.py), and ``status --deal`` can name the playbook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from jobs.core.customers import CustomerDeal
from jobs.state.base import StoreBase
from jobs.state.engine import chunks, require_scope
from jobs.state.tables import customer_deals


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredCustomerDeal:
    deal: CustomerDeal
    previous_playbook: str | None
    """The playbook the deal had before ``since`` (None: it has had this one since first seen)."""
    since: dt.datetime


class CustomersMixin(StoreBase):
    def customer_deals(self, scope: str, company_ids: Iterable[str]) -> list[CustomerDeal]:
        """Every deal remembered for these companies."""
        found: list[CustomerDeal] = []
        with self._engine.connect() as conn:
            for chunk in chunks(sorted(set(company_ids))):
                query = select(customer_deals).where(customer_deals.c.scope == scope,
                                                     customer_deals.c.company_id.in_(chunk))
                found += [_deal(row) for row in conn.execute(query).mappings()]
        return found

    def customer_deal(self, scope: str, deal_id: str) -> StoredCustomerDeal | None:
        query = select(customer_deals).where(customer_deals.c.scope == scope, customer_deals.c.deal_id == deal_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return StoredCustomerDeal(deal=_deal(row), previous_playbook=row["previous_playbook"], since=row["since"])

    def remember_customer_deals(self, scope: str, deals: Sequence[CustomerDeal]) -> None:
        """Store the facts; a deal whose playbook changed keeps the previous one and when."""
        if not deals:
            return
        now = self._clock()
        with self._engine.begin() as conn:
            known: dict[str, Any] = {}
            for chunk in chunks(sorted({d.deal_id for d in deals})):
                query = select(customer_deals.c.deal_id, customer_deals.c.playbook, customer_deals.c.previous_playbook,
                               customer_deals.c.since).where(customer_deals.c.scope == scope,
                                                             customer_deals.c.deal_id.in_(chunk))
                known |= {row["deal_id"]: row for row in conn.execute(query).mappings()}
            rows = [_row(require_scope(scope), deal, known.get(deal.deal_id), now) for deal in deals]
            self._upsert(conn, customer_deals, list({r["deal_id"]: r for r in rows}.values()), ("scope", "deal_id"))


def _row(scope: str, deal: CustomerDeal, known, now: dt.datetime) -> dict:
    changed = known is not None and known["playbook"] != deal.playbook
    previous = known["playbook"] if changed else (known["previous_playbook"] if known is not None else None)
    since = now if known is None or changed else known["since"]
    return dict(scope=scope, deal_id=deal.deal_id, company_id=deal.company_id, name=deal.name,
                close_date=deal.close_date, won=deal.won, playbook=deal.playbook, renewal_deal=deal.renewal_deal,
                because=deal.because, previous_playbook=previous, since=since, updated_at=now)


def _deal(row) -> CustomerDeal:
    return CustomerDeal(deal_id=row["deal_id"], company_id=row["company_id"], name=row["name"],
                        close_date=row["close_date"], won=row["won"], playbook=row["playbook"],
                        renewal_deal=row["renewal_deal"], because=row["because"])
