"""Opportunity records -> neutral ``Deal`` values, streamed page by page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from connector.errors import FatalCrmError
from connector.mapping import FieldMap
from connector.model import Company, Contact, Cursor, Deal, DealStamp, FieldValue, Owner, Provider, RecordKind
from connector.salesforce.client import SalesforceClient
from connector.salesforce.errors import PROVIDER
from connector.salesforce.paging import QueryPaginator
from connector.salesforce.soql import parse_datetime


def stream_deals(client: SalesforceClient, soql: str, fieldmap: FieldMap, *,
                 after: Cursor | None = None) -> Iterator[list[Deal]]:
    """The deals of one query, a Salesforce batch at a time, in query order; deals at or before
    ``after`` are dropped (the query re-reads the cursor's second, see soql.won_deals_since)."""
    paginator = QueryPaginator("deal query")
    page = client.query(soql)
    carried: list[Deal] = []
    while True:
        batch = [to_deal(client, record, fieldmap) for record in paginator.records(page)]
        deals = carried + ([d for d in batch if after.is_before(d.last_modified, d.id)] if after else batch)
        next_url = paginator.next_url(page)
        if next_url is not None and len(deals) < len(batch) // 2:
            # The cursor's second is read again (SOQL compares whole seconds) and can fill most of
            # a batch with deals already handled: the few left go with the next batch, so the
            # sync's write collections stay full (measured: one more call per run otherwise).
            carried = deals
        elif deals:
            carried = []
            yield deals
        if next_url is None:
            return
        page = client.query_more(next_url)


def to_deal(client: SalesforceClient, record: dict, fieldmap: FieldMap) -> Deal:
    try:
        return Deal(
            provider=Provider.SALESFORCE,
            id=record["Id"],
            name=record.get("Name") or "",
            stage=record.get("StageName") or "",
            is_won=bool(record.get("IsWon")),
            close_date=dt.date.fromisoformat(record["CloseDate"]) if record.get("CloseDate") else None,
            last_modified=parse_datetime(record["SystemModstamp"]),
            amount=as_text(record.get("Amount")),
            owner=_owner(record),
            company=_company(record),
            contacts=tuple(_contacts(client, record.get("OpportunityContactRoles"))),
            fields={spec.canonical: as_text(_path(record, spec.crm_name))
                    for spec in fieldmap.for_record(RecordKind.DEAL)},
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # A record (or its Owner/Account) that is not an object, or a missing timestamp: a reply
        # we cannot understand stops the run with the record named, the cursor kept.
        deal_id = record.get("Id") if isinstance(record, dict) else None
        raise FatalCrmError(f"Opportunity {deal_id!r} cannot be read: {exc!r}",
                            provider=PROVIDER, endpoint="query") from exc


def as_text(value: Any) -> FieldValue:
    """A field value as text: numbers without float noise, booleans as true/false, '' -> None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        number = Decimal(repr(value))
        return str(number.quantize(Decimal(1))) if number == number.to_integral_value() else str(number)
    return str(value)


def _path(record: dict, dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _owner(record: dict) -> Owner | None:
    if not record.get("OwnerId"):
        return None
    user = record.get("Owner") or {}
    return Owner(id=record["OwnerId"], email=user.get("Email"), name=user.get("Name"),
                 active=user.get("IsActive") is not False)


def _company(record: dict) -> Company | None:
    if not record.get("AccountId"):
        return None
    return Company(id=record["AccountId"], name=(record.get("Account") or {}).get("Name"))


def _contacts(client: SalesforceClient, roles: dict | None) -> Iterator[Contact]:
    """Contact roles from the child subquery, following its own nextRecordsUrl when a deal has
    more roles than fit in the parent's batch (child results page like any query result)."""
    if not roles:
        return
    paginator = QueryPaginator("contact role subquery")
    while True:
        for role in paginator.records(roles):
            contact = role.get("Contact") or {}
            yield Contact(id=role["ContactId"], email=contact.get("Email"), name=contact.get("Name"),
                          role=role.get("Role"), is_primary=bool(role.get("IsPrimary")))
        next_url = paginator.next_url(roles)
        if next_url is None:
            return
        roles = client.query_more(next_url)


def stamp_of(deal: Deal) -> DealStamp:
    """The stamp of a deal the query read whole: it carries the deal, so enrichment is free."""
    other = (deal.name, deal.stage, deal.is_won, deal.close_date, deal.amount, deal.owner, deal.company, deal.contacts)
    return DealStamp(id=deal.id, modified=deal.last_modified, fields=deal.fields, other=other, payload=deal)
