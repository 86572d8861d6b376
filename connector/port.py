"""The port every CRM adapter implements, and ``connector.fake.FakeCrm`` implements too.

An adapter translates and decides nothing: CRM records <-> ``connector.model`` values, and
``connector.actions`` -> CRM writes. The narrow part every adapter has (``CrmAdapter``):

- ``scan``: a cheap walk of the deals changed after a cursor (won, or handled before and no
  longer won), as ``DealStamp`` values in stream order, through a paginator that refuses a
  repeated cursor; ``scan_ids``: the same for named deals;
- ``enrich``: full ``Deal`` values (owner, company, contacts) for a batch of stamps;
- ``apply``: write actions in batches at the API's maxima, one result per action, a record the
  CRM refuses reported as ``Outcome.REJECTED`` with the CRM's words instead of failing the batch;
- ``find_tasks`` / ``any_tasks``: AfterClose's tasks by key (how a lost state store is re-learnt).

Everything else is an optional capability, declared as its own Protocol below and checked with
``isinstance``: the CRM account's own id, setup of AfterClose's own fields, write-call estimates,
permission checks, the NPS reads, HubSpot's native NPS source, a write-ahead journal of task
creates and task reads by deal (CRMs whose task key is not enforced unique). What runs the port
(read-ahead, writes in the background,
spotting AfterClose's own write-backs, the repeat pass) is the sync job's deal stream
(jobs/sync/stream.py), written once for every CRM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from connector.actions import Action, ActionResult, WriteAction
from connector.model import Cursor, Deal, DealStamp, FieldValue, NpsContact, Provider, TaskRef

if TYPE_CHECKING:
    from pathlib import Path

    from connector.nps import NpsSource


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


@dataclass(frozen=True, kw_only=True, slots=True)
class StreamTuning:
    """How the deal stream should drive this adapter's scan (the numbers are the API's)."""

    scan_pages_ahead: int
    """Scan pages worth reading ahead of the one being enriched (0: none)."""
    enrich_batch: int | None
    """Stamps per ``enrich`` call (HubSpot: 1,000, the association read maximum); None: one
    ``enrich`` per scan page, as the scan paged it."""
    lookback: dt.timedelta = dt.timedelta(0)
    """How far before the cursor each run reads again (HubSpot: its search index can show an
    earlier edit after a later one); 0 for a CRM whose reads show every change in order."""


@runtime_checkable
class CrmAdapter(Protocol):
    provider: Provider
    tuning: StreamTuning

    def check_schema(self) -> list[SchemaProblem]:
        """Compare the mapping with the live schema (one describe/properties read per object)."""
        ...

    def scan(self, since: Cursor | None) -> Iterator[list[DealStamp]]:
        """Deals modified strictly after ``since`` that are won, or were won and no longer are,
        in (modified, id) order, page by page."""
        ...

    def scan_ids(self, deal_ids: Sequence[str]) -> Iterator[list[DealStamp]]:
        """The named deals that exist (rejected last run, or due for their next renewal cycle)."""
        ...

    def enrich(self, stamps: Sequence[DealStamp]) -> list[Deal]:
        """The full deals for these stamps, in the same order."""
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

    def call_stats(self) -> CallStats:
        ...

    def close(self) -> None:
        ...


# -- optional capabilities -------------------------------------------------------------------


@runtime_checkable
class SupportsInstanceId(Protocol):
    """Which account of the CRM the credentials reach, as the CRM itself names it (HubSpot: the
    portal id; Salesforce: the 18-character organization id). One cheap call, cached per adapter.

    The URL a config points at cannot tell accounts apart (every HubSpot portal is api.hubapi.com),
    so this id is what keeps the state of two accounts sharing one state database apart."""

    def instance_id(self) -> str:
        ...


@runtime_checkable
class SupportsRecordIds(Protocol):
    """A CRM whose record ids have more than one written form (Salesforce: 15 case-sensitive or
    18 case-insensitive characters). ``record_id`` turns an id a user typed or a file holds into
    the form the adapter answers with, so it can be compared with the ids AfterClose stored."""

    def record_id(self, typed: str) -> str:
        ...


@runtime_checkable
class SupportsSetup(Protocol):
    """Create AfterClose's own CRM fields where the API allows. Idempotent. Returns one line per
    field: created, already there, or precise instructions for an admin (name, type, uniqueness)."""

    def setup(self) -> list[str]:
        ...


@runtime_checkable
class SupportsSetupPackage(Protocol):
    """Write what ``setup`` would do as a package an admin deploys (Salesforce metadata), for an
    integration user that may not change the CRM's schema. Reads the CRM, writes only files.
    Returns one line per item and the commands that deploy it."""

    def write_setup_package(self, directory: Path) -> list[str]:
        ...


@runtime_checkable
class SupportsEstimate(Protocol):
    """Predict the write calls ``apply`` would make for these actions, without any call."""

    def estimate_write_calls(self, actions: Sequence[Action]) -> int:
        ...


@runtime_checkable
class SupportsPermissions(Protocol):
    """Name the permissions (scopes, object and field rights) the credentials lack, by probing
    with reads only (docs/permissions.md)."""

    def missing_permissions(self) -> list[str]:
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
    """The reads the NPS job needs (jobs/nps.py), batched at the API's maxima.

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


