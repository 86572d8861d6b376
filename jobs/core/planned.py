"""What a deal's schedule looks like: planned touch points, the renewal cycle, revisits. Pure values
that jobs/core/playbook.py makes and the planner reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from jobs.core.touch_points import TouchPointRule


@dataclass(frozen=True, kw_only=True, slots=True)
class PlannedTouchPoint:
    rule: TouchPointRule
    cycle: int
    due_at: dt.datetime
    anchor_date: dt.date
    reason: str
    """Why it is due then: 'due 2026-03-04: Kickoff call, 2 business days after close 2026-03-02'."""
    counted_from: str = ""
    """The date it counts from, for a rep reading the task: '2 business days after the close date
    2026-03-02', 'occurrence 3: every 3 months from 90 days after the close date 2026-03-02'."""

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def due_date(self) -> dt.date:
        return self.due_at.date()


@dataclass(frozen=True, kw_only=True, slots=True)
class RenewalCycle:
    number: int
    renewal_date: dt.date
    source: str
    """How the renewal date was found, for a reader of the plan: "close date 2026-03-02 + 12 months",
    "the deal's renewal date 2027-01-31 + 24 months"."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DealSchedule:
    touch_points: tuple[PlannedTouchPoint, ...]
    renewal: RenewalCycle | None
    revisit_at: dt.datetime | None
    """When to look at the deal again (the next renewal cycle, or a regular check-up coming within
    its horizon); None: nothing to revisit."""
    notes: tuple[str, ...] = ()
    """Data problems the schedule worked around, for the dry-run output."""
    locate: Callable[[TouchPointRule, int], PlannedTouchPoint | str] = field(
        default=lambda rule, cycle: "the deal has no schedule", repr=False, compare=False)
    """Where the schedule wants an existing task of ``(rule, cycle)`` that is not among
    ``touch_points`` (a check-up beyond the horizon), or why it wants it no more."""
