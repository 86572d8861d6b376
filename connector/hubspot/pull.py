"""HubSpot deals -> neutral ``DealPage`` values, streamed page by page.

One search covers both kinds of deal AfterClose must see (two OR-ed filter groups):
won (``dealstage IN`` the won stages of every pipeline), and handled before but no longer won
(the ``handoff_status`` write-back is set and the stage is not won; such deals carry
``is_won=False`` so their open tasks can be closed). Each page is then enriched with batched reads
of associations, contacts and companies, run in parallel within the rate budget.

AfterClose's own write-backs bump ``hs_lastmodifieddate`` (facts §3), so the next run re-reads
the deals it just wrote; the planner then finds nothing to do for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from hubspot.crm.deals import Filter

from connector.errors import FatalCrmError
from connector.hubspot.client import HubSpotClient
from connector.hubspot.related import ASSOCIATION_READ_MAX, Link, chunks, read_associations, read_objects
from connector.hubspot.search import PAGE_SIZE, DealSearchWalk, RawDeal, parse_instant
from connector.hubspot.stages import DealStages
from connector.mapping import FieldMap, FieldSpec, FieldType
from connector.model import Company, Contact, Cursor, Deal, DealPage, FieldValue, Owner, Provider, RecordKind

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
        groups.append([Filter(property_name="dealstage", operator="IN", values=won)])
    handoff = fieldmap.fields.get("handoff_status")
    if handoff is not None and handoff.record is RecordKind.DEAL:
        handled = [Filter(property_name=handoff.crm_name, operator="HAS_PROPERTY")]
        if won:
            handled.append(Filter(property_name="dealstage", operator="NOT_IN", values=won))
        groups.append(handled)
    return groups


def deal_properties(fieldmap: FieldMap) -> list[str]:
    mapped = [f.crm_name for f in fieldmap.for_record(RecordKind.DEAL)]
    return list(dict.fromkeys([*DEAL_PROPERTIES, *mapped]))


@dataclass(kw_only=True)
class DealReader:
    client: HubSpotClient
    fieldmap: FieldMap
    stages: DealStages
    owners: dict[str, Owner]
    executor: Executor
    page_size: int = PAGE_SIZE
    result_cap: int | None = None
    _deal_fields: tuple[FieldSpec, ...] = field(init=False)

    def __post_init__(self) -> None:
        self._deal_fields = self.fieldmap.for_record(RecordKind.DEAL)

    def changed_since(self, since: Cursor | None) -> Iterator[DealPage]:
        groups = search_filter_groups(self.fieldmap, self.stages)
        if not groups:
            return
        walk = DealSearchWalk(
            self.client, filter_groups=groups, properties=deal_properties(self.fieldmap),
            page_size=self.page_size, **({"result_cap": self.result_cap} if self.result_cap else {}),
        )
        buffer: list[RawDeal] = []
        for released in walk.walk(since):
            buffer.extend(released)
            while len(buffer) >= self.page_size:
                page, buffer = buffer[:self.page_size], buffer[self.page_size:]
                yield self._page(page, cursor=page[-1].cursor())
        if buffer:
            yield self._page(buffer, cursor=buffer[-1].cursor())

    def by_id(self, deal_ids: Sequence[str]) -> Iterator[DealPage]:
        properties = [*deal_properties(self.fieldmap), "hs_lastmodifieddate"]
        for batch in chunks(list(dict.fromkeys(deal_ids)), self.page_size):
            found = read_objects(self.client, "deals", batch, properties)
            raws = [_raw_from_properties(i, found[i]) for i in batch if i in found]
            yield self._page(raws, cursor=None)

    # -- enrichment --------------------------------------------------------------------------

    def _page(self, raws: list[RawDeal], *, cursor: Cursor | None) -> DealPage:
        ids = [r.id for r in raws]
        contact_links, company_links = self._both(
            lambda: self._associations("contacts", ids), lambda: self._associations("companies", ids),
        )
        contact_ids = [link.to_id for links in contact_links.values() for link in links]
        company_ids = [_primary_company(links) for links in company_links.values()]
        contacts, companies = self._both(
            lambda: read_objects(self.client, "contacts", contact_ids, CONTACT_PROPERTIES),
            lambda: read_objects(self.client, "companies", [c for c in company_ids if c], COMPANY_PROPERTIES),
        )
        deals = tuple(
            self._deal(raw, contact_links.get(raw.id, []), _primary_company(company_links.get(raw.id, [])),
                       contacts, companies)
            for raw in raws
        )
        return DealPage(deals=deals, cursor=cursor)

    def _associations(self, to_type: str, ids: list[str]) -> dict[str, list[Link]]:
        found: dict[str, list[Link]] = {}
        for batch in chunks(ids, ASSOCIATION_READ_MAX):
            found.update(read_associations(self.client, "deals", to_type, batch))
        return found

    def _both(self, first, second):
        """Run two independent reads side by side (the budget still paces them)."""
        later = self.executor.submit(second)
        return first(), later.result()

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
