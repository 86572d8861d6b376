"""The customer book for one sync run: which facts the planner sees, what is remembered, and which
deals are decided again at the end of the run (jobs/core/customers.py has the rule).

A customer's deals arrive on different pages and in different runs, so the planner is given the
stored facts of the page's companies, plus what this run has decided (a dry run stores nothing).
Until every won deal has been read once since the book began (the ``customer_book`` flag), a
deal of a company holds back what a renewal deal could take over; those deals, and the earlier
deals of a customer whose renewal deal changed, are read again after the pass, when the book is
complete, so one run plans everything and creates no task it would close again. A store without
the flag (new, lost, or from before the book existed) is filled by reading every won deal once.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.model import Deal
from jobs.core.customers import CustomerBook, CustomerDeal
from jobs.core.planner import PlanResult
from jobs.core.playbook_set import PlaybookSet
from jobs.state import StateStore

BOOK_FLAG = "customer_book"
COMPLETE = "complete"
LATER_ROUNDS = 2
"""Passes over the deals to decide again: the second catches deals woken by the first."""


class RunCustomers:
    def __init__(self, store: StateStore, scope: str, playbooks: PlaybookSet, *, dry_run: bool):
        self._store, self._scope, self._dry_run = store, scope, dry_run
        self.active = playbooks.has_renewal_deals
        """Only a set with a playbook for renewal deals follows customers across deals."""
        self._remembers = len(playbooks.segments) > 1 and not dry_run
        self.complete = not self.active or store.get_flag(scope, BOOK_FLAG) == COMPLETE
        self._full_pass = not self.complete
        self._seen: dict[str, CustomerDeal] = {}
        """This run's facts; only a dry run needs them (a real run stores them at once)."""
        self._later: set[str] = set()

    @property
    def reads_every_deal(self) -> bool:
        """The book is not complete: this run reads every won deal, not only the changed ones."""
        return self._full_pass

    def book_for(self, deals: Sequence[Deal]) -> CustomerBook | None:
        if not self.active:
            return None
        companies = {d.company.id for d in deals if d.company is not None}
        facts = {f.deal_id: f for f in self._store.customer_deals(self._scope, companies)}
        facts |= {f.deal_id: f for f in self._seen.values() if f.company_id in companies}
        return CustomerBook.of(facts.values(), complete=self.complete)

    def decided(self, result: PlanResult) -> None:
        if self._remembers:
            self._store.remember_customer_deals(self._scope, result.customers)
        if self.active:
            if self._dry_run:
                self._seen |= {f.deal_id: f for f in result.customers}
            self._later |= result.later

    def pass_done(self) -> None:
        """Every won deal has now been read: nothing is held back any more in this run."""
        self.complete = True

    def take_later(self) -> list[str]:
        later, self._later = sorted(self._later), set()
        return later

    def run_done(self) -> None:
        """A real run read every deal and decided the held ones: the book is complete from now on."""
        if self.active and not self._dry_run and self._full_pass:
            self._store.set_flag(self._scope, BOOK_FLAG, COMPLETE)
