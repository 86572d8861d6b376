"""The Salesforce reads the NPS job needs (``connector.port.SupportsNps``), all SOQL.

- **Contacts by email**: ``SELECT Id, Email, Name, AccountId FROM Contact WHERE Email IN (...)``.
  SOQL compares text without regard to case [DOC: https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_comparisonoperators.htm],
  so lower-cased survey emails find mixed-case CRM ones. IN lists are chunked by count and URL
  length (``soql.in_list_chunks``: a query is a GET).
- **Accounts**: ``Account`` by Id with the mapped ``company`` fields and the owner's ``IsActive``,
  then their won Opportunities (``IsWon = true AND AccountId IN (...)``) with the same columns and
  contact-role subquery as the sync job's deals, so the NPS job sees the same ``Deal`` values.
- **Referred deals**: ``IsWon = true AND <referrer field> != null``.
Every query pages through ``nextRecordsUrl`` with the project's refusing paginator.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from simple_salesforce import format_soql

from connector.mapping import FieldMap
from connector.model import Deal, RecordKind
from connector.port import NpsAccount, NpsContact
from connector.salesforce import soql
from connector.salesforce.client import SalesforceClient
from connector.salesforce.paging import QueryPaginator
from connector.salesforce.pull import as_text, stream_deals

CONTACT_COLUMNS = "Id, Email, Name, AccountId"
ACCOUNT_COLUMNS = ("Id", "Name", "OwnerId", "Owner.IsActive")


def query_all(client: SalesforceClient, statement: str, what: str) -> Iterator[dict]:
    paginator = QueryPaginator(what)
    page = client.query(statement)
    while True:
        yield from paginator.records(page)
        next_url = paginator.next_url(page)
        if next_url is None:
            return
        page = client.query_more(next_url)


def contacts_by_email(client: SalesforceClient, emails: Iterable[str]) -> list[NpsContact]:
    wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
    return _contacts(client, "Email", wanted)


def contacts_by_id(client: SalesforceClient, contact_ids: Iterable[str]) -> list[NpsContact]:
    return _contacts(client, "Id", [i for i in contact_ids if soql.is_record_id(i)])


def _contacts(client: SalesforceClient, column: str, values: Sequence[str]) -> list[NpsContact]:
    found: dict[str, NpsContact] = {}
    for chunk in soql.in_list_chunks(values):
        statement = f"SELECT {CONTACT_COLUMNS} FROM Contact WHERE {format_soql(column + ' IN {}', chunk)} ORDER BY Id"
        for record in query_all(client, statement, "contact query"):
            found[record["Id"]] = NpsContact(id=record["Id"], email=as_text(record.get("Email")),
                                             company_id=as_text(record.get("AccountId")),
                                             name=as_text(record.get("Name")))
    return [found[i] for i in sorted(found)]


def accounts(client: SalesforceClient, fieldmap: FieldMap, account_ids: Iterable[str]) -> dict[str, NpsAccount]:
    ids = [i for i in dict.fromkeys(account_ids) if soql.is_record_id(i)]
    specs = fieldmap.for_record(RecordKind.COMPANY)
    columns = list(dict.fromkeys([*ACCOUNT_COLUMNS, *(soql.api_name(s.crm_name, key=f"fields.{s.canonical}",
                                                                     source=fieldmap.source) for s in specs)]))
    out: dict[str, NpsAccount] = {}
    for chunk in soql.in_list_chunks(ids):
        won = _won_deals_by_account(client, fieldmap, chunk)
        statement = f"SELECT {', '.join(columns)} FROM Account WHERE {format_soql('Id IN {}', chunk)} ORDER BY Id"
        for record in query_all(client, statement, "account query"):
            out[record["Id"]] = _account(record, specs, won.get(record["Id"], []))
    return out


def _account(record: dict, specs: Sequence[Any], won: list[Deal]) -> NpsAccount:
    active = (record.get("Owner") or {}).get("IsActive") is not False
    return NpsAccount(
        id=record["Id"], name=as_text(record.get("Name")),
        owner_id=as_text(record.get("OwnerId")) if active else None,
        fields={s.canonical: as_text(record.get(s.crm_name)) for s in specs},
        won_deals=tuple(won),
    )


def _won_deals_by_account(client: SalesforceClient, fieldmap: FieldMap, account_ids: Sequence[str]) -> dict[str,
                                                                                                            list[Deal]]:
    where = f"IsWon = true AND {format_soql('AccountId IN {}', list(account_ids))}"
    found: dict[str, list[Deal]] = {}
    for page in stream_deals(client, _select_deals(fieldmap, where), fieldmap):
        for deal in page:
            if deal.company is not None:
                found.setdefault(deal.company.id, []).append(deal)
    return found


def referred_deals(client: SalesforceClient, fieldmap: FieldMap, referrer_field: str) -> list[Deal]:
    spec = fieldmap.fields.get(referrer_field)
    if spec is None or spec.record is not RecordKind.DEAL:
        return []
    column = soql.api_name(spec.crm_name, key=f"fields.{referrer_field}", source=fieldmap.source)
    statement = _select_deals(fieldmap, f"IsWon = true AND {column} != null")
    return [deal for page in stream_deals(client, statement, fieldmap) for deal in page]


def _select_deals(fieldmap: FieldMap, where: str) -> str:
    return (f"SELECT {', '.join(soql.deal_columns(fieldmap))}, {soql.CONTACT_ROLES} FROM Opportunity "
            f"WHERE {where} ORDER BY Id")
