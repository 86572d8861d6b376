"""NPS and referrals, decided. Pure: no I/O, ``now`` is passed in.

1. ``match`` ties each survey response to a customer: by ``account_id`` when the survey tool
   knows it, else by the respondent's email (case and surrounding spaces ignored) -> contact ->
   the contact's company -> its won deals. A response that cannot be tied says why.
2. ``summarise`` turns an account's responses into what is written back: the ``latest``
   response (default), or the ``average`` of the responses within ``window_days`` of the
   latest one (rounded to one decimal; its category follows the rounded average).
3. ``plan_nps`` writes score, category and date (and the comment) onto each won deal and the
   company, only where the CRM's value differs after normalisation ("9" equals "9.0"); moves
   the referral status along its lifecycle; and creates the follow-up tasks:

   - a *detractor* (0-6) latest response: a high-priority call for the account owner, due one
     business day later (in the playbook's calendar);
   - a *promoter* (9-10) latest response that makes the account ``eligible``: an "ask for a
     referral" task, unless an ask task of the account is still open.

   Task keys are ``jobs.core.keys.task_key(provider, "account.<id>", "<touch point>_<digest>", 0)``
   where the digest is of the response id: the same response never makes a second task (the
   ledger, or the key stored on the CRM task, already has it), a new response may. keys.py's
   ``cycle`` is a 0-9999 number, so the response identity travels in the touch-point segment
   instead. Responses older than ``task_max_age_days`` make no task (a first run over a year of
   exports must not flood reps with stale follow-ups): the skip is recorded, with its reason.

Referral lifecycle (``TRANSITIONS``, first applicable event wins, in this order):

    event \\ status      not_eligible  eligible      asked         referred  declined
    referral won        referred      referred      referred      -         -
    detractor           -             not_eligible  not_eligible  -         -
    ask completed       -             asked         -             -         -
    promoter            eligible      -             -             -         -
    passive             -             not_eligible  -             -         -

``-`` keeps the status. ``declined`` is the owner's decision and ``referred`` is a fact: nothing
AfterClose sees overwrites them. "ask completed" means the account's most recent referral-ask
task is completed in the CRM; "referral won" means a won deal's ``referrer_field`` names this
account, one of its contacts (id or email).

Canonical fields written when the mapping declares them writable: deals ``nps_score``,
``nps_category``, ``nps_date``, ``nps_comment``, ``referral_status``, ``referral_status_date``;
companies the same names prefixed ``company_``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from connector.actions import Action, CreateTask, Skip, UpdateRecord
from connector.mapping import FieldMap, FieldType, TaskTemplate, format_stakeholders, render_template
from connector.model import (
    Deal,
    FieldValue,
    NpsContact,
    NpsResponse,
    Priority,
    RecordKind,
    RecordUpdate,
    TaskSpec,
    TaskType,
    require_aware,
)
from jobs.core.keys import deal_ref, parse_key, task_key
from jobs.core.playbook import DEFAULT_PLAYBOOK, Playbook, add_business_days, due_at, local_today
from jobs.core.values import clean_text, normalize_for_compare
from jobs.core.ledger_view import EntryStatus, LedgerEntry

Category = Literal["promoter", "passive", "detractor"]
PROMOTER: Category = "promoter"
PASSIVE: Category = "passive"
DETRACTOR: Category = "detractor"

DETRACTOR_TOUCH_POINT = "nps_detractor_followup"
REFERRAL_ASK_TOUCH_POINT = "nps_referral_ask"
_DIGEST_CHARS = 16
"""64 bits of the response id: unique among one account's responses for any practical count,
and short enough for keys.py's 40-character touch-point segment."""
ACCOUNT_REF_PREFIX = "account."


def category(score: int | Decimal | float) -> Category:
    """9-10 promoter, 7-8 passive, 0-6 detractor (an average of 8.5 is passive)."""
    if score >= 9:
        return PROMOTER
    if score >= 7:
        return PASSIVE
    return DETRACTOR


def normalise_email(email: str | None) -> str | None:
    text = (email or "").strip().lower()
    return text or None


