"""What the adapter contract suite needs from each CRM: one harness per CRM.

``tests/contract/test_adapter_contract*.py`` run the same neutral behaviours over every harness
(the in-memory CRM, the HubSpot sandbox, the Salesforce sandbox). Each harness lives next to this
file (``fake_harness.py``, ``hubspot_harness.py``, ``salesforce_harness.py``); its
``open_harness`` is a context manager that loads the demo data set (starting the sandbox, for a
vendor) and builds the adapter against it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from connector.port import CrmAdapter


@dataclass(frozen=True, kw_only=True)
class SandboxTask:
    """A task as it stands in the sandbox CRM, in neutral terms."""

    key: str | None
    crm_id: str
    subject: str
    due_date: dt.date
    owner_id: str | None
    status: str
    """"open" or "completed"."""
    deal_id: str | None
    company_id: str | None
    contact_id: str | None


@dataclass(frozen=True, kw_only=True)
class SandboxDeal:
    """A deal AfterClose created (it carries a renewal deal key), as it stands in the CRM."""

    key: str
    crm_id: str
    stage: str
    pipeline: str | None


class Harness(Protocol):
    provider: str
    adapter: CrmAdapter
    sandbox: object

    def won_deal_ids(self) -> set[str]:
        """CRM ids of the demo deals that are won right now."""
        ...

    def deal_id(self, demo_key: int) -> str:
        ...

    def tasks(self) -> list[SandboxTask]:
        ...

    def renewal_deals(self) -> list[SandboxDeal]:
        """The deals carrying a renewal deal key (the mapping's ``renewal_deal_key``)."""
        ...

    def field(self, deal_id: str, canonical: str) -> str | None:
        """The deal's current value of a mapped field, as text."""
        ...

    def set_field(self, deal_id: str, canonical: str, value: str | None) -> None:
        """An edit a user makes in the CRM (bumps the modified timestamp)."""
        ...

    def mark_lost(self, deal_id: str) -> None:
        ...

    def mark_won(self, deal_id: str) -> None:
        """A deal moves (back) to a won stage."""
        ...

    def complete_task(self, crm_id: str) -> None:
        """A rep ticks the task off in the CRM."""
        ...

    def calls(self) -> int:
        """API calls the sandbox has answered so far."""
        ...

    def write_calls(self) -> int:
        """Those of them that change CRM data."""
        ...


WRITE_MARKERS = ("batch/create", "batch/update", "batch/upsert", "batch/archive", "composite", "PATCH ", "DELETE ",
                 "POST /services/data")
READ_MARKERS = ("search", "batch/read", "/query", "queryAll")


def is_write_label(label: str) -> bool:
    """Whether a sandbox endpoint label (either vendor's) is a call that changes CRM data."""
    return any(m in label for m in WRITE_MARKERS) and not any(r in label for r in READ_MARKERS)
