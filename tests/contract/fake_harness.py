"""The in-memory harness for the adapter contract suite: ``connector.fake.FakeCrm`` loaded with the
demo data set. No socket, no SDK: what the suite holds here is the port's contract itself, which
the job and CLI tests that run on the fake rely on."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator

from connector.fake import LOST, WON, FakeCrm, FakeStore
from connector.mapping import FieldMap, builtin_mapping, load_mapping
from connector.model import RENEWAL_DEAL_KEY, Provider, TaskStatus
from connector.sandbox.demo import DemoDataset, demo_dataset
from tests.contract.harness import SandboxDeal, SandboxTask

ANCHOR = dt.date(2026, 3, 2)


def fake_fieldmap() -> FieldMap:
    """Any mapping drives the fake; the built-in HubSpot one names its fields as the canonical
    names, so the fake's records read like the mapping."""
    return load_mapping(builtin_mapping(Provider.HUBSPOT))


@dataclasses.dataclass
class FakeHarness:
    adapter: FakeCrm
    provider: str = "fake"

    @property
    def sandbox(self) -> FakeStore:
        """The CRM itself (the store every adapter of it shares)."""
        return self.adapter.store

    @property
    def fieldmap(self) -> FieldMap:
        return self.adapter.fieldmap

    # -- the Harness protocol -------------------------------------------------------------
    def won_deal_ids(self) -> set[str]:
        return {d.id for d in self.sandbox.deals.values() if d.stage == WON}

    def deal_id(self, demo_key: int) -> str:
        return self.sandbox.demo_ids["deals"][demo_key]

    def tasks(self) -> list[SandboxTask]:
        with self.sandbox.lock:
            return [SandboxTask(key=t.key, crm_id=t.id, subject=t.subject, due_date=t.due_at.date(),
                                owner_id=t.owner_id, status="completed" if t.status is TaskStatus.COMPLETED else "open",
                                deal_id=t.deal_id, company_id=t.company_id, contact_id=t.contact_id)
                    for t in self.sandbox.tasks.values()]

    def renewal_deals(self) -> list[SandboxDeal]:
        with self.sandbox.lock:
            return [SandboxDeal(key=key, crm_id=d.id, stage=d.stage, pipeline=d.fields.get("pipeline"))
                    for d in self.sandbox.deals.values() if (key := d.fields.get(RENEWAL_DEAL_KEY))]

    def field(self, deal_id: str, canonical: str) -> str | None:
        with self.sandbox.lock:
            return self.sandbox.deals[deal_id].fields.get(canonical)

    def set_field(self, deal_id: str, canonical: str, value: str | None) -> None:
        self.sandbox.set_field(deal_id, canonical, value)

    def mark_lost(self, deal_id: str) -> None:
        self.sandbox.set_stage(deal_id, LOST)

    def mark_won(self, deal_id: str) -> None:
        self.sandbox.set_stage(deal_id, WON)

    def complete_task(self, crm_id: str) -> None:
        self.sandbox.complete_task(crm_id)

    def calls(self) -> int:
        return self.sandbox.total_calls()

    def write_calls(self) -> int:
        return self.sandbox.write_calls()


@contextlib.contextmanager
def open_harness(*, fieldmap: FieldMap | None = None, page_size: int | None = None, dataset: DemoDataset | None = None,
                 clock: Callable[[], dt.datetime] | None = None, lacking: Iterable[str] = ()) -> Iterator[FakeHarness]:
    """The demo data set (or ``dataset``) in a new in-memory CRM, and an adapter on it."""
    fieldmap = fieldmap or fake_fieldmap()
    store = FakeStore(fieldmap, lacking=lacking, clock=clock)
    store.load(dataset or demo_dataset(anchor=ANCHOR))
    adapter = FakeCrm(fieldmap, store, **({"page_size": page_size} if page_size else {}))
    try:
        yield FakeHarness(adapter=adapter)
    finally:
        adapter.close()