@runtime_checkable
class SupportsNativeNps(Protocol):
    """The CRM keeps NPS answers itself (HubSpot's feedback properties on contacts)."""

    def nps_native_contacts(self, since: dt.datetime | None) -> Iterator[tuple[str, dict[str, Any]]]:
        ...

    def nps_native_source(self) -> NpsSource:
        ...


@runtime_checkable
class SupportsDealCreation(Protocol):
    """Create renewal deals: ``apply`` carries out ``CreateDeal`` (once per key, which the CRM holds
    on the deal, in the mapping's ``renewal_deal_key`` field), and where they go can be checked."""

    def deal_target_problems(self, targets: Sequence[tuple[str | None, str]]) -> list[str]:
        """(pipeline or None, stage) pairs: one line per pair the CRM cannot create a deal in (no
        such pipeline, no such stage, a stage of another pipeline, a closed stage)."""
        ...

    def find_deals(self, keys: Iterable[str]) -> dict[str, str]:
        """Renewal deal key -> the deal's id, for the keys a deal in the CRM carries."""
        ...


# -- task creation on a CRM that does not enforce unique task keys --------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class SentCreate:
    """A task create that was sent and whose outcome was never recorded."""

    key: str
    deal_id: str
    age_seconds: float
    """Time since it was (last) sent, by the journal's clock."""


class CreateJournal(Protocol):
    """The durable write-ahead record of task creates (the sync and NPS jobs keep it in the state
    store; docs/hubspot-adapter.md). An adapter notes the keys it is about to send; the job clears
    them in the same transaction that records their results. A key still there at the next try
    was sent without an answer anyone recorded: it must be looked up, never sent blind."""

    def sending(self, creates: Mapping[str, str]) -> None:
        """Task key -> deal id, about to be sent; durable when this returns."""
        ...

    def in_doubt(self, keys: Iterable[str]) -> dict[str, SentCreate]:
        """The keys among ``keys`` that were sent and never settled."""
        ...


@runtime_checkable
class SupportsCreateJournal(Protocol):
    def use_journal(self, journal: CreateJournal) -> None:
        """Note every create in ``journal`` before it is sent (instead of the adapter's own,
        in-memory one, which does not survive the process)."""
        ...


@runtime_checkable
class SupportsTasksOnDeals(Protocol):
    """AfterClose's tasks looked up on the deals they hang off, for a CRM where a lookup by key
    alone (a search) may miss a task made seconds ago."""

    def find_tasks_on_deals(self, wanted: Mapping[str, str], *, quiet_seconds: float = 0.0) -> dict[str, TaskRef]:
        """Task key -> deal id in; the tasks found, by key, with their content (``TaskRef``).
        ``quiet_seconds``: how long the caller knows that no create was sent before this run.
        Raises ``connector.errors.ReadsNotSettled`` when the CRM's reads cannot be trusted yet
        to show every task made before this run (the caller defers those deals)."""
        ...


@runtime_checkable
class SupportsTaskKeyMode(Protocol):
    def task_key_mode(self) -> str:
        """How this CRM keeps task creation exactly-once, in a user's words (``check``, ``status``)."""
        ...
