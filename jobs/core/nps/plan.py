"""The NPS plan: write-backs, referral status and follow-up tasks for each matched account. Pure."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from connector.actions import Action, CreateTask, Skip, UpdateRecord
from connector.mapping import FieldMap, FieldType, date_as_datetime
from connector.model import (
    Deal,
    FieldValue,
    NpsContact,
    NpsResponse,
    RecordKind,
    RecordUpdate,
    TaskSpec,
    require_aware,
)
from jobs.core.keys import deal_ref, parse_key, task_key
from jobs.core.ledger_view import EntryStatus, LedgerEntry
from jobs.core.nps.match import (
    ACCOUNT_REF_PREFIX,
    DETRACTOR,
    DETRACTOR_TOUCH_POINT,
    DIGEST_CHARS,
    PROMOTER,
    REFERRAL_ASK_TOUCH_POINT,
    KnownAccount,
    MatchedResponse,
    NpsSnapshot,
    category,
    normalise_email,
)
from jobs.core.nps.referral import (
    NpsPolicy,
    NpsSummary,
    ReferralEvidence,
    ReferralStatus,
    ReferralTransition,
    next_referral_status,
    parse_status,
    summarise,
)
from jobs.core.nps.tasks import TASK_RULES, TITLES, template_for
from jobs.core.playbook import (
    add_business_days,
    due_at,
    local_today,
)
from jobs.core.task_text import deal_values, field_text, render_task
from jobs.core.values import clean_text, differs

# --- the plan ------------------------------------------------------------------------------------------


def account_ref(account_id: str) -> str:
    """How an account appears in a task key (keys.py calls the segment the deal ref)."""
    return f"{ACCOUNT_REF_PREFIX}{account_id}"


def nps_task_key(provider: str, account_id: str, touch_point: str, response_id: str) -> str:
    """One task per account, touch point and response: stable across runs, never repeated."""
    digest = hashlib.sha256(response_id.encode("utf-8")).hexdigest()[:DIGEST_CHARS]
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
        if (company_id := contact.company_id) is not None and company_id in snapshot.accounts:
            names[contact.id.strip().lower()] = company_id
            if email := normalise_email(contact.email):
                names[email] = company_id
    found: dict[str, str] = {}
    for deal_id in sorted(snapshot.deals):
        deal = snapshot.deals[deal_id]
        named = (clean_text(deal.value(referrer_field)) or "").lower()
        referred = names.get(named)
        own = deal.company.id if deal.company else None
        if referred and referred != own and deal.is_won:
            found.setdefault(referred, deal_id)
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
            # Recorded under the deal it writes (`status --deal` lists it there), not the anchor.
            deal = self.snapshot.deals.get(deal_id)
            current = deal.fields if deal else {}
            action = _update(self.fieldmap, RecordKind.DEAL, deal_id, deal_id, wanted, current, why,
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
                wanted["nps_comment"] = field_text(clean_text(summary.latest.comment))
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
            reason = (f"skip {TITLES[touch_point].lower()}: the response of {response.responded_at.date()} is "
                      f"{age.days} days old (more than task_max_age_days = {self.policy.task_max_age_days})")
            return [Skip(deal_id=anchor, key=key, reason=reason)]
        return [CreateTask(spec=self._spec(anchor, response, touch_point, key),
                           reason=self._task_reason(response, touch_point))]

    def _spec(self, anchor: str, response: NpsResponse, touch_point: str, key: str) -> TaskSpec:
        rules = TASK_RULES[touch_point]
        business_days = getattr(self.policy, rules.due_setting)
        playbook = self.policy.playbook
        day = add_business_days(local_today(self.now, playbook), business_days, playbook)
        deal = self.snapshot.deals.get(anchor)
        contact = next((i.contact for i in self.items if i.response is response and i.contact), None)
        values = self._template_values(deal, response, contact, touch_point, day)
        subject, body = render_task(template_for(self.fieldmap, touch_point), values)
        return TaskSpec(
            key=key, deal_id=anchor, touch_point=parse_key(key).touch_point, subject=subject, body=body,
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
        values = deal_values(deal, company_name=self.account.name)
        respondent = ", ".join(p for p in ((contact.name if contact else None), response.email) if p)
        values.update(
            touch_point_title=TITLES[touch_point], due_date=day.isoformat(), cycle="0",
            nps_score=str(response.score), nps_comment=response.comment,
            respondent=respondent or None, responded_on=response.responded_at.date().isoformat(),
            why=self._task_reason(response, touch_point),
        )
        return values

    def _task_reason(self, response: NpsResponse, touch_point: str) -> str:
        who = response.email or f"account {response.account_id}"
        return (f"{TITLES[touch_point]}: {who} answered {response.score} ({category(response.score)}) on "
                f"{response.responded_at.date()} (response {response.response_id})")



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
    earliest = dt.datetime.min.replace(tzinfo=dt.UTC)
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
        spec = fieldmap.spec(name)
        text = _as_field_text(spec.type, value, zone, write_as=spec.write_as)
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


def _as_field_text(kind: FieldType, value: object, zone: dt.tzinfo, *,
                   write_as: FieldType | None = None) -> FieldValue:
    """The value as text for a field of ``kind``: an instant becomes its day in the playbook's
    zone for a date field (the day the customer answered, where the team works), and UTC for a
    datetime field. A date written to a date-time field (``write_as``, from the schema check) is
    that day's midnight in the playbook's zone (connector/mapping/compat.py)."""
    if value is None:
        return None
    if kind is FieldType.DATE and write_as is FieldType.DATETIME and isinstance(value, dt.date):
        day = value.astimezone(zone).date() if isinstance(value, dt.datetime) else value
        return date_as_datetime(day, zone)
    if isinstance(value, dt.datetime):
        if kind is FieldType.DATETIME:
            return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return value.astimezone(zone).date().isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value != 0 else "0"
    return str(value)


def _differs(fieldmap: FieldMap, name: str, current: FieldValue, wanted: FieldValue) -> bool:
    return differs(fieldmap.spec(name).type, current, wanted)
