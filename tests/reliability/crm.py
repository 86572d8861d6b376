"""One CRM for the reliability suite: a sandbox (start it, point adapters in this process or in a
driver subprocess at it) or, for scenarios run in this process where HTTP is not the point, the
in-memory CRM (``open_crm("fake", ...)``); and its state read back in neutral terms.

The state a user would notice is what ``snapshot()`` returns: every task AfterClose keyed (its
subject, due date, owner, status and links to deal, company and contact), how many tasks share a
key (a duplicate), and every value AfterClose writes onto a deal or company. Two sandboxes loaded
with the same data set hand out the same record ids, so snapshots of two runs compare directly.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

from connector.fake import FakeCrm, FakeStore
from connector.mapping import FieldMap, builtin_mapping, load_mapping
from connector.model import RecordKind
from connector.retry import RetrySettings
from connector.sandbox.demo import DemoDataset
from tests.contract.fake_harness import FakeHarness
from tests.contract.harness import SandboxTask

CRMS = ["hubspot-refuse", "hubspot-grant", "salesforce"]
"""``<provider>[-<HubSpot task uniqueness>]``: the CRMs the guarantees are proved on. HubSpot runs in
both task key modes: a portal that refuses unique task properties (the sandbox's default, the
stricter reading) and one that grants them."""
SETTLE_SECONDS = 0.3
"""HubSpot's settle delay here: the sandbox carries a request out before answering and its reads
do not lag, so any value holds; a small one still exercises the waits. Tests that add lag or slow
answers pass their own."""
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
"""The fixed clock every run in this suite uses, so two runs plan the same work."""
ANCHOR = NOW.date()
FAST_RETRY = RetrySettings(attempts=6, base_seconds=0.01, max_seconds=0.5)

_HUBSPOT_WRITES = ("batch/create", "batch/update", "batch/upsert", "batch/archive")
_SALESFORCE_WRITES = ("collections_", "sobject_create", "sobject_update", "sobject_upsert", "sobject_delete")
_RECORD_TYPES = {
    "hubspot": {RecordKind.DEAL: "deals", RecordKind.COMPANY: "companies", RecordKind.CONTACT: "contacts"},
    "salesforce": {RecordKind.DEAL: "Opportunity", RecordKind.COMPANY: "Account", RecordKind.CONTACT: "Contact"},
}


def is_write_label(provider: str, label: str) -> bool:
    """Whether a sandbox endpoint label is a call that changes CRM data."""
    if provider == "hubspot":
        return any(marker in label for marker in _HUBSPOT_WRITES) and "/properties/" not in label
    return label.startswith(_SALESFORCE_WRITES)


@dataclasses.dataclass(frozen=True)
class CrmState:
    """What the CRM holds that AfterClose is responsible for."""

    tasks: dict[str, tuple]
    """key -> (subject, due date, owner, status, deal, company, contact)."""
    copies: collections.Counter
    """key -> how many tasks carry it (anything above 1 is a duplicate)."""
    fields: dict[tuple[str, str, str], str | None]
    """(record kind, record id, canonical field) -> value, for every field AfterClose writes."""

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.copies.values() if n > 1)

    def differences(self, other: CrmState, limit: int = 5) -> list[str]:
        """Human-readable differences, for assertion messages."""
        out = []
        for key in sorted(set(self.tasks) | set(other.tasks)):
            if self.tasks.get(key) != other.tasks.get(key):
                out.append(f"task {key}: {self.tasks.get(key)} != {other.tasks.get(key)}")
        for name in sorted(set(self.fields) | set(other.fields)):
            if self.fields.get(name) != other.fields.get(name):
                out.append(f"field {name}: {self.fields.get(name)!r} != {other.fields.get(name)!r}")
        return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


@dataclasses.dataclass
class SandboxCrm:
    provider: str
    sandbox: Any
    endpoint: Any
    fieldmap: FieldMap
    page_size: int
    mode: str | None = None
    """HubSpot only: the sandbox's ``task_uniqueness`` (refuse, grant, ignore)."""
    settle_seconds: float = SETTLE_SECONDS

    # -- adapters --------------------------------------------------------------------------

    def settings_values(self, **overrides: Any) -> dict[str, Any]:
        """Plain settings for this sandbox (what a driver subprocess receives as JSON)."""
        if self.provider == "hubspot":
            values = {"access_token": self.endpoint.token, "base_url": self.endpoint.base_url,
                      "rate_limit_per_10s": 2_000, "search_per_second": 100.0,
                      "settle_seconds": self.settle_seconds}
        else:
            values = {"instance_url": self.endpoint.base_url, "access_token": self.endpoint.token,
                      "ca_bundle": str(self.endpoint.ca_path)}
        return values | overrides

    def adapter(self, *, retry: RetrySettings = FAST_RETRY, **overrides: Any):
        return build_adapter(self.provider, self.settings_values(**overrides), self.fieldmap, retry=retry,
                             page_size=self.page_size)

    def salesforce_login_values(self) -> dict[str, Any]:
        """Credentials that can log in again (the sandbox is its own login server)."""
        from connector.sandbox.salesforce.sandbox import INTEGRATION_USERNAME

        return {"access_token": None, "instance_url": None, "domain": self.endpoint.base_url,
                "username": INTEGRATION_USERNAME, "password": "sandbox-password",
                "security_token": "sandboxsecuritytoken"}

    # -- what the CRM holds ------------------------------------------------------------------

    def tasks(self) -> list[SandboxTask]:
        return self._harness().tasks()

    def snapshot(self) -> CrmState:
        return crm_state(self.tasks(), self._written_fields())

    def field(self, deal_id: str, canonical: str) -> str | None:
        return self._harness().field(deal_id, canonical)

    def set_field(self, deal_id: str, canonical: str, value: str | None) -> None:
        """A rep's edit in the CRM."""
        self._harness().set_field(deal_id, canonical, value)

    def _written_fields(self) -> dict[tuple[str, str, str], str | None]:
        out: dict[tuple[str, str, str], str | None] = {}
        written = [spec for spec in self.fieldmap.fields.values() if spec.write]
        for kind, type_name in _RECORD_TYPES[self.provider].items():
            specs = [s for s in written if s.record is kind]
            if not specs:
                continue
            for record_id, values in self._records(type_name):
                for spec in specs:
                    out[(kind.value, record_id, spec.canonical)] = _text(values.get(spec.crm_name))
        return out

    def _records(self, type_name: str) -> Iterator[tuple[str, dict]]:
        if self.provider == "hubspot":
            for record in self.sandbox.records(type_name):
                yield record["id"], record["properties"]
        else:
            for record in self.sandbox.records(type_name):
                yield record["Id"], record

    def calls(self) -> dict[str, int]:
        return self.sandbox.controls.snapshot()

    def write_calls(self) -> int:
        return sum(n for label, n in self.calls().items() if is_write_label(self.provider, label))

    def _harness(self):
        if self.provider == "hubspot":
            from tests.contract.hubspot_harness import HubSpotHarness

            return HubSpotHarness(self.sandbox, _FieldmapOnly(self.fieldmap))
        from tests.contract.salesforce_harness import SalesforceHarness

        return SalesforceHarness(adapter=None, sandbox=self.sandbox, endpoint=self.endpoint, fieldmap=self.fieldmap)


