"""What the planner returns: the plan, and what the shell records and shows beside it. Pure values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from connector.actions import Action, Plan
from jobs.core.customers import CustomerDeal
from jobs.core.playbook_set import ONLY_PLAYBOOK, Choice


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanResult:
    plan: Plan
    revisit: dict[str, dt.datetime]
    """Deal id -> when to re-read it (its next renewal cycle or check-up; now for ``later``)."""
    fingerprints: dict[str, str]
    """Task key -> fingerprint of the content a create/update action writes (the store saves it)."""
    notes: dict[str, tuple[str, ...]]
    """Deal id -> data problems worked around (bad renewal date, no close date...)."""
    choices: dict[str, Choice] = field(default_factory=dict)
    """Deal id -> its playbook and why (every deal of the plan)."""
    customers: tuple[CustomerDeal, ...] = ()
    """What the customer book should remember of this plan's deals."""
    later: frozenset[str] = frozenset()
    """Deals to decide again in this run once every won deal has been read: held back here, or
    an earlier deal of a customer whose renewal deal changed."""
    upcoming: dict[str, dict[str, tuple[dt.date, ...]]] = field(default_factory=dict)
    """Deal id -> repeating touch point -> its next due dates."""
    retiring: frozenset[str] = frozenset()
    """Keys of open tasks this plan notes or closes because the deal's plan no longer wants them:
    the shell checks first that a rep has not completed them meanwhile (such a task is not touched)."""

    def for_deal(self, deal_id: str) -> tuple[Action, ...]:
        return tuple(a for a in self.plan.actions if a.deal_id == deal_id)

    def deal_ids(self) -> tuple[str, ...]:
        """Deals with anything to show, in plan order."""
        ids = [a.deal_id for a in self.plan.actions] + sorted(self.notes)
        return tuple(sorted(dict.fromkeys(ids)))

    def explain(self) -> list[str]:
        """The dry run as plain lines: per deal, its playbook, notes, each action and why."""
        lines = []
        for deal_id in self.deal_ids():
            lines.append(f"deal {deal_id}")
            choice = self.choices.get(deal_id)
            if choice is not None and choice.because != ONLY_PLAYBOOK:
                lines.append(f"  playbook {choice.id}: {choice.because}")
            lines.extend(f"  note: {note}" for note in self.notes.get(deal_id, ()))
            lines.extend(f"  {action.kind.value} {action.key}: {action.reason}" for action in self.for_deal(deal_id))
            for touch_point, days in self.upcoming.get(deal_id, {}).items():
                lines.append(f"  next {touch_point}: {', '.join(d.isoformat() for d in days) or 'none'}")
            if deal_id in self.revisit:
                lines.append(f"  revisit at {self.revisit[deal_id].isoformat()}")
        return lines


def same_instant(stored: dt.datetime | None, wanted: dt.datetime) -> bool:
    """Whether two aware times name the same instant, whatever zone each is labelled with
    (subtraction compares instants; ``==`` across zones is False for a time in a DST fold)."""
    return stored is not None and stored - wanted == dt.timedelta(0)
