"""What is written back from an account's responses (the policy and its summary), and the
referral lifecycle those responses move along. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from connector.model import (
    NpsResponse,
)
from jobs.core.nps.match import DETRACTOR, PASSIVE, PROMOTER, Category, category
from jobs.core.playbook import (
    DEFAULT_PLAYBOOK,
    Playbook,
)

# --- policy and summary -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class NpsPolicy:
    aggregate: Literal["latest", "average"] = "latest"
    window_days: int = 365
    """``average``: responses within this many days before the latest one count."""
    task_max_age_days: int = 30
    """A latest response older than this (relative to ``now``) makes no task."""
    write_comment: bool = True
    referrer_field: str = "referred_by"
    """Canonical deal field naming who referred a deal (an account id, contact id or email)."""
    detractor_due_business_days: int = 1
    ask_due_business_days: int = 2
    playbook: Playbook = DEFAULT_PLAYBOOK
    """The calendar (zone, workdays, holidays, due hour) task dates are counted in."""

    def __post_init__(self) -> None:
        if self.aggregate not in ("latest", "average"):
            raise ValueError(f"nps: aggregate must be 'latest' or 'average', got {self.aggregate!r}")
        for name in ("window_days", "task_max_age_days", "detractor_due_business_days", "ask_due_business_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"nps: {name} must be 0 or more, got {getattr(self, name)}")


@dataclass(frozen=True, kw_only=True, slots=True)
class NpsSummary:
    score: Decimal
    category: Category
    responded_at: dt.datetime
    """Of the latest response: the date written back."""
    latest: NpsResponse
    count: int
    basis: str
    """How the score was reached, for the plan's reasons."""


def latest_of(responses: Iterable[NpsResponse]) -> NpsResponse:
    """The most recent response; the response id breaks ties so the choice is stable."""
    return max(responses, key=lambda r: (r.responded_at, r.response_id))


def summarise(responses: Sequence[NpsResponse], policy: NpsPolicy) -> NpsSummary:
    if not responses:
        raise ValueError("summarise needs at least one response")
    latest = latest_of(responses)
    if policy.aggregate == "latest":
        score = Decimal(latest.score)
        return NpsSummary(score=score, category=category(score), responded_at=latest.responded_at, latest=latest,
                          count=1, basis=f"latest response ({latest.score} on {latest.responded_at.date()})")
    start = latest.responded_at - dt.timedelta(days=policy.window_days)
    window = [r for r in responses if r.responded_at >= start]
    mean = (Decimal(sum(r.score for r in window)) / len(window)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    score = mean.to_integral_value() if mean == mean.to_integral_value() else mean
    basis = (f"average of {len(window)} response(s) from {start.date()} to {latest.responded_at.date()} "
             f"({policy.window_days}-day window): {score}")
    return NpsSummary(score=score, category=category(score), responded_at=latest.responded_at, latest=latest,
                      count=len(window), basis=basis)


# --- referral lifecycle -----------------------------------------------------------------------------


class ReferralStatus(StrEnum):
    NOT_ELIGIBLE = "not_eligible"
    ELIGIBLE = "eligible"
    ASKED = "asked"
    REFERRED = "referred"
    DECLINED = "declined"


class ReferralEvent(StrEnum):
    REFERRAL_WON = "referral won"
    DETRACTOR = "detractor"
    ASK_COMPLETED = "ask completed"
    PROMOTER = "promoter"
    PASSIVE = "passive"


EVENT_ORDER = (ReferralEvent.REFERRAL_WON, ReferralEvent.DETRACTOR, ReferralEvent.ASK_COMPLETED,
               ReferralEvent.PROMOTER, ReferralEvent.PASSIVE)
_S, _E = ReferralStatus, ReferralEvent
TRANSITIONS: Mapping[tuple[ReferralStatus, ReferralEvent], ReferralStatus] = MappingProxyType({
    (_S.NOT_ELIGIBLE, _E.REFERRAL_WON): _S.REFERRED,
    (_S.ELIGIBLE, _E.REFERRAL_WON): _S.REFERRED,
    (_S.ASKED, _E.REFERRAL_WON): _S.REFERRED,
    (_S.ELIGIBLE, _E.DETRACTOR): _S.NOT_ELIGIBLE,
    (_S.ASKED, _E.DETRACTOR): _S.NOT_ELIGIBLE,
    (_S.ELIGIBLE, _E.ASK_COMPLETED): _S.ASKED,
    (_S.NOT_ELIGIBLE, _E.PROMOTER): _S.ELIGIBLE,
    (_S.ELIGIBLE, _E.PASSIVE): _S.NOT_ELIGIBLE,
})
_KEPT = {
    _S.DECLINED: "declined by the owner in the CRM: AfterClose never overwrites it",
    _S.REFERRED: "already referred: a referral is a fact and stays",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ReferralEvidence:
    latest_category: Category | None = None
    """Category of the latest response seen (None: no response this time)."""
    latest_score: int | None = None
    ask_completed: bool = False
    """The account's most recent referral-ask task is completed in the CRM."""
    referred_by_deal: str | None = None
    """A won deal whose referrer field names this account or one of its contacts."""

    def events(self) -> tuple[ReferralEvent, ...]:
        present = {
            _E.REFERRAL_WON: self.referred_by_deal is not None,
            _E.DETRACTOR: self.latest_category == DETRACTOR,
            _E.ASK_COMPLETED: self.ask_completed,
            _E.PROMOTER: self.latest_category == PROMOTER,
            _E.PASSIVE: self.latest_category == PASSIVE,
        }
        return tuple(event for event in EVENT_ORDER if present[event])


@dataclass(frozen=True, kw_only=True, slots=True)
class ReferralTransition:
    before: ReferralStatus
    after: ReferralStatus
    reason: str

    @property
    def changed(self) -> bool:
        return self.before is not self.after


def parse_status(raw: str | None) -> ReferralStatus | None:
    """The status a CRM value means (case, spaces and ``-`` ignored); empty is ``not_eligible``;
    None for a value AfterClose does not know, which it then leaves alone (an admin's own
    picklist value such as "do not ask" must not be overwritten)."""
    text = (raw or "").strip().lower().replace(" ", "_").replace("-", "_")
    if not text:
        return ReferralStatus.NOT_ELIGIBLE
    try:
        return ReferralStatus(text)
    except ValueError:
        return None


def next_referral_status(current: ReferralStatus, evidence: ReferralEvidence) -> ReferralTransition:
    """One step of the lifecycle: the first event (in ``EVENT_ORDER``) with a transition wins."""
    if current in _KEPT:
        return ReferralTransition(before=current, after=current, reason=_KEPT[current])
    for event in evidence.events():
        target = TRANSITIONS.get((current, event))
        if target is not None:
            return ReferralTransition(before=current, after=target, reason=_event_reason(event, evidence, target))
    return ReferralTransition(before=current, after=current, reason=f"stays {current.value}: nothing new")


def _event_reason(event: ReferralEvent, evidence: ReferralEvidence, target: ReferralStatus) -> str:
    score = f" ({evidence.latest_score})" if evidence.latest_score is not None else ""
    why = {
        _E.REFERRAL_WON: f"won deal {evidence.referred_by_deal} names this customer as its referrer",
        _E.DETRACTOR: f"latest response is a detractor{score}",
        _E.ASK_COMPLETED: "the referral-ask task was completed",
        _E.PROMOTER: f"latest response is a promoter{score}",
        _E.PASSIVE: f"latest response is a passive{score}, no longer a promoter",
    }[event]
    return f"{why}: {target.value}"
