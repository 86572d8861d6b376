"""What the planner knows of earlier runs: one ledger entry per idempotency key.

The state store (jobs/state/) produces these; the pure planner (jobs/core/planner.py) reads them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from connector.model import require_aware


class EntryStatus(StrEnum):
    OPEN = "open"            # the task exists in the CRM and is not done
    COMPLETED = "completed"  # done in the CRM (by the rep, or closed by AfterClose)
    SKIPPED = "skipped"      # deliberately never created (e.g. too far overdue on first plan)


@dataclass(frozen=True, kw_only=True, slots=True)
class LedgerEntry:
    key: str
    deal_id: str
    touch_point: str
    cycle: int
    crm_id: str | None
    due_at: dt.datetime | None
    status: EntryStatus
    fingerprint: str | None = None
    """Digest of what was last written (subject, body, owner, priority, type, links); a change
    of content, not only of due date, is then noticed and rewritten once."""

    def __post_init__(self) -> None:
        require_aware("LedgerEntry.due_at", self.due_at)