# --- what the job read from the CRM --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class KnownAccount:
    """A company (HubSpot) or account (Salesforce) with at least one won deal."""

    id: str
    won_deal_ids: tuple[str, ...]
    name: str | None = None
    owner_id: str | None = None
    referral_status: str | None = None
    """As the CRM holds it; None -> ``fields['company_referral_status']``, else the most recent
    won deal's ``referral_status``."""
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    """Current company values by canonical name (``company_nps_score`` ...), raw."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "won_deal_ids", tuple(self.won_deal_ids))
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))


@dataclass(frozen=True, kw_only=True, slots=True)
class NpsSnapshot:
    accounts: Mapping[str, KnownAccount]
    contacts: tuple[NpsContact, ...] = ()
    deals: Mapping[str, Deal] = field(default_factory=dict)
    """Won deals by id, with their mapped fields (current write-back values, referrer)."""
    ledger: Mapping[str, LedgerEntry] = field(default_factory=dict)
    """NPS task ledger entries by key."""


# --- matching ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class MatchedResponse:
    response: NpsResponse
    account: KnownAccount
    contact: NpsContact | None
    via: Literal["account_id", "email"]


@dataclass(frozen=True, kw_only=True, slots=True)
class UnmatchedResponse:
    response: NpsResponse
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class MatchResult:
    matched: tuple[MatchedResponse, ...]
    unmatched: tuple[UnmatchedResponse, ...]


def match(responses: Iterable[NpsResponse], contacts_by_email: Mapping[str, NpsContact] | Iterable[NpsContact],
          accounts_by_id: Mapping[str, KnownAccount]) -> MatchResult:
    """Tie each response to an account with won deals, or say why not.

    ``contacts_by_email`` may also be the contacts themselves (each indexed by its own email):
    the form in which two contacts sharing one address can both be passed."""
    if not isinstance(contacts_by_email, Mapping):
        contacts_by_email = {f"{n:x}": c for n, c in enumerate(contacts_by_email)}
        index, ambiguous = _email_index(contacts_by_email, keyed_by_email=False)
    else:
        index, ambiguous = _email_index(contacts_by_email)
    matched: list[MatchedResponse] = []
    unmatched: list[UnmatchedResponse] = []
    for response in responses:
        found = _match_one(response, index, ambiguous, accounts_by_id)
        if isinstance(found, str):
            unmatched.append(UnmatchedResponse(response=response, reason=found))
        else:
            matched.append(found)
    return MatchResult(matched=tuple(matched), unmatched=tuple(unmatched))


def _email_index(contacts: Mapping[str, NpsContact], *,
                 keyed_by_email: bool = True) -> tuple[dict[str, NpsContact], set[str]]:
    index: dict[str, NpsContact] = {}
    ambiguous: set[str] = set()
    for key, contact in contacts.items():
        email = (normalise_email(key) if keyed_by_email else None) or normalise_email(contact.email)
        if email is None:
            continue
        if email in index and index[email].id != contact.id:
            ambiguous.add(email)
        index.setdefault(email, contact)
    return index, ambiguous


def _match_one(response: NpsResponse, index: Mapping[str, NpsContact], ambiguous: set[str],
               accounts: Mapping[str, KnownAccount]) -> MatchedResponse | str:
    email = normalise_email(response.email)
    contact = index.get(email) if email and email not in ambiguous else None
    reasons: list[str] = []
    if response.account_id:
        account = accounts.get(response.account_id.strip())
        if account is not None:
            mine = contact if contact is not None and contact.company_id == account.id else None
            return _with_won_deals(response, account, mine, "account_id")
        reasons.append(f"account id {response.account_id!r} is not an account with a won deal")
    if email is None:
        return "; ".join(reasons) or "no email and no account id"
    if email in ambiguous:
        reasons.append(f"several CRM contacts share the email {email!r} (merge the duplicates)")
    elif contact is None:
        reasons.append(f"no CRM contact has the email {email!r}")
    elif not contact.company_id:
        reasons.append(f"contact {contact.id} ({email}) has no company")
    elif contact.company_id not in accounts:
        reasons.append(f"contact {contact.id} ({email}) belongs to company {contact.company_id}, "
                       "which has no won deal")
    else:
        return _with_won_deals(response, accounts[contact.company_id], contact, "email")
    return "; ".join(reasons)


def _with_won_deals(response: NpsResponse, account: KnownAccount, contact: NpsContact | None,
                    via: Literal["account_id", "email"]) -> MatchedResponse | str:
    if not account.won_deal_ids:
        return f"account {account.id} has no won deal"
    return MatchedResponse(response=response, account=account, contact=contact, via=via)


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


# --- the plan ------------------------------------------------------------------------------------------


def account_ref(account_id: str) -> str:
    """How an account appears in a task key (keys.py calls the segment the deal ref)."""
    return f"{ACCOUNT_REF_PREFIX}{account_id}"


def nps_task_key(provider: str, account_id: str, touch_point: str, response_id: str) -> str:
    """One task per account, touch point and response: stable across runs, never repeated."""
    digest = hashlib.sha256(response_id.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    return task_key(provider, account_ref(account_id), f"{touch_point}_{digest}", 0)


def plan_nps(matched: Iterable[MatchedResponse], snapshot: NpsSnapshot, fieldmap: FieldMap,
             policy: NpsPolicy, now: dt.datetime) -> list[Action]:
    """The writes and tasks NPS responses and referral evidence call for, each with its reason.

    Pass every response you have (old ones too): unchanged values and known task keys cost
    nothing, and the ``average`` policy needs the history."""
    require_aware("now", now)
    by_account: dict[str, list[MatchedResponse]] = {}
    for item in matched:
        by_account.setdefault(item.account.id, []).append(item)
    referrers = _referrer_index(snapshot, policy.referrer_field)
    actions: list[Action] = []
    for account_id in sorted(set(snapshot.accounts) | set(by_account)):
        items = by_account.get(account_id, [])
        account = snapshot.accounts.get(account_id) or items[0].account
        ctx = _AccountContext(account, items, snapshot, fieldmap, policy, now, referrers.get(account_id))
        actions.extend(ctx.plan())
    return actions


def _referrer_index(snapshot: NpsSnapshot, referrer_field: str) -> dict[str, str]:
    """Account id -> the first won deal (by id) whose referrer field names it or its contacts."""
    names: dict[str, str] = {}
    for account_id in snapshot.accounts:
        names[account_id.strip().lower()] = account_id
    for contact in snapshot.contacts:
        if contact.company_id in snapshot.accounts:
            names[contact.id.strip().lower()] = contact.company_id
            if email := normalise_email(contact.email):
                names[email] = contact.company_id
    found: dict[str, str] = {}
    for deal_id in sorted(snapshot.deals):
        deal = snapshot.deals[deal_id]
        named = (clean_text(deal.value(referrer_field)) or "").lower()
        account_id = names.get(named)
        own = deal.company.id if deal.company else None
        if account_id and account_id != own and deal.is_won:
            found.setdefault(account_id, deal_id)
    return found


@dataclass(frozen=True, slots=True)
class _AccountContext:
    account: KnownAccount
    items: list[MatchedResponse]
    snapshot: NpsSnapshot
    fieldmap: FieldMap
    policy: NpsPolicy
    now: dt.datetime
    referred_by: str | None

    def plan(self) -> list[Action]:
        summary = summarise([i.response for i in self.items], self.policy) if self.items else None
        transition = self._transition(summary)
        if summary is None and (transition is None or not transition.changed):
            return []
        anchor = _anchor_deal(self.account, self.snapshot.deals)
        writes = self._record_writes(anchor, summary, transition)
        tasks = self._tasks(anchor, summary, transition) if summary else []
        return [*writes, *tasks]

    # referral status

    def _transition(self, summary: NpsSummary | None) -> ReferralTransition | None:
        """None when the stored status is not one of AfterClose's: it is then left alone."""
        current = parse_status(self._stored_status())
        if current is None:
            return None
        evidence = ReferralEvidence(
            latest_category=category(summary.latest.score) if summary else None,
            latest_score=summary.latest.score if summary else None,
            ask_completed=self._ask_completed(),
            referred_by_deal=self.referred_by,
        )
        return next_referral_status(current, evidence)

    def _stored_status(self) -> str | None:
        if self.account.referral_status is not None:
            return self.account.referral_status
        if clean_text(self.account.fields.get("company_referral_status")):
            return self.account.fields.get("company_referral_status")
        anchor = _anchor_deal(self.account, self.snapshot.deals)
        deal = self.snapshot.deals.get(anchor) if anchor else None
        return deal.value("referral_status") if deal else None

    def _ask_entries(self) -> list[LedgerEntry]:
        return _entries_for(self.snapshot.ledger, self.account.id, REFERRAL_ASK_TOUCH_POINT)

    def _ask_completed(self) -> bool:
        entries = self._ask_entries()
        if not entries:
            return False
        current = max(entries, key=_entry_order)
        return current.status is EntryStatus.COMPLETED

    # record writes

    def _record_writes(self, anchor: str, summary: NpsSummary | None,
                       transition: ReferralTransition | None) -> list[Action]:
        wanted = self._wanted_values(summary, transition)
        referral = (f"referral status {transition.reason}" if transition else
                    f"referral status {self._stored_status()!r} is not one of AfterClose's: left alone")
        why = "; ".join(part for part in (summary.basis if summary else None, referral) if part)
        actions: list[Action] = []
        for deal_id in self.account.won_deal_ids:
            deal = self.snapshot.deals.get(deal_id)
            current = deal.fields if deal else {}
            action = _update(self.fieldmap, RecordKind.DEAL, deal_id, anchor, wanted, current, why,
                             known=deal is not None, zone=self.policy.playbook.zone)
            if action:
                actions.append(action)
        company_wanted = {f"company_{name}": value for name, value in wanted.items()}
        action = _update(self.fieldmap, RecordKind.COMPANY, self.account.id, anchor, company_wanted,
                         self.account.fields, why, known=True, zone=self.policy.playbook.zone)
        if action:
            actions.append(action)
        return actions

    def _wanted_values(self, summary: NpsSummary | None,
                       transition: ReferralTransition | None) -> dict[str, object]:
        """Canonical deal field -> value; each record then writes only what differs from it."""
        wanted: dict[str, object] = {}
        if summary is not None:
            wanted.update(nps_score=summary.score, nps_category=summary.category, nps_date=summary.responded_at)
            if self.policy.write_comment:
                # The comment belongs to the response written: an older one next to a new score misleads.
                wanted["nps_comment"] = clean_text(summary.latest.comment)
        if transition is not None:
            wanted["referral_status"] = transition.after.value
            if transition.changed:
                wanted["referral_status_date"] = self.now
        return wanted

    # tasks

    def _tasks(self, anchor: str, summary: NpsSummary, transition: ReferralTransition | None) -> list[Action]:
        latest = summary.latest
        kind = category(latest.score)
        if kind == DETRACTOR:
            return self._task(anchor, latest, DETRACTOR_TOUCH_POINT)
        if kind == PROMOTER and transition is not None and transition.after is ReferralStatus.ELIGIBLE:
            if any(e.status is EntryStatus.OPEN for e in self._ask_entries()):
                return []  # one open ask at a time: a second promoter answer adds nothing to do
            return self._task(anchor, latest, REFERRAL_ASK_TOUCH_POINT)
        return []

    def _task(self, anchor: str, response: NpsResponse, touch_point: str) -> list[Action]:
        key = nps_task_key(self.fieldmap.provider, self.account.id, touch_point, response.response_id)
        if key in self.snapshot.ledger:
            return []  # made (or skipped) before, for this very response
        age = self.now - response.responded_at
        if age > dt.timedelta(days=self.policy.task_max_age_days):
            reason = (f"skip {_TITLES[touch_point].lower()}: the response of {response.responded_at.date()} is "
                      f"{age.days} days old (more than task_max_age_days = {self.policy.task_max_age_days})")
            return [Skip(deal_id=anchor, key=key, reason=reason)]
        return [CreateTask(spec=self._spec(anchor, response, touch_point, key),
                           reason=self._task_reason(response, touch_point))]

    def _spec(self, anchor: str, response: NpsResponse, touch_point: str, key: str) -> TaskSpec:
        rules = _TASK_RULES[touch_point]
        business_days = getattr(self.policy, rules.due_setting)
        playbook = self.policy.playbook
        day = add_business_days(local_today(self.now, playbook), business_days, playbook)
        deal = self.snapshot.deals.get(anchor)
        contact = next((i.contact for i in self.items if i.response is response and i.contact), None)
        values = self._template_values(deal, response, contact, touch_point, day)
        template = _template(self.fieldmap, touch_point)
        return TaskSpec(
            key=key, deal_id=anchor, touch_point=parse_key(key).touch_point,
            subject=render_template(template.subject, values).strip(),
            body=render_template(template.body, values),
            due_at=due_at(day, playbook), owner_id=self._owner(deal), priority=rules.priority, type=rules.type,
            company_id=self.account.id, contact_id=contact.id if contact else None,
        )

    def _owner(self, deal: Deal | None) -> str | None:
        """The account owner, else the owner of the task's deal, unless deactivated: then the
        most recently closed won deal of the account with an active owner (a CRM refuses tasks
        for deactivated users, so the task would never be made)."""
        if self.account.owner_id:
            return self.account.owner_id
        if deal and deal.owner and deal.owner.active:
            return deal.owner.id
        won = [self.snapshot.deals[d] for d in self.account.won_deal_ids if d in self.snapshot.deals]
        for other in sorted(won, key=lambda d: (d.close_date or dt.date.min, d.id), reverse=True):
            if other.owner and other.owner.active:
                return other.owner.id
        return deal.owner.id if deal and deal.owner else None

    def _template_values(self, deal: Deal | None, response: NpsResponse, contact: NpsContact | None,
                         touch_point: str, day: dt.date) -> dict[str, str | None]:
        values: dict[str, str | None] = dict(deal.fields) if deal else {}
        respondent = ", ".join(p for p in ((contact.name if contact else None), response.email) if p)
        values.update(
            deal_name=deal.name if deal else None, deal_id=deal.id if deal else None,
            company_name=self.account.name or (deal.company.name if deal and deal.company else None),
            owner_name=(deal.owner.name or deal.owner.email) if deal and deal.owner else None,
            close_date=deal.close_date.isoformat() if deal and deal.close_date else None,
            amount=deal.amount if deal else None,
            stakeholders=format_stakeholders(deal.contacts) if deal else None,
            touch_point_title=_TITLES[touch_point], due_date=day.isoformat(), cycle="0",
            nps_score=str(response.score), nps_comment=response.comment,
            respondent=respondent or None, responded_on=response.responded_at.date().isoformat(),
        )
        return values

    def _task_reason(self, response: NpsResponse, touch_point: str) -> str:
        who = response.email or f"account {response.account_id}"
        return (f"{_TITLES[touch_point]}: {who} answered {response.score} ({category(response.score)}) on "
                f"{response.responded_at.date()} (response {response.response_id})")


