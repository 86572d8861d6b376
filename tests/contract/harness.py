"""What the adapter contract suite needs from each CRM: one harness per vendor.

``tests/contract/test_adapter_contract.py`` runs the same neutral behaviours over every harness
(HubSpot sandbox, Salesforce sandbox). Each vendor's harness lives next to this file
(``hubspot_harness.py``, ``salesforce_harness.py``) and is a context manager that starts its
sandbox with the demo data set and builds the real adapter against it.
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
