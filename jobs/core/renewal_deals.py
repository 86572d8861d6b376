"""Creating the customer's next renewal deal, a set number of days before the renewal. Pure.

A playbook may say ``create_renewal_deal`` (docs/playbooks.md, "Creating the renewal deal"): then,
from ``days_before`` days before a won deal's current renewal date until that date, AfterClose
creates one deal for it: same company, the owner the setting names, the amount of the mapped
field, close date = the renewal date, in the chosen pipeline and stage, linked to the company and
the main contact, with the deal type that makes it a renewal deal once it is won.

Its key follows the task keys: ``ac1:<crm>:<deal>:renewal_deal:<renewal cycle>``. The key is
stored on the created deal (the mapping's ``renewal_deal_key`` field), so a lost answer, a crash
or a lost state store never makes a second one; the ledger remembers it as done.

Nothing is created when the customer already has a later renewal deal that carries the renewals
(jobs/core/customers.py), when the renewal date has passed (``roll_forward = false`` after the
first renewal), or while the customer book is incomplete (the planner holds it back like the
renewal ladder).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from connector.actions import CreateDeal
from connector.model import Deal, DealSpec
from jobs.core.keys import task_key
from jobs.core.planned import RenewalCycle
from jobs.core.values import clean_text

TOUCH_POINT = "renewal_deal"
"""The key's touch point part: reserved, no touch point may use it."""
DEAL_OWNER = "deal_owner"
"""``owner = "deal_owner"``: the renewal deal gets the won deal's owner."""
BUILT_IN_AMOUNT = "amount"
"""``amount_field = "amount"``: the won deal's own amount."""
MAX_NAME = 120
"""The shorter deal-name limit of the two CRMs (Salesforce's 120 characters)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RenewalDealRule:
    days_before: int
    stage: str
    """The stage the deal is created in (HubSpot stage id, Salesforce stage name)."""
    pipeline: str | None = None
    """HubSpot pipeline id; None on Salesforce (no pipelines)."""
    owner: str = DEAL_OWNER
    """``deal_owner``, or a CRM user id."""
    amount_field: str = BUILT_IN_AMOUNT
    deal_type: str | None = None
    """Written to the mapped ``deal_type`` field, so the deal gets the renewal playbook once won."""

    def __post_init__(self) -> None:
        if not 0 <= self.days_before <= 3660:
            raise ValueError(f"create_renewal_deal.days_before must be 0-3660, got {self.days_before}")
        if not self.stage.strip():
            raise ValueError("create_renewal_deal.stage must name a deal stage")


@dataclass(frozen=True, kw_only=True, slots=True)
class RenewalDealDecision:
    action: CreateDeal | None = None
    revisit: dt.date | None = None
    """The day to look at the deal again (when the creation window opens)."""
    note: str | None = None


def renewal_deal_key(deal: Deal, cycle: int) -> str:
    return task_key(deal.provider, deal.id, TOUCH_POINT, cycle)


def decide(deal: Deal, rule: RenewalDealRule, renewal: RenewalCycle | None, today: dt.date, *,
           ends: dt.date | None, known_keys: frozenset[str] | set[str], fallback_owner: str | None,
           ) -> RenewalDealDecision:
    """Whether to create ``deal``'s renewal deal for its current renewal cycle now."""
    if renewal is None:
        return RenewalDealDecision()
    key = renewal_deal_key(deal, renewal.number)
    if key in known_keys:
        return RenewalDealDecision()
    when = renewal.renewal_date
    if ends is not None and when >= ends:
        return RenewalDealDecision(note=f"no renewal deal created for the renewal on {when}: the customer's "
                                        f"renewal deal closed on {ends} carries it")
    if when < today:
        return RenewalDealDecision()  # the renewal is past: a renewal deal for it would be history
    opens = when - dt.timedelta(days=rule.days_before)
    if today < opens:
        return RenewalDealDecision(revisit=opens)
    spec = DealSpec(
        key=key, from_deal_id=deal.id, name=_name(deal.name, when), close_date=when, stage=rule.stage,
        pipeline=rule.pipeline, owner_id=_owner(deal, rule, fallback_owner), amount=_amount(deal, rule),
        company_id=deal.company.id if deal.company else None,
        contact_id=deal.main_contact.id if deal.main_contact else None,
        fields={"deal_type": rule.deal_type} if rule.deal_type else {},
    )
    reason = (f"create the renewal deal for the renewal on {when} (renewal cycle {renewal.number}: {renewal.source}), "
              f"{rule.days_before} days before it")
    return RenewalDealDecision(action=CreateDeal(spec=spec, reason=reason))


def _name(name: str, renewal_date: dt.date) -> str:
    suffix = f" - renewal {renewal_date.isoformat()}"
    return name[: MAX_NAME - len(suffix)].rstrip() + suffix


def _owner(deal: Deal, rule: RenewalDealRule, fallback_owner: str | None) -> str | None:
    if rule.owner != DEAL_OWNER:
        return rule.owner
    if deal.owner is not None and (deal.owner.active or fallback_owner is None):
        return deal.owner.id
    return fallback_owner


def _amount(deal: Deal, rule: RenewalDealRule) -> str | None:
    raw = deal.amount if rule.amount_field == BUILT_IN_AMOUNT else deal.value(rule.amount_field)
    return clean_text(raw)