@dataclass(frozen=True, slots=True)
class _TaskRule:
    priority: Priority
    type: TaskType
    due_setting: str


_TASK_RULES = {
    DETRACTOR_TOUCH_POINT: _TaskRule(Priority.HIGH, TaskType.CALL, "detractor_due_business_days"),
    REFERRAL_ASK_TOUCH_POINT: _TaskRule(Priority.NORMAL, TaskType.TODO, "ask_due_business_days"),
}
_TITLES = {
    DETRACTOR_TOUCH_POINT: "Detractor follow-up",
    REFERRAL_ASK_TOUCH_POINT: "Ask for a referral",
}
TEMPLATE_IDS = {DETRACTOR_TOUCH_POINT: "detractor_followup", REFERRAL_ASK_TOUCH_POINT: "referral_ask"}
"""The mapping's template for each NPS task: the ids the built-in mapping files (and
mappings/README.md) use; a template named after the touch point itself is accepted too."""


def _template(fieldmap: FieldMap, touch_point: str) -> TaskTemplate:
    templates = fieldmap.templates
    return templates.get(TEMPLATE_IDS[touch_point]) or templates.get(touch_point) or _DEFAULT_TEMPLATES[touch_point]


_DEFAULT_TEMPLATES = {
    DETRACTOR_TOUCH_POINT: TaskTemplate(
        subject="Call {company_name}: NPS {nps_score} (detractor)",
        body=("{respondent} answered the NPS survey with {nps_score} on {responded_on}.\n"
              "Comment: {nps_comment}\n\n"
              "Call within one business day: listen first, find what went wrong, agree on a fix and a date.\n"
              "Deal: {deal_name} (closed {close_date})\nStakeholders:\n{stakeholders}\n"),
    ),
    REFERRAL_ASK_TOUCH_POINT: TaskTemplate(
        subject="Ask {company_name} for a referral (NPS {nps_score})",
        body=("{respondent} answered the NPS survey with {nps_score} on {responded_on}: a promoter.\n"
              "Comment: {nps_comment}\n\n"
              "Thank them, then ask who else would benefit. When a new deal comes from it, name "
              "{company_name} as its referrer on the deal.\n"
              "Deal: {deal_name} (closed {close_date})\nStakeholders:\n{stakeholders}\n"),
    ),
}


