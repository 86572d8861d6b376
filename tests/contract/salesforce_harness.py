"""The Salesforce harness for the adapter contract suite: the TLS sandbox loaded with the demo
data set, and the real ``SalesforceAdapter`` (simple-salesforce) talking HTTPS to it."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator

from connector.mapping import FieldMap, builtin_mapping, load_mapping
from connector.model import RENEWAL_DEAL_KEY
from connector.retry import RetrySettings
from connector.salesforce import SalesforceAdapter, SalesforceSettings
from connector.salesforce.pull import as_text
from connector.sandbox.demo import demo_dataset
from connector.sandbox.salesforce import SalesforceSandbox
from tests.contract.harness import SandboxDeal, SandboxTask, is_write_label

ANCHOR = dt.date(2026, 3, 2)
TOKEN = "00DAFTERCLOSE!sandbox-token"
FAST_RETRY = RetrySettings(attempts=4, base_seconds=0.001, max_seconds=0.001)
"""Same policy, no waiting: a test run must not sleep through backoffs."""


def salesforce_fieldmap() -> FieldMap:
    return load_mapping(builtin_mapping("salesforce"))


@dataclasses.dataclass
class SalesforceHarness:
    adapter: SalesforceAdapter
    sandbox: SalesforceSandbox
    endpoint: object
    fieldmap: FieldMap
    provider: str = "salesforce"

    def settings(self, **overrides) -> SalesforceSettings:
        """Direct-token settings for this sandbox, with overrides (other flows, CA, limits)."""
        base = dict(instance_url=self.endpoint.base_url, access_token=self.endpoint.token,
                    ca_bundle=str(self.endpoint.ca_path))
        base.update(overrides)
        return SalesforceSettings(**{k: v for k, v in base.items() if v is not None})

    def new_adapter(self, *, retry: RetrySettings = FAST_RETRY, fieldmap: FieldMap | None = None,
                    **overrides) -> SalesforceAdapter:
        return SalesforceAdapter(settings=self.settings(**overrides), fieldmap=fieldmap or self.fieldmap,
                                 retry=retry)

    # -- the Harness protocol -------------------------------------------------------------
    def won_deal_ids(self) -> set[str]:
        return {r["Id"] for r in self.sandbox.records("Opportunity") if r.get("IsWon")}

    def deal_id(self, demo_key: int) -> str:
        return self.sandbox.demo_ids["Opportunity"][demo_key]

    def tasks(self) -> list[SandboxTask]:
        key_field = self.fieldmap.task_key_field
        return [SandboxTask(
            key=r.get(key_field), crm_id=r["Id"], subject=r.get("Subject") or "",
            due_date=_date(r.get("ActivityDate")), owner_id=r.get("OwnerId"),
            status="completed" if r.get("IsClosed") else "open", deal_id=r.get("WhatId"),
            company_id=r.get("AccountId"), contact_id=r.get("WhoId"),
        ) for r in self.sandbox.records("Task")]

    def renewal_deals(self) -> list[SandboxDeal]:
        spec = self.fieldmap.fields.get(RENEWAL_DEAL_KEY)
        if spec is None:
            return []
        return [SandboxDeal(key=r[spec.crm_name], crm_id=r["Id"], stage=r.get("StageName"), pipeline=None)
                for r in self.sandbox.records("Opportunity") if r.get(spec.crm_name)]

    def field(self, deal_id: str, canonical: str) -> str | None:
        record = next(r for r in self.sandbox.records("Opportunity") if r["Id"] == deal_id)
        return as_text(record.get(self.fieldmap.spec(canonical).crm_name))

    def set_field(self, deal_id: str, canonical: str, value: str | None) -> None:
        self.sandbox.edit("Opportunity", deal_id, {self.fieldmap.spec(canonical).crm_name: value})

    def mark_lost(self, deal_id: str) -> None:
        self.sandbox.edit("Opportunity", deal_id, {"StageName": "Closed Lost"})

    def mark_won(self, deal_id: str) -> None:
        self.sandbox.edit("Opportunity", deal_id, {"StageName": "Closed Won"})

    def complete_task(self, crm_id: str) -> None:
        self.sandbox.edit("Task", crm_id, {"Status": "Completed"})

    def calls(self) -> int:
        return sum(self.sandbox.controls.snapshot().values())

    def write_calls(self) -> int:
        return sum(n for label, n in self.sandbox.controls.snapshot().items() if is_write_label(label))


def _date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@contextlib.contextmanager
def open_harness(*, page_size: int = 500, daily_limit: int | None = None, afterclose_fields: bool = True,
                 retry: RetrySettings = FAST_RETRY, fieldmap: FieldMap | None = None,
                 **sandbox_settings) -> Iterator[SalesforceHarness]:
    """``sandbox_settings``: more SalesforceSandbox settings (the user's permissions, ...)."""
    sandbox = SalesforceSandbox(token=TOKEN, latency=0.0, page_size=page_size, daily_limit=daily_limit,
                                afterclose_fields=afterclose_fields, **sandbox_settings)
    sandbox.load(demo_dataset(anchor=ANCHOR))
    with sandbox.serve() as endpoint:
        fieldmap = fieldmap or salesforce_fieldmap()
        settings = SalesforceSettings(instance_url=endpoint.base_url, access_token=endpoint.token,
                                      ca_bundle=str(endpoint.ca_path))
        adapter = SalesforceAdapter(settings=settings, fieldmap=fieldmap, retry=retry)
        try:
            yield SalesforceHarness(adapter=adapter, sandbox=sandbox, endpoint=endpoint, fieldmap=fieldmap)
        finally:
            adapter.close()
