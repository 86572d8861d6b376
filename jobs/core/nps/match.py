"""Tying survey responses to customers: categories, emails, and the match. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from connector.model import (
    Deal,
    FieldValue,
    NpsContact,
    NpsResponse,
)
from jobs.core.ledger_view import LedgerEntry

Category = Literal["promoter", "passive", "detractor"]
PROMOTER: Category = "promoter"
PASSIVE: Category = "passive"
DETRACTOR: Category = "detractor"

DETRACTOR_TOUCH_POINT = "nps_detractor_followup"
REFERRAL_ASK_TOUCH_POINT = "nps_referral_ask"
DIGEST_CHARS = 16
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
