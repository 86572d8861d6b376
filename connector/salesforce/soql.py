"""Every SOQL statement AfterClose sends, built in one place.

Values (ids, keys, timestamps) are always rendered by ``simple_salesforce.format_soql``, which
quotes and escapes strings per Salesforce's quoted-string escapes (backslash, quotes, newlines;
[DOC: https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm]).
Field names cannot be quoted in SOQL, so they come only from the FieldMap and are checked
against a strict API-name pattern first; anything else is refused as a config error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence

from simple_salesforce import format_soql

from connector.errors import ConfigError
from connector.mapping import FieldMap
from connector.model import Cursor, RecordKind

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}(\.[A-Za-z][A-Za-z0-9_]{0,79}){0,4}$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")

DEAL_FIELDS = (
    "Id", "Name", "StageName", "IsWon", "CloseDate", "Amount", "SystemModstamp",
    "OwnerId", "Owner.Email", "Owner.Name", "Owner.IsActive", "AccountId", "Account.Name",
)
CONTACT_ROLES = "(SELECT ContactId, Role, IsPrimary, Contact.Email, Contact.Name FROM OpportunityContactRoles)"
TASK_FIELDS = ("Id", "WhatId", "ActivityDate", "IsClosed", "OwnerId")

IN_LIST_MAX_ITEMS = 200
IN_LIST_MAX_CHARS = 6_000
"""A query is a GET, so the IN list travels in the URL; ~6 KB keeps the whole URL far below the
16 KB request-line limits common to Salesforce's front ends and proxies [UNVERIFIED exact limit]."""


def api_name(name: str, *, key: str, source: str | None = None) -> str:
    if not isinstance(name, str) or not _API_NAME.match(name):
        raise ConfigError(f"{name!r} is not a Salesforce field API name", source=source, key=key)
    return name


def is_record_id(value: object) -> bool:
    """Salesforce ids are 15 or 18 letters/digits; nothing else can match a record."""
    return isinstance(value, str) and bool(_RECORD_ID.match(value))


def deal_columns(fieldmap: FieldMap) -> list[str]:
    columns = list(DEAL_FIELDS)
    for spec in fieldmap.for_record(RecordKind.DEAL):
        name = api_name(spec.crm_name, key=f"fields.{spec.canonical}", source=fieldmap.source)
        if name not in columns:
            columns.append(name)
    return columns


def _select_deals(fieldmap: FieldMap) -> str:
    return f"SELECT {', '.join(deal_columns(fieldmap))}, {CONTACT_ROLES} FROM Opportunity"


def won_deals_since(fieldmap: FieldMap, since: Cursor | None) -> str:
    """Won deals, or deals AfterClose handled (handoff status written) that are no longer won.

    The cursor filter is ``SystemModstamp >= <cursor second>``; the (timestamp, Id) tie-break is
    applied by the caller on the exact values. Why not ``Id >`` in SOQL: a SOQL datetime literal
    carries whole seconds (format_soql drops microseconds) and Salesforce compares datetimes
    ignoring milliseconds [2ND: https://salesforce.stackexchange.com/questions/234824], so a
    SOQL tie-break at a second boundary could skip deals modified later in that same second
    with a smaller Id. Re-reading one second of deals costs rows, never a repeat or a loss.
    """
    won = "IsWon = true"
    if fieldmap.has("handoff_status"):
        status = api_name(fieldmap.spec("handoff_status").crm_name, key="fields.handoff_status",
                          source=fieldmap.source)
        won = f"(IsWon = true OR {status} != null)"
    where = [won]
    if since is not None:
        where.append(format_soql("SystemModstamp >= {}", since.modified.replace(microsecond=0)))
    return f"{_select_deals(fieldmap)} WHERE {' AND '.join(where)} ORDER BY SystemModstamp, Id"


def deals_by_ids(fieldmap: FieldMap, ids: Sequence[str]) -> str:
    return f"{_select_deals(fieldmap)} WHERE {format_soql('Id IN {}', list(ids))} ORDER BY Id"


def tasks_by_keys(key_field: str, keys: Sequence[str]) -> str:
    key_field = api_name(key_field, key="task_key_field")
    columns = ", ".join((*TASK_FIELDS, key_field))
    return f"SELECT {columns} FROM Task WHERE {format_soql(key_field + ' IN {}', list(keys))} ORDER BY Id"


def any_keyed_task(key_field: str) -> str:
    key_field = api_name(key_field, key="task_key_field")
    return f"SELECT Id FROM Task WHERE {key_field} != null LIMIT 1"


def in_list_chunks(values: Iterable[str], *, max_items: int = IN_LIST_MAX_ITEMS,
                   max_chars: int = IN_LIST_MAX_CHARS) -> Iterator[list[str]]:
    """Split values into IN lists bounded by count and by rendered (escaped) length."""
    chunk: list[str] = []
    size = 0
    for value in dict.fromkeys(values):  # de-duplicated, order kept
        rendered = len(format_soql("{}", value)) + 1
        if chunk and (len(chunk) >= max_items or size + rendered > max_chars):
            yield chunk
            chunk, size = [], 0
        chunk.append(value)
        size += rendered
    if chunk:
        yield chunk


def parse_datetime(value: str) -> dt.datetime:
    """Salesforce datetimes look like ``2013-05-20T20:49:32.000+0000`` (facts §4)."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
