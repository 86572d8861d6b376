"""Everything a request handler needs: the store, owners, pipelines and the test knobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.sandbox.hubspot.portal import DEAL_PIPELINES, Owner, Pipeline
from connector.sandbox.hubspot.store import Store


@dataclass
class Backend:
    store: Store
    owners: dict[str, Owner] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=lambda: {p.id: p for p in DEAL_PIPELINES})
    groups: dict[str, dict[str, dict]] = field(default_factory=dict)
    """object type -> property group name -> definition, for groups created through the API."""
    rejected: dict[tuple[str, int], str] = field(default_factory=dict)
    """(object type, id) -> message: writes touching that record are refused per input (test knob)."""