def crm_state(tasks: list[SandboxTask], fields: dict[tuple[str, str, str], str | None]) -> CrmState:
    keyed, copies = {}, collections.Counter()
    for task in tasks:
        if task.key:
            copies[task.key] += 1
            keyed[task.key] = (task.subject, task.due_date, task.owner_id, task.status, task.deal_id,
                               task.company_id, task.contact_id)
    return CrmState(tasks=keyed, copies=copies, fields=fields)


@dataclasses.dataclass
class InMemoryCrm:
    """The in-memory CRM (connector/fake/) with SandboxCrm's face, for runs in this process (a
    driver subprocess cannot reach it). Two loaded with the same data set hand out the same ids."""

    store: FakeStore
    fieldmap: FieldMap
    page_size: int
    provider: str = "fake"

    def adapter(self, *, retry: RetrySettings = FAST_RETRY) -> FakeCrm:
        """A new adapter (a run's); ``retry`` is accepted for SandboxCrm's sake: the fake fails
        only where a test asks it to, and then without retrying."""
        return FakeCrm(self.fieldmap, self.store, page_size=self.page_size)

    def _harness(self) -> FakeHarness:
        return FakeHarness(adapter=self.adapter())

    def tasks(self) -> list[SandboxTask]:
        return self._harness().tasks()

    def snapshot(self) -> CrmState:
        fields = {}
        holders = {RecordKind.DEAL: self.store.deals, RecordKind.COMPANY: self.store.companies,
                   RecordKind.CONTACT: self.store.contacts}
        with self.store.lock:
            for spec in (s for s in self.fieldmap.fields.values() if s.write):
                for record_id, record in holders[spec.record].items():
                    fields[(spec.record.value, record_id, spec.canonical)] = record.fields.get(spec.canonical)
        return crm_state(self.tasks(), fields)

    def field(self, deal_id: str, canonical: str) -> str | None:
        return self._harness().field(deal_id, canonical)

    def set_field(self, deal_id: str, canonical: str, value: str | None) -> None:
        self.store.set_field(deal_id, canonical, value)

    def calls(self) -> dict[str, int]:
        return self.store.calls()

    def write_calls(self) -> int:
        return self.store.write_calls()


