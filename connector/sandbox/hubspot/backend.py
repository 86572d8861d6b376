"""Everything a request handler needs: the store, owners, pipelines, the portal and the test knobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.sandbox.hubspot.account import PortalInfo
from connector.sandbox.hubspot.limits import RateLimits
from connector.sandbox.hubspot.portal import DEAL_PIPELINES, Owner, Pipeline
from connector.sandbox.hubspot.store import Store
from connector.sandbox.hubspot.uniqueness import DEFAULT_TASK_UNIQUENESS, TaskUniqueness


@dataclass
class Backend:
    store: Store
    owners: dict[str, Owner] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=lambda: {p.id: p for p in DEAL_PIPELINES})
    groups: dict[str, dict[str, dict]] = field(default_factory=dict)
    """object type -> property group name -> definition, for groups created through the API."""
    rejected: dict[tuple[str, int], str] = field(default_factory=dict)
    """(object type, id) -> message: writes touching that record are refused per input (test knob)."""
    task_uniqueness: TaskUniqueness = DEFAULT_TASK_UNIQUENESS
    """Whether a task property can have unique values (uniqueness.py)."""
    portal: PortalInfo = field(default_factory=PortalInfo)
    limits: RateLimits | None = None
    """The gate's rate limits, read by the daily API usage route (account.py)."""
