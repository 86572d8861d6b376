"""What the NPS job reads from the CRM before it decides (jobs/nps.py): the contacts behind the
survey's emails, their accounts and won deals, the won deals naming a referrer, and the referral
asks a rep has completed since. Batched at the API's maxima (connector/port.py ``SupportsNps``);
no search where the CRM reads tasks on their deals (its lag would hide a ticked-off ask).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from connector.mapping import FieldMap
from connector.model import Deal, NpsResponse, RecordKind, TaskRef, TaskStatus
from connector.port import CrmAdapter, NpsAccount, NpsContact, SupportsNps, SupportsTasksOnDeals
from jobs.core.keys import parse_key
from jobs.core.ledger_view import EntryStatus, LedgerEntry
from jobs.core.nps import (
    ACCOUNT_REF_PREFIX,
    DETRACTOR_TOUCH_POINT,
    REFERRAL_ASK_TOUCH_POINT,
    KnownAccount,
    NpsSnapshot,
    normalise_email,
)
from jobs.core.values import clean_text
from jobs.state import StateStore

TASK_PREFIXES = (f"{DETRACTOR_TOUCH_POINT}_", f"{REFERRAL_ASK_TOUCH_POINT}_")
"""The touch points of the NPS job's tasks, as their ledger entries begin."""
ASK_PREFIX = f"{REFERRAL_ASK_TOUCH_POINT}_"


@dataclass(frozen=True, slots=True)
class NpsReads:
    """Where the NPS job reads: the CRM (with the NPS reads), the state store, the scope."""

    adapter: CrmAdapter
    """Also ``SupportsNps`` (NpsJob checks that)."""
    store: StateStore
    scope: str
    fieldmap: FieldMap
    referrer_field: str


@dataclass(kw_only=True)
class CrmView:
    """What the NPS job read from the CRM before deciding: the accounts, contacts and won deals
    behind this run's responses, and the referral asks reps have completed."""

    snapshot: NpsSnapshot
    contacts: list[NpsContact]
    accounts_with_won_deals: dict[str, KnownAccount]
    completed_asks: list[TaskRef]
    deal_account: dict[str, str]


def read_crm(reads: NpsReads, responses: Sequence[NpsResponse]) -> CrmView:
    adapter: SupportsNps = reads.adapter  # type: ignore[assignment]  # checked in NpsJob
    emails = {e for r in responses if (e := normalise_email(r.email))}
    contacts = adapter.nps_contacts_by_email(sorted(emails)) if emails else []
    account_ids = {c.company_id for c in contacts if c.company_id}
    account_ids |= {r.account_id.strip() for r in responses if r.account_id and r.account_id.strip()}
    ledger, completed = _ledger_with_ask_status(reads)
    account_ids |= {a for ref in completed if (a := account_of_key(ref.key))}
    referred, named_contacts, named_accounts = _referral_evidence(reads, adapter)
    contacts += named_contacts
    accounts = adapter.nps_accounts(sorted(account_ids | named_accounts)) if account_ids | named_accounts else {}
    known = {a.id: _known_account(a) for a in accounts.values()}
    deals = {d.id: d for a in accounts.values() for d in a.won_deals}
    deals.update({d.id: d for d in referred if d.id not in deals})
    with_won = {k: a for k, a in known.items() if a.won_deal_ids}
    snapshot = NpsSnapshot(accounts=with_won, contacts=tuple(_unique(contacts)),
                           deals=deals, ledger=ledger)
    deal_account = {d: a.id for a in with_won.values() for d in a.won_deal_ids}
    return CrmView(snapshot=snapshot, contacts=_unique(contacts),
                    accounts_with_won_deals=with_won, completed_asks=completed, deal_account=deal_account)


def _ledger_with_ask_status(reads: NpsReads) -> tuple[dict[str, LedgerEntry], list[TaskRef]]:
    """The NPS task ledger, with open referral asks the CRM reports completed marked so (a rep
    ticked the task off: the account moves to ``asked``). Returns the ledger and those tasks."""
    ledger = reads.store.ledger_for_touch_points(reads.scope, TASK_PREFIXES)
    open_asks = {k: e for k, e in ledger.items()
                 if e.touch_point.startswith(ASK_PREFIX) and e.status is EntryStatus.OPEN}
    if not open_asks:
        return ledger, []
    if isinstance(reads.adapter, SupportsTasksOnDeals):  # no search: its lag would hide a ticked-off ask
        found = reads.adapter.find_tasks_on_deals({k: e.deal_id for k, e in sorted(open_asks.items())},
                                                quiet_seconds=float("inf"))
    else:
        found = reads.adapter.find_tasks(sorted(open_asks))
    completed = [replace(ref, deal_id=ref.deal_id or open_asks[key].deal_id)
                 for key, ref in found.items() if key in open_asks and ref.status is TaskStatus.COMPLETED]
    for ref in completed:
        ledger[ref.key] = replace(ledger[ref.key], status=EntryStatus.COMPLETED, crm_id=ref.crm_id)
    return ledger, completed


def _referral_evidence(reads: NpsReads, adapter: SupportsNps) -> tuple[list[Deal], list[NpsContact], set[str]]:
    """Won deals naming a referrer, and the contacts and accounts they name (an account id, a
    contact id or a contact email: docs/nps.md §4)."""
    referrer = reads.referrer_field
    spec = reads.fieldmap.fields.get(referrer)
    if spec is None or spec.record is not RecordKind.DEAL:
        return [], [], set()
    deals = adapter.nps_referred_deals(referrer)
    named = {text for d in deals if (text := clean_text(d.value(referrer)))}
    emails = sorted({n.lower() for n in named if "@" in n})
    ids = sorted(n for n in named if "@" not in n)
    contacts = (adapter.nps_contacts_by_email(emails) if emails else []) + \
               (adapter.nps_contacts_by_id(ids) if ids else [])
    return deals, contacts, set(ids) | {c.company_id for c in contacts if c.company_id}


def _known_account(account: NpsAccount) -> KnownAccount:
    return KnownAccount(id=account.id, won_deal_ids=tuple(d.id for d in account.won_deals), name=account.name,
                        owner_id=account.owner_id, fields=account.fields)


def _unique(contacts: Iterable[NpsContact]) -> list[NpsContact]:
    return list({c.id: c for c in contacts}.values())


def account_of_key(key: str) -> str | None:
    """The account id in an NPS task key (``ac1:<crm>:account.<id>:...``), when it is in clear."""
    try:
        ref = parse_key(key).deal_ref
    except ValueError:
        return None
    return ref.removeprefix(ACCOUNT_REF_PREFIX) if ref.startswith(ACCOUNT_REF_PREFIX) else None