def _entries_for(ledger: Mapping[str, LedgerEntry], account_id: str, touch_point: str) -> list[LedgerEntry]:
    ref = deal_ref(account_ref(account_id))
    out = []
    for key, entry in ledger.items():
        try:
            parsed = parse_key(key)
        except ValueError:
            continue
        if parsed.deal_ref == ref and parsed.touch_point.startswith(f"{touch_point}_"):
            out.append(entry)
    return out


def _entry_order(entry: LedgerEntry) -> tuple[dt.datetime, str]:
    """Most recent ask last: by due date (asks are due a fixed offset after they are made)."""
    earliest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return (entry.due_at or earliest, entry.key)


def _anchor_deal(account: KnownAccount, deals: Mapping[str, Deal]) -> str:
    """The won deal tasks hang on: the most recently closed one the job read, else the first id."""
    known = [deals[d] for d in account.won_deal_ids if d in deals]
    if not known:
        return account.won_deal_ids[0] if account.won_deal_ids else account_ref(account.id)
    return max(known, key=lambda d: (d.close_date or dt.date.min, d.id)).id


# --- writing values --------------------------------------------------------------------------------


def _update(fieldmap: FieldMap, kind: RecordKind, record_id: str, anchor: str, wanted: Mapping[str, object],
            current: Mapping[str, FieldValue], why: str, *, known: bool, zone: dt.tzinfo) -> UpdateRecord | None:
    changed: dict[str, FieldValue] = {}
    for name, value in wanted.items():
        if not _writable(fieldmap, name, kind):
            continue
        text = _as_field_text(fieldmap.spec(name).type, value, zone)
        if not known or _differs(fieldmap, name, current.get(name), text):
            changed[name] = text
    if not changed:
        return None
    described = ", ".join(f"{name} {current.get(name)!r} -> {value!r}" for name, value in changed.items())
    unknown = " (current values not read)" if not known else ""
    reason = f"NPS write-back{unknown}: {described}; {why}"
    return UpdateRecord(update=RecordUpdate(kind=kind, record_id=record_id, values=changed), deal_id=anchor,
                        reason=reason)