@dataclasses.dataclass(frozen=True)
class _FieldmapOnly:
    """HubSpotHarness reads the mapping through ``adapter.fieldmap``; inspection needs nothing else."""

    fieldmap: FieldMap


def _text(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def build_adapter(provider: str, values: dict[str, Any], fieldmap: FieldMap, *, retry: RetrySettings,
                  page_size: int):
    """The real adapter, as a run builds it; ``page_size`` shrinks pages so small data sets still
    make many pages (many places to crash between)."""
    if provider == "hubspot":
        from connector.hubspot import HubSpotAdapter, HubSpotSettings

        return HubSpotAdapter(settings=HubSpotSettings(**values), fieldmap=fieldmap, retry=retry,
                              page_size=page_size)
    from connector.salesforce import SalesforceAdapter, SalesforceSettings

    return SalesforceAdapter(settings=SalesforceSettings(**values), fieldmap=fieldmap, retry=retry)


def mapping_for(provider: str, *, renewal_deals: bool = False) -> FieldMap:
    """The built-in mapping; ``renewal_deals``: with its renewal deal key field uncommented."""
    if renewal_deals:
        from tests.builders import renewal_deal_mapping

        return renewal_deal_mapping(provider)
    return load_mapping(builtin_mapping(provider))


@contextlib.contextmanager
def open_crm(name: str, dataset: DemoDataset, *, page_size: int = 50, seed: int = 0, latency: float = 0.0,
             setup: bool = True, settle_seconds: float = SETTLE_SECONDS, renewal_deals: bool = False,
             **sandbox_options: Any) -> Iterator[SandboxCrm | InMemoryCrm]:
    """A sandbox CRM serving ``dataset`` on loopback, with AfterClose's own fields set up. ``name``
    is an entry of ``CRMS`` ("hubspot" alone: the sandbox's default task uniqueness), or "fake":
    the in-memory CRM holding ``dataset`` (with the HubSpot mapping, whose names are the canonical
    ones), its fields set up, ``page_size`` deals per scan page."""
    if name == "fake":
        fieldmap = mapping_for("hubspot")
        store = FakeStore(fieldmap)
        store.load(dataset)
        yield InMemoryCrm(store=store, fieldmap=fieldmap, page_size=page_size)
        return
    provider, _, mode = name.partition("-")
    fieldmap = mapping_for(provider, renewal_deals=renewal_deals)
    if provider == "hubspot":
        from connector.sandbox.hubspot import HubSpotSandbox

        if mode:
            sandbox_options["task_uniqueness"] = mode
        sandbox = HubSpotSandbox(seed=seed, latency=latency, **sandbox_options)
    else:
        from connector.sandbox.salesforce import SalesforceSandbox
        from tests.contract.salesforce_harness import TOKEN

        sandbox = SalesforceSandbox(token=TOKEN, seed=seed, latency=latency, page_size=page_size)
    sandbox.load(dataset)
    with sandbox.serve() as endpoint:
        crm = SandboxCrm(provider=provider, sandbox=sandbox, endpoint=endpoint, fieldmap=fieldmap,
                         page_size=page_size, mode=mode or None, settle_seconds=settle_seconds)
        if setup:
            with crm.adapter() as adapter:
                adapter.setup()
            sandbox.controls.reset_calls()
        yield crm
