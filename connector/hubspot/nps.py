"""The HubSpot reads the NPS job needs (``connector.port.SupportsNps``) and HubSpot's own NPS data.

- **Contacts by email**: ``POST /crm/v3/objects/contacts/batch/read`` with ``idProperty: "email"``
  (<= 100 emails a call; hubspot-api-python#50 shows HubSpot reads contacts by email this way, and
  ``email`` is the contact's unique identifier). It reads the record store, not the search index:
  a contact created seconds before the run is matched in that run, and the calls count against the
  ten-second budget, not the search API's few per second (docs/nps.md, "Matching cost").
  Emails are sent lower-cased; HubSpot matches them without regard to case.
- **Contacts by id**: batch read (<= 100 ids). Each contact's company is its primary company
  association (HubSpot-defined type 1 "Primary", hubspot.crm.association_type), else the first.
- **Accounts**: companies by batch read (name, owner, the mapped ``company`` fields), their deals by
  the v4 association batch read (<= 1,000 ids), the deals themselves by the adapter's
  ``deals_by_id`` (same enrichment as the sync job's deals); only won deals are kept.
- **Referred deals**: the deal search walk (past the 10,000 cap) over ``dealstage IN won AND
  <referrer property> HAS_PROPERTY``.
- **Native NPS** (the ``hubspot-native`` source): contacts with HubSpot's NPS contact properties
  (docs/nps.md §5), searched by ``hs_feedback_last_survey_date`` ascending. The properties are
  confirmed against the portal's definitions first, because our table of them is second-hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from hubspot.crm.contacts import Filter as ContactFilter
from hubspot.crm.contacts import FilterGroup as ContactFilterGroup
from hubspot.crm.contacts import PublicObjectSearchRequest as ContactSearchRequest
from hubspot.crm.deals import Filter as DealFilter

from connector.errors import PagingError
from connector.hubspot.client import HubSpotClient
from connector.hubspot.paging import next_offset
from connector.hubspot.pull import field_value
from connector.hubspot.related import (
    ASSOCIATION_READ_MAX,
    Link,
    chunks,
    read_associations,
    read_objects,
)
from connector.hubspot.schema import PortalSchema
from connector.hubspot.search import (
    PAGE_SIZE,
    RESULT_CAP,
    DealSearchWalk,
    parse_instant,
    to_epoch_ms,
)
from connector.hubspot.stages import DealStages
from connector.mapping import FieldMap
from connector.model import Deal, Owner, RecordKind
from connector.nps import SourceError
from connector.port import NpsAccount, NpsContact

CONTACT_SEARCH_LABEL = "POST /crm/v3/objects/contacts/search"
CONTACT_PROPERTIES = ("email", "firstname", "lastname")
COMPANY_PROPERTIES = ("name", "hubspot_owner_id")
CONTACT_TO_COMPANY_PRIMARY = 1
"""HubSpot-defined association type "primary company of a contact" (hubspot.crm.association_type)."""

# HubSpot's own NPS contact properties (docs/nps.md §5 gives the sources and how sure we are).
NPS_SCORE = "hs_feedback_last_nps_rating_number"
NPS_SCORE_DEPRECATED = "hs_feedback_last_nps_rating"
NPS_DATE = "hs_feedback_last_survey_date"
NPS_COMMENT = "hs_feedback_last_nps_follow_up"
NATIVE_PROPERTIES = ("email", NPS_SCORE, NPS_SCORE_DEPRECATED, NPS_DATE, NPS_COMMENT)

DealsById = Callable[[Sequence[str]], Iterator[list[Deal]]]


# -- contacts --------------------------------------------------------------------------------


def contacts_by_email(client: HubSpotClient, emails: Iterable[str]) -> list[NpsContact]:
    wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
    return _with_companies(client, read_objects(client, "contacts", wanted, CONTACT_PROPERTIES, id_property="email"))


def contacts_by_id(client: HubSpotClient, contact_ids: Sequence[str]) -> list[NpsContact]:
    ids = [i for i in contact_ids if is_record_id(i)]
    return _with_companies(client, read_objects(client, "contacts", ids, CONTACT_PROPERTIES)) if ids else []


def is_record_id(value: str) -> bool:
    """HubSpot record ids are whole numbers; anything else (an email, a Salesforce id) names no
    record, and sending it would fail the whole batch."""
    return value.isascii() and value.isdigit()


def _with_companies(client: HubSpotClient, contacts: dict[str, dict[str, Any]]) -> list[NpsContact]:
    links: dict[str, list[Link]] = {}
    for batch in chunks(list(contacts), ASSOCIATION_READ_MAX):
        links.update(read_associations(client, "contacts", "companies", batch))
    return [
        NpsContact(id=contact_id, email=_text(p.get("email")), company_id=_primary(links.get(contact_id, [])),
                   name=" ".join(x for x in (p.get("firstname"), p.get("lastname")) if x) or None)
        for contact_id, p in sorted(contacts.items())
    ]


def _primary(links: list[Link]) -> str | None:
    for link in links:
        if CONTACT_TO_COMPANY_PRIMARY in link.type_ids:
            return link.to_id
    return links[0].to_id if links else None


def _search_contacts(client: HubSpotClient, groups: list[list[ContactFilter]], properties: Sequence[str], *,
                     sort: str | None) -> Iterator[Any]:
    """Every result of one contact search, page by page; refuses an ``after`` that does not advance."""
    after = 0
    while True:
        request = ContactSearchRequest(
            filter_groups=[ContactFilterGroup(filters=g) for g in groups], properties=list(properties),
            limit=PAGE_SIZE, after=str(after),
            # The SDK types ``sorts`` as list[str] but sends dicts as they are (facts §2).
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}] if sort else None,
        )
        reply = client.call(CONTACT_SEARCH_LABEL, "crm.contacts.search_api", "do_search", search=True,
                            public_object_search_request=request)
        yield from reply.results or []
        following = next_offset(reply, after, what="contact search", endpoint=CONTACT_SEARCH_LABEL)
        if following is None:
            return
        if following >= RESULT_CAP:
            raise _CapReached(after=following)
        after = following


class _CapReached(PagingError):
    """The next page would pass the search's 10,000-result cap (a 400): restart from a new bound."""

    def __init__(self, *, after: int):
        super().__init__(f"contact search reached the {RESULT_CAP}-result cap (after={after})",
                         provider="hubspot", endpoint=CONTACT_SEARCH_LABEL)


