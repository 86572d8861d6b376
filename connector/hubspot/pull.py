"""HubSpot deals -> ``DealStamp`` values (the cheap scan) and full ``Deal`` values (enrichment).

One search covers both kinds of deal AfterClose must see (two OR-ed filter groups):
won (``dealstage IN`` the won stages of every pipeline), and handled before but no longer won
(the ``handoff_status`` write-back is set and the stage is not won; such deals carry
``is_won=False`` so their open tasks can be closed). The search returns the deal's own properties,
which is all a stamp needs; enrichment then adds associations, contacts and companies with
batched reads, run in parallel within the rate budget.

AfterClose's own write-backs bump ``hs_lastmodifieddate`` (facts §3) and move the deal to the end
of the stream, so offset paging (``after``) over that stream would skip deals: each page's
write-backs move 200 deals out from under the offset. The walk therefore restarts from the newest
timestamp after every page (keyset paging, see search.py). Telling those write-backs from a user's
change is the deal stream's job (jobs/sync/stream.py), from the stamps this module makes.

Contacts and companies are cached for the adapter's lifetime (one run): deals of one company are
spread over the whole stream, and re-reading them per page cost up to 2.5x the calls the batch
maxima allow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from hubspot.crm.deals import Filter

from connector.errors import FatalCrmError
from connector.hubspot.client import HubSpotClient, sdk_model
from connector.hubspot.related import (
    ASSOCIATION_READ_MAX,
    BATCH_READ_MAX,
    Link,
    chunks,
    read_associations,
    read_objects,
)
from connector.hubspot.search import MODIFIED, PAGE_SIZE, DealSearchWalk, RawDeal, parse_instant
from connector.hubspot.stages import DealStages
from connector.mapping import FieldMap, FieldSpec, FieldType
from connector.model import Company, Contact, Cursor, Deal, DealStamp, FieldValue, Owner, Provider, RecordKind

DEAL_PROPERTIES = ("dealname", "dealstage", "pipeline", "closedate", "amount", "hubspot_owner_id")
CONTACT_PROPERTIES = ("email", "firstname", "lastname")
COMPANY_PROPERTIES = ("name",)
PRIMARY_DEAL_TO_COMPANY = 5
"""HubSpot-defined association type "primary company of a deal" (hubspot.crm.association_type)."""
PRIMARY_LABELS = frozenset({"primary", "primary contact"})
"""Deal-contact association labels that mark the main contact (HubSpot has no built-in one)."""


def search_filter_groups(fieldmap: FieldMap, stages: DealStages) -> list[list[Filter]]:
    won = sorted(stages.won)
    groups: list[list[Filter]] = []
    if won:
        groups.append([sdk_model(Filter, property_name="dealstage", operator="IN", values=won)])
    handoff = fieldmap.fields.get("handoff_status")
    if handoff is not None and handoff.record is RecordKind.DEAL:
        handled = [sdk_model(Filter, property_name=handoff.crm_name, operator="HAS_PROPERTY")]
        if won:
            handled.append(sdk_model(Filter, property_name="dealstage", operator="NOT_IN", values=won))
        groups.append(handled)
    return groups


def deal_properties(fieldmap: FieldMap) -> list[str]:
    mapped = [f.crm_name for f in fieldmap.for_record(RecordKind.DEAL)]
    return list(dict.fromkeys([*DEAL_PROPERTIES, *mapped]))


SEARCH_PAGES_AHEAD = 6
"""Search pages worth reading ahead of the page being enriched and written (a deal page and one
more): searches have their own rate limit, so they overlap the other calls instead of waiting."""


class RunCache:
    """Contacts or companies by id, kept for one run (capped, so memory stays bounded: 200,000
    small tuples are a few tens of MB)."""

    def __init__(self, limit: int = 200_000):
        self._items: dict[str, tuple] = {}
        self._limit = limit

    def missing(self, ids: Sequence[str]) -> list[str]:
        return [i for i in dict.fromkeys(ids) if i not in self._items]

    def add(self, found: dict[str, dict], fields: Sequence[str]) -> None:
        if len(self._items) + len(found) > self._limit:
            self._items.clear()  # start over rather than grow: the ids just read must be kept
        for record_id, properties in found.items():
            self._items[record_id] = tuple(properties.get(f) for f in fields)

    def get(self, record_id: str, fields: Sequence[str]) -> dict | None:
        values = self._items.get(record_id)
        return None if values is None else dict(zip(fields, values, strict=True))


@dataclass(kw_only=True)
class DealReader:
    client: HubSpotClient
    fieldmap: FieldMap
    stages: DealStages
    owners: dict[str, Owner]
    executor: Executor
    page_size: int = PAGE_SIZE
    """Deals per search call (200, the API maximum)."""
    deal_page_size: int = ASSOCIATION_READ_MAX
    """Deals per yielded page: one association read per 1,000 deals uses the API maximum, and the
    sync's write batches fill up better on big pages."""
    result_cap: int | None = None
    contacts_cache: RunCache = field(default_factory=RunCache)
    companies_cache: RunCache = field(default_factory=RunCache)
    _deal_fields: tuple[FieldSpec, ...] = field(init=False)

    def __post_init__(self) -> None:
        self._deal_fields = self.fieldmap.for_record(RecordKind.DEAL)

    def scan(self, since: Cursor | None) -> Iterator[list[DealStamp]]:
        """The changed deals as stamps, each list complete and in (modified, id) order."""
        groups = search_filter_groups(self.fieldmap, self.stages)
        if not groups:
            return
        # Keyset paging: a window of one page, restarted from its newest timestamp (module doc).
        walk = DealSearchWalk(
            self.client, filter_groups=groups, properties=deal_properties(self.fieldmap),
            page_size=self.page_size, result_cap=min(self.result_cap or self.page_size, self.page_size),
        )
        for released in walk.walk(since):
            yield [self._stamp(raw) for raw in released]

    def scan_ids(self, deal_ids: Sequence[str]) -> Iterator[list[DealStamp]]:
        properties = [*deal_properties(self.fieldmap), "hs_lastmodifieddate"]
        # read_objects reads 100 ids per call; enrichment takes a whole deal page at a time.
        for batch in chunks(list(dict.fromkeys(deal_ids)), self.deal_page_size):
            found = read_objects(self.client, "deals", batch, properties)
            yield [self._stamp(_raw_from_properties(i, found[i])) for i in batch if i in found]

    def _stamp(self, raw: RawDeal) -> DealStamp:
        """What the deal stream needs to place the deal and to tell a write-back from an edit:
        mapped fields by canonical name, every other property opaque, the modified date left out."""
        mapped = {spec.crm_name for spec in self._deal_fields}
        other = frozenset((k, str(v)) for k, v in raw.properties.items()
                          if k not in mapped and k != MODIFIED and v not in (None, ""))
        fields = {spec.canonical: _text(raw.properties.get(spec.crm_name)) for spec in self._deal_fields}
        return DealStamp(id=raw.id, modified=raw.modified, fields=fields, other=other, payload=raw)

    # -- enrichment --------------------------------------------------------------------------

    def enrich(self, stamps: Sequence[DealStamp]) -> list[Deal]:
        raws = [stamp.payload for stamp in stamps if isinstance(stamp.payload, RawDeal)]
        if len(raws) != len(stamps):
            raise FatalCrmError("a deal stamp without its HubSpot record reached enrichment", provider="hubspot")
        if not raws:
            return []
        ids = [r.id for r in raws]
        contact_links, company_links = self._parallel([
            lambda: self._associations("contacts", ids), lambda: self._associations("companies", ids),
        ])
        contact_ids = [link.to_id for links in contact_links.values() for link in links]
        company_ids = [c for c in (_primary_company(links) for links in company_links.values()) if c]
        self._fill_caches(contact_ids, company_ids)
        contacts = self._from_cache(self.contacts_cache, contact_ids, CONTACT_PROPERTIES)
        companies = self._from_cache(self.companies_cache, company_ids, COMPANY_PROPERTIES)
        return [
            self._deal(raw, contact_links.get(raw.id, []), _primary_company(company_links.get(raw.id, [])),
                       contacts, companies)
            for raw in raws
        ]

    def _fill_caches(self, contact_ids: list[str], company_ids: list[str]) -> None:
        """Read the contacts and companies this run has not read yet, every batch in parallel."""
        wanted = [(self.contacts_cache, "contacts", CONTACT_PROPERTIES, contact_ids),
                  (self.companies_cache, "companies", COMPANY_PROPERTIES, company_ids)]
        jobs = [
            (lambda t=object_type, b=batch, f=fields: read_objects(self.client, t, b, f), cache, fields)
            for cache, object_type, fields, ids in wanted
            for batch in chunks(cache.missing(ids), BATCH_READ_MAX)
        ]
        for (_, cache, fields), found in zip(jobs, self._parallel([job for job, _, _ in jobs]), strict=True):
            cache.add(found, fields)

    @staticmethod
    def _from_cache(cache: RunCache, ids: list[str], fields: Sequence[str]) -> dict[str, dict]:
        found = {}
        for record_id in ids:
            properties = cache.get(record_id, fields)
            if properties is not None:
                found[record_id] = properties
        return found

    def _associations(self, to_type: str, ids: list[str]) -> dict[str, list[Link]]:
        found: dict[str, list[Link]] = {}
        for batch in chunks(ids, ASSOCIATION_READ_MAX):
            found.update(read_associations(self.client, "deals", to_type, batch))
        return found

    def _parallel(self, jobs: list[Callable[[], object]]) -> list:
        """Run independent reads side by side (the rate budget still paces them)."""
        futures = [self.executor.submit(job) for job in jobs]
        return [future.result() for future in futures]

    def _deal(self, raw: RawDeal, contact_links: list[Link], company_id: str | None,
              contacts: dict[str, dict], companies: dict[str, dict]) -> Deal:
        p = raw.properties
        owner_id = _text(p.get("hubspot_owner_id"))
        return Deal(
            provider=Provider.HUBSPOT,
            id=raw.id,
            name=p.get("dealname") or "",
            stage=p.get("dealstage") or "",
            is_won=self.stages.is_won(p.get("dealstage")),
            close_date=_date(p.get("closedate")),
            last_modified=raw.modified,
            amount=_text(p.get("amount")),
            owner=self._owner(owner_id),
            company=_company(company_id, companies),
            contacts=tuple(_contact(link, contacts[link.to_id]) for link in contact_links if link.to_id in contacts),
            fields={spec.canonical: field_value(spec, p.get(spec.crm_name)) for spec in self._deal_fields},
        )

    def _owner(self, owner_id: str | None) -> Owner | None:
        if owner_id is None:
            return None
        # An id in neither the active nor the archived list belongs to a removed user.
        return self.owners.get(owner_id) or Owner(id=owner_id, active=False)


