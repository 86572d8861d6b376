"""Customers across their deals: which renewal deal takes over a customer's renewals. Pure.

A customer is a company (HubSpot) or account (Salesforce); its deals are the won deals linked to
it. The rule (docs/playbooks.md, "Renewals follow the renewal deal"):

- A deal whose playbook is for renewal deals (``Playbook.renewal_deal``) carries the customer's
  renewals from its close date on.
- Every *earlier* deal of the customer (closed before it) plans nothing due on or after that close
  date: no later renewal ladder, no later check-up. Its open tasks due after that day are closed
  with a note; the ones already due stay, they are its history.
- The earliest later renewal deal decides; a renewal deal is in turn taken over by the next one.
- A renewal deal that is no longer won (or no longer a renewal deal) takes over nothing: the
  earlier deal plans its renewals again.
- A deal without a company is a customer of its own: nothing takes it over.

The shell (jobs/sync/customers.py) keeps these facts in the state store, because a customer's
deals arrive on different pages and in different runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from connector.model import Deal


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerDeal:
    """What the customer book remembers of one deal."""

    deal_id: str
    company_id: str | None
    name: str
    close_date: dt.date | None
    won: bool
    playbook: str
    renewal_deal: bool
    because: str = ""
    """Why the playbook was chosen (``afterclose status --deal`` shows it)."""

    def takes_over_from(self, earlier: Deal | CustomerDeal) -> bool:
        """Whether this deal carries the renewals of ``earlier`` from its close date on."""
        return (self.won and self.renewal_deal and self.company_id is not None and self.close_date is not None
                and self.deal_id != _id(earlier) and earlier.close_date is not None
                and self.close_date > earlier.close_date)

    def link(self) -> tuple[object, ...]:
        """What matters to the customer's other deals; when it changes, they are looked at again."""
        return (self.company_id, self.won, self.renewal_deal, self.close_date)


def _id(deal: Deal | CustomerDeal) -> str:
    return deal.id if isinstance(deal, Deal) else deal.deal_id


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerBook:
    by_company: Mapping[str, tuple[CustomerDeal, ...]] = field(default_factory=dict)
    complete: bool = True
    """Every won deal has been read once (the shell knows): no renewal deal is still unknown.
    While False, the planner holds back what a renewal deal could take over."""
    _by_deal: Mapping[str, CustomerDeal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_company", MappingProxyType(dict(self.by_company)))
        object.__setattr__(self, "_by_deal", {d.deal_id: d for items in self.by_company.values() for d in items})

    @classmethod
    def of(cls, deals: Iterable[CustomerDeal], *, complete: bool = True) -> CustomerBook:
        grouped: dict[str, dict[str, CustomerDeal]] = {}
        for item in deals:
            if item.company_id is not None:
                grouped.setdefault(item.company_id, {})[item.deal_id] = item
        return cls(by_company={c: tuple(sorted(d.values(), key=lambda x: x.deal_id)) for c, d in grouped.items()},
                   complete=complete)

    def deals(self) -> Iterable[CustomerDeal]:
        for items in self.by_company.values():
            yield from items

    def known(self, deal_id: str) -> CustomerDeal | None:
        return self._by_deal.get(deal_id)

    def with_deals(self, fresh: Iterable[CustomerDeal]) -> CustomerBook:
        """The book with ``fresh`` facts laid over the stored ones (a deal may change company)."""
        fresh = list(fresh)
        ids = {item.deal_id for item in fresh}
        return CustomerBook.of([d for d in self.deals() if d.deal_id not in ids] + fresh, complete=self.complete)

    def taken_over_by(self, deal: Deal) -> CustomerDeal | None:
        """The customer's earliest renewal deal closed after ``deal``: it carries the renewals."""
        if deal.company is None:
            return None
        later = [d for d in self.by_company.get(deal.company.id, ()) if d.takes_over_from(deal)]
        return min(later, key=lambda d: (d.close_date, d.deal_id)) if later else None

    def affected_by(self, before: CustomerDeal | None, after: CustomerDeal) -> set[str]:
        """The customer's other deals to look at again because ``after`` changed what ``before``
        said about renewals (a renewal deal won, lost, moved, or no longer one)."""
        if before is not None and before.link() == after.link():
            return set()
        if not after.renewal_deal and (before is None or not before.renewal_deal):
            return set()
        companies = {after.company_id} | ({before.company_id} if before is not None else set())
        return {d.deal_id for c in companies if c is not None for d in self.by_company.get(c, ())
                if d.deal_id != after.deal_id}


def remembered(deal: Deal, playbook: str, renewal_deal: bool, because: str) -> CustomerDeal:
    return CustomerDeal(deal_id=deal.id, company_id=deal.company.id if deal.company else None, name=deal.name,
                        close_date=deal.close_date, won=deal.is_won, playbook=playbook, renewal_deal=renewal_deal,
                        because=because)