# -- accounts and deals ----------------------------------------------------------------------


def accounts(client: HubSpotClient, fieldmap: FieldMap, account_ids: Sequence[str], deals_by_id: DealsById,
             owners: dict[str, Owner]) -> dict[str, NpsAccount]:
    specs = fieldmap.for_record(RecordKind.COMPANY)
    properties = list(dict.fromkeys([*COMPANY_PROPERTIES, *(s.crm_name for s in specs)]))
    companies = read_objects(client, "companies", [i for i in account_ids if is_record_id(i)], properties)
    deal_links: dict[str, list[Link]] = {}
    for batch in chunks(list(companies), ASSOCIATION_READ_MAX):
        deal_links.update(read_associations(client, "companies", "deals", batch))
    wanted = list(dict.fromkeys(link.to_id for links in deal_links.values() for link in links))
    won = {deal.id: deal for deals in deals_by_id(wanted) for deal in deals if deal.is_won} if wanted else {}
    out: dict[str, NpsAccount] = {}
    for company_id, p in companies.items():
        owner = owners.get(_text(p.get("hubspot_owner_id")) or "")
        out[company_id] = NpsAccount(
            id=company_id, name=_text(p.get("name")), owner_id=owner.id if owner and owner.active else None,
            fields={s.canonical: field_value(s, p.get(s.crm_name)) for s in specs},
            won_deals=tuple(won[link.to_id] for link in deal_links.get(company_id, []) if link.to_id in won),
        )
    return out


def referred_deals(client: HubSpotClient, fieldmap: FieldMap, stages: DealStages, referrer_field: str,
                   deals_by_id: DealsById) -> list[Deal]:
    spec = fieldmap.fields.get(referrer_field)
    if spec is None or spec.record is not RecordKind.DEAL or not stages.won:
        return []
    group = [DealFilter(property_name="dealstage", operator="IN", values=sorted(stages.won)),
             DealFilter(property_name=spec.crm_name, operator="HAS_PROPERTY")]
    walk = DealSearchWalk(client, filter_groups=[group], properties=["dealstage", spec.crm_name])
    ids = list(dict.fromkeys(raw.id for released in walk.walk(None) for raw in released))
    return [deal for deals in deals_by_id(ids) for deal in deals if deal.is_won] if ids else []


# -- HubSpot's own NPS survey data -----------------------------------------------------------


def check_native_properties(schema: PortalSchema) -> None:
    live = schema.properties("contacts")
    missing = [name for name in (NPS_DATE,) if name not in live]
    if NPS_SCORE not in live and NPS_SCORE_DEPRECATED not in live:
        missing.append(NPS_SCORE)
    if missing:
        raise SourceError(
            f"the portal has no contact propert{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}: HubSpot "
            "creates them when a Service Hub NPS survey is used (docs/nps.md §5)", source="hubspot-native")


def native_nps_contacts(client: HubSpotClient, schema: PortalSchema,
                        since: dt.datetime | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(contact id, properties)`` of contacts whose latest NPS answer is at or after ``since``,
    oldest answer first. Past the 10,000-result cap the search restarts at the last survey date
    seen (inclusive; repeats dropped by id)."""
    check_native_properties(schema)
    live = schema.properties("contacts")
    scores = [name for name in (NPS_SCORE, NPS_SCORE_DEPRECATED) if name in live]
    properties = [name for name in NATIVE_PROPERTIES if name in live]
    seen: set[str] = set()
    lower = since
    while True:
        date_filter = [ContactFilter(property_name=NPS_DATE, operator="GTE", value=str(to_epoch_ms(lower)))] \
            if lower else [ContactFilter(property_name=NPS_DATE, operator="HAS_PROPERTY")]
        groups = [[ContactFilter(property_name=score, operator="HAS_PROPERTY"), *date_filter] for score in scores]
        newest = lower
        try:
            for result in _search_contacts(client, groups, properties, sort=NPS_DATE):
                contact_id = str(result.id)
                props = dict(result.properties or {})
                newest = _later(newest, props.get(NPS_DATE))
                if contact_id not in seen:
                    seen.add(contact_id)
                    yield contact_id, props
            return
        except _CapReached:
            if newest == lower:
                raise PagingError(f"more than {RESULT_CAP} contacts share one NPS survey date; cannot page past it",
                                  provider="hubspot", endpoint=CONTACT_SEARCH_LABEL) from None
            lower = newest


def _later(current: dt.datetime | None, raw: object) -> dt.datetime | None:
    try:
        moment = parse_instant(_text(raw))
    except ValueError:
        return current
    if moment is None:
        return current
    return moment if current is None or moment > current else current


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None