def _writable(fieldmap: FieldMap, name: str, kind: RecordKind) -> bool:
    if not fieldmap.has(name):
        return False
    spec = fieldmap.spec(name)
    return spec.write and spec.record is kind


def _as_field_text(kind: FieldType, value: object, zone: dt.tzinfo) -> FieldValue:
    """The value as text for a field of ``kind``: an instant becomes its day in the playbook's
    zone for a date field (the day the customer answered, where the team works), and UTC for a
    datetime field."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if kind is FieldType.DATETIME:
            return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return value.astimezone(zone).date().isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value != 0 else "0"
    return str(value)


def _differs(fieldmap: FieldMap, name: str, current: FieldValue, wanted: FieldValue) -> bool:
    kind = fieldmap.spec(name).type
    return normalize_for_compare(kind, current) != normalize_for_compare(kind, wanted)


__all__ = [
    "DETRACTOR_TOUCH_POINT", "EVENT_ORDER", "REFERRAL_ASK_TOUCH_POINT", "TRANSITIONS", "Category",
    "KnownAccount", "MatchResult", "MatchedResponse", "NpsPolicy", "NpsSnapshot", "NpsSummary",
    "ReferralEvent", "ReferralEvidence", "ReferralStatus", "ReferralTransition", "TEMPLATE_IDS", "UnmatchedResponse",
    "account_ref", "category", "latest_of", "match", "next_referral_status", "normalise_email", "nps_task_key",
    "parse_status", "plan_nps", "summarise",
]
