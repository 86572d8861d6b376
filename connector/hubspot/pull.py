"""HubSpot deals -> neutral ``DealPage`` values, streamed page by page.

One search covers both kinds of deal AfterClose must see (two OR-ed filter groups):
won (``dealstage IN`` the won stages of every pipeline), and handled before but no longer won
(the ``handoff_status`` write-back is set and the stage is not won; such deals carry
``is_won=False`` so their open tasks can be closed). Each page is then enriched with batched reads
of associations, contacts and companies, run in parallel within the rate budget.

AfterClose's own write-backs bump ``hs_lastmodifieddate`` (facts §3) and move the deal to the end
of the stream. Two consequences, both measured by the benchmark (docs/benchmarks.md):

- offset paging (``after``) over that stream would skip deals: each page's write-backs move 200
  deals out from under the offset. The walk therefore restarts from the newest timestamp after
  every page (keyset paging, see search.py);
- those deals come back later in the same walk. ``OwnWrites`` recognises a deal whose properties
  are exactly what AfterClose read plus what it wrote, and drops it before enrichment; the walk
  goes on past it, so the cursor ends after AfterClose's own writes and the next run starts with
  nothing to re-read. A deal a user changed meanwhile differs and is read as usual.

Contacts and companies are cached for the adapter's lifetime (one run): deals of one company are
spread over the whole stream, and re-reading them per page cost up to 2.5x the calls the batch
maxima allow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from hubspot.crm.deals import Filter

from connector.errors import FatalCrmError
from connector.hubspot.client import HubSpotClient, sdk_model
from connector.hubspot.related import (ASSOCIATION_READ_MAX, BATCH_READ_MAX, Link, chunks, read_associations,
                                       read_objects)
from connector.hubspot.search import MODIFIED, PAGE_SIZE, DealSearchWalk, RawDeal, parse_instant
from connector.hubspot.stages import DealStages
from connector.mapping import FieldMap, FieldSpec, FieldType
from connector.model import Company, Contact, Cursor, Deal, DealPage, FieldValue, Owner, Provider, RecordKind
from connector.pipeline import BackgroundWrites, OwnWrites, read_ahead

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
"""Search pages fetched ahead of the page being enriched and written (a deal page and one more):
searches have their own rate limit, so they overlap the other calls instead of waiting for them."""


DEAL_PAGES_AHEAD = 1
"""Deal pages read and enriched ahead of the one being written: the reads share the rate budget
with the writes instead of waiting for them."""


def new_own_writes() -> OwnWrites[Mapping[str, object]]:
    """``OwnWrites`` over a deal's search properties (this module's doc says why)."""
    return OwnWrites(_state, recent_reads=5_000)


def _state(properties: Mapping[str, object], written: Mapping[str, str]) -> int:
    """A digest of a deal's properties, the modified date left out; empty and missing are one."""
    merged = {**properties, **written}
    return hash(frozenset((k, str(v)) for k, v in merged.items() if k != MODIFIED and v not in (None, "")))


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
        return None if values is None else dict(zip(fields, values))


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
    own_writes: OwnWrites = field(default_factory=new_own_writes)
    background_writes: BackgroundWrites | None = None
    """The adapter's writes under way (the sync's); a pass waits for them before it ends."""
    contacts_cache: RunCache = field(default_factory=RunCache)
    companies_cache: RunCache = field(default_factory=RunCache)
    _deal_fields: tuple[FieldSpec, ...] = field(init=False)

    def __post_init__(self) -> None:
        self._deal_fields = self.fieldmap.for_record(RecordKind.DEAL)

    def changed_since(self, since: Cursor | None) -> Iterator[DealPage]:
        """Passes over the stream until one makes no write-back: the last page's write-backs land
        after the pass that read it ended, and the cursor must end past them."""
        groups = search_filter_groups(self.fieldmap, self.stages)
        if not groups:
            return
        # Keyset paging: a window of one page, restarted from its newest timestamp (module doc).
        walk = DealSearchWalk(
            self.client, filter_groups=groups, properties=deal_properties(self.fieldmap),
            page_size=self.page_size, result_cap=min(self.result_cap or self.page_size, self.page_size),
        )
        try:
            cursor, wrote = since, True
            while wrote:
                written_before = self.own_writes.written
                # The next page is searched and enriched while the sync writes this one; whether
                # another pass is needed is decided here, after the last page's writes.
                for page in read_ahead(self._one_pass(walk, cursor), DEAL_PAGES_AHEAD, name="hubspot-deals-ahead"):
                    cursor = page.cursor
                    yield page
                if self.background_writes is not None:
                    self.background_writes.wait_idle()  # the sync may still be writing the last page
                wrote = self.own_writes.written > written_before
        finally:
            self.own_writes.clear()

    def _one_pass(self, walk: DealSearchWalk, since: Cursor | None) -> Iterator[DealPage]:
        buffer: list[RawDeal] = []
        last: RawDeal | None = None
        # Reading ahead is safe for ``OwnWrites``: AfterClose's write-backs move a deal behind
        # every deal not read yet, so the walk meets them only near its end, and a deal whose
        # write-back has not been recorded yet when met is merely read and decided again.
        for released in read_ahead(walk.walk(since), SEARCH_PAGES_AHEAD, name="hubspot-search-ahead"):
            for raw in released:
                last = raw
                if not self.own_writes.is_own(raw.id, raw.properties):
                    buffer.append(raw)
            while len(buffer) >= self.deal_page_size:
                page, buffer = buffer[:self.deal_page_size], buffer[self.deal_page_size:]
                yield self._page(page, cursor=page[-1].cursor())
        if last is not None:
            # Also when every deal left was our own (an empty page): the cursor moves past them.
            yield self._page(buffer, cursor=last.cursor())

    def by_id(self, deal_ids: Sequence[str]) -> Iterator[DealPage]:
        properties = [*deal_properties(self.fieldmap), "hs_lastmodifieddate"]
        # read_objects reads 100 ids per call; enrichment takes a whole deal page at a time.
        for batch in chunks(list(dict.fromkeys(deal_ids)), self.deal_page_size):
            found = read_objects(self.client, "deals", batch, properties)
            raws = [_raw_from_properties(i, found[i]) for i in batch if i in found]
            yield self._page(raws, cursor=None)

    # -- enrichment --------------------------------------------------------------------------

    def _page(self, raws: list[RawDeal], *, cursor: Cursor | None) -> DealPage:
        if not raws:
            return DealPage(deals=(), cursor=cursor)
        for raw in raws:
            self.own_writes.read(raw.id, raw.properties)
        ids = [r.id for r in raws]
        contact_links, company_links = self._parallel([
            lambda: self._associations("contacts", ids), lambda: self._associations("companies", ids),
        ])
        contact_ids = [link.to_id for links in contact_links.values() for link in links]
        company_ids = [c for c in (_primary_company(links) for links in company_links.values()) if c]
        self._fill_caches(contact_ids, company_ids)
        contacts = self._from_cache(self.contacts_cache, contact_ids, CONTACT_PROPERTIES)
        companies = self._from_cache(self.companies_cache, company_ids, COMPANY_PROPERTIES)
        deals = tuple(
            self._deal(raw, contact_links.get(raw.id, []), _primary_company(company_links.get(raw.id, [])),
                       contacts, companies)
            for raw in raws
        )
        return DealPage(deals=deals, cursor=cursor)

    def _fill_caches(self, contact_ids: list[str], company_ids: list[str]) -> None:
        """Read the contacts and companies this run has not read yet, every batch in parallel."""
        wanted = [(self.contacts_cache, "contacts", CONTACT_PROPERTIES, contact_ids),
                  (self.companies_cache, "companies", COMPANY_PROPERTIES, company_ids)]
        jobs = [
            (lambda t=object_type, b=batch, f=fields: read_objects(self.client, t, b, f), cache, fields)
            for cache, object_type, fields, ids in wanted
            for batch in chunks(cache.missing(ids), BATCH_READ_MAX)
        ]
        for (_, cache, fields), found in zip(jobs, self._parallel([job for job, _, _ in jobs])):
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
        moment = parse_instant(text)
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
