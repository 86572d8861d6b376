"""The port every CRM adapter implements, and the in-process fakes implement too.

An adapter translates: CRM records <-> ``connector.model`` values, ``connector.actions`` -> CRM
writes. It decides nothing. It streams reads page by page, batches writes at the API's maximum,
classifies every SDK error through ``connector.retry``, and reports per-record failures as
``ActionResult(outcome=REJECTED)`` instead of failing a whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from connector.actions import ActionResult, WriteAction
from connector.model import Cursor, Deal, DealPage, FieldValue, NpsContact, Provider, TaskRef


@dataclass(frozen=True, kw_only=True, slots=True)
class SchemaProblem:
    """One way the mapping does not fit the live CRM, named the way an admin can fix it."""

    mapping_key: str
    crm_field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.mapping_key} -> {self.crm_field}: {self.problem}"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallStats:
    """API calls made so far, per endpoint label, and time spent waiting on rate limits."""

    by_endpoint: dict[str, int]
    rate_limit_wait_seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.by_endpoint.values())


@runtime_checkable
class CrmAdapter(Protocol):
    provider: Provider

    def check_schema(self) -> list[SchemaProblem]:
        """Compare the mapping with the live schema (one describe/properties read per object)."""
        ...

    def closed_won_deals(self, since: Cursor | None) -> Iterator[DealPage]:
        """Deals modified strictly after ``since`` that are won, or were won and no longer are
        (they carry ``is_won=False`` so their open tasks can be closed), oldest first."""
        ...

    def deals_by_id(self, deal_ids: Sequence[str]) -> Iterator[DealPage]:
        """Re-read specific deals (rejected last run, or due for their next renewal cycle)."""
        ...

    def find_tasks(self, keys: Iterable[str]) -> dict[str, TaskRef]:
        """Tasks in the CRM carrying these idempotency keys: how a lost state store is re-learnt."""
        ...

    def any_tasks(self) -> bool:
        """Whether the CRM holds any task AfterClose created (one cheap call): a new, empty state
        store facing a CRM that has them means the store was lost and must be re-learnt."""
        ...

    def apply(self, actions: Sequence[WriteAction]) -> list[ActionResult]:
        """Carry out writes in batches; one result per action, in order."""
        ...

    def submit(self, actions: Sequence[WriteAction]) -> Future[list[ActionResult]]:
        """``apply`` in the background (the sync job reads the next page meanwhile). At the end
        of each pass, ``closed_won_deals`` waits for every write submitted so far before it
        decides whether its own write-backs need another pass (connector/pipeline.py)."""
        ...

    def call_stats(self) -> CallStats:
        ...

    def close(self) -> None:
        ...


@runtime_checkable
class SupportsSetup(Protocol):
    """Optional capability: create AfterClose's own CRM fields (write-backs, the task key field).

    Idempotent. Returns one line per field: what was created or already exists, or, where the API
    cannot create it, precise instructions for an admin (field name, type, uniqueness).
    """

    def setup(self) -> list[str]:
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class NpsAccount:
    """A company (HubSpot) or account (Salesforce) with its won deals, as the NPS job reads it."""

    id: str
    name: str | None
    owner_id: str | None
    """The account owner when active; None when unset or deactivated (tasks then go to a deal owner)."""
    fields: Mapping[str, FieldValue]
    """Current values of the mapped company fields by canonical name (``company_nps_score`` ...), raw."""
    won_deals: tuple[Deal, ...]


@runtime_checkable
class SupportsNps(Protocol):
    """Optional capability: the reads the NPS job needs (jobs/nps.py), batched at the API's maxima.

    Writes need nothing new: score, category, date and referral status are ``UpdateRecord``
    actions on deals and companies, and the follow-up tasks are ``CreateTask`` actions, both
    carried out by ``CrmAdapter.apply``; task status comes back through ``find_tasks``.
    """

    def nps_contacts_by_email(self, emails: Sequence[str]) -> list[NpsContact]:
        """Every contact whose email is one of ``emails`` (case ignored); two contacts sharing an
        address are both returned, so the caller can refuse to guess between them."""
        ...

    def nps_contacts_by_id(self, contact_ids: Sequence[str]) -> list[NpsContact]:
        ...

    def nps_accounts(self, account_ids: Sequence[str]) -> dict[str, NpsAccount]:
        """The accounts that exist among ``account_ids``, each with its won deals (with contacts)."""
        ...

    def nps_referred_deals(self, referrer_field: str) -> list[Deal]:
        """Won deals whose mapped ``referrer_field`` (a canonical deal field) is filled in."""
        ...