def field_value(spec: FieldSpec, raw: object) -> FieldValue:
    """A mapped property's value as text; dates as YYYY-MM-DD whatever form HubSpot used."""
    text = _text(raw)
    if text is None or spec.type is not FieldType.DATE:
        return text
    if text.isdigit():  # date properties are midnight-UTC epoch ms in older API versions
        try:
            moment = parse_instant(text)
        except ValueError:
            return text  # out of any calendar: the handoff check reports it as an unreadable date
        return moment.date().isoformat() if moment else text
    if "T" in text:
        try:
            return dt.datetime.fromisoformat(text).date().isoformat()
        except ValueError:
            return text
    return text


def _text(raw: object) -> FieldValue:
    if raw is None:
        return None
    text = str(raw)
    return text if text.strip() else None


def _date(raw: str | None) -> dt.date | None:
    text = _text(raw)
    if text is None:
        return None
    try:
        moment = parse_instant(text)
    except ValueError:
        return None
    return moment.date() if moment else None


def _primary_company(links: list[Link]) -> str | None:
    for link in links:
        if PRIMARY_DEAL_TO_COMPANY in link.type_ids:
            return link.to_id
    return links[0].to_id if links else None


def _company(company_id: str | None, companies: dict[str, dict]) -> Company | None:
    if company_id is None:
        return None
    return Company(id=company_id, name=_text((companies.get(company_id) or {}).get("name")))


def _contact(link: Link, properties: dict) -> Contact:
    """A deal's contact; its association label is its role, a "Primary" label marks the main one."""
    roles = [label for label in link.labels if label.lower() not in PRIMARY_LABELS]
    name = " ".join(p for p in (properties.get("firstname"), properties.get("lastname")) if p) or None
    return Contact(
        id=link.to_id, email=_text(properties.get("email")), name=name,
        role=roles[0] if roles else None,
        is_primary=any(label.lower() in PRIMARY_LABELS for label in link.labels),
    )


def _raw_from_properties(deal_id: str, properties: dict) -> RawDeal:
    modified = parse_instant(properties.get("hs_lastmodifieddate"))
    if modified is None:
        raise FatalCrmError(f"deal {deal_id} came back without hs_lastmodifieddate", provider="hubspot")
    return RawDeal(id=deal_id, modified=modified, properties=properties)
