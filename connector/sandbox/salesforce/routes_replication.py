"""Data replication: ``GET /sobjects/{Obj}/updated/?start=&end=`` and ``.../deleted/?start=&end=``,
and the query plan ``GET /query/?explain=``.

Get Updated [DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-getupdated.md]:
``{ids, latestDateCovered}``; records whose SystemModstamp falls in the span; results for no more
than 30 days before the call. Get Deleted [DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-getdeleted.md]:
``{deletedRecords: [{id, deletedDate}], earliestDateAvailable, latestDateCovered}``; no more than
15 days back; deletedDate comes from SystemModstamp [DOC: SOAP GetDeletedResult]. Both cap at
600,000 ids (EXCEEDED_ID_LIMIT). ``start``/``end`` are UTC date-times (seconds are ignored, as the
SOAP replication calls do); latestDateCovered is the end of the span or "now", whichever is
earlier. A span out of range or reversed is 400 INVALID_REPLICATION_DATE (the replication calls'
code [2ND: restforce ErrorCode::InvalidReplicationDate]); a missing or malformed date is 400
MISSING_ARGUMENT naming the parameter [STRICT].

Explain [DOC: api-rest resources_query, "explain" parameter; 2ND: jsforce QueryExplainResult type]:
``{plans: [{cardinality, fields, leadingOperationType, notes, relativeCost, sobjectCardinality,
sobjectType}], sourceQuery}``, best plan first, without running the query for the client. The
sandbox's plans are indicative: an Index plan for each indexed field the WHERE clause compares
with = or IN, then a TableScan; cardinalities are real counts.
"""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError, not_found
from .schema import find_object
from .soql_parser import Comparison, Logical, parse
from .values import format_datetime, parse_datetime
from .web import json_response

UPDATED_DAYS, DELETED_DAYS = 30, 15
MAX_IDS = 600_000
INDEXED = frozenset({"id", "name", "ownerid", "createddate", "systemmodstamp", "lastmodifieddate"})


def _minute(stamp: dt.datetime) -> dt.datetime:
    return stamp.replace(second=0, microsecond=0)


def _span(request: Request, now: dt.datetime, days: int) -> tuple[dt.datetime, dt.datetime]:
    bounds = []
    for name in ("start", "end"):
        raw = request.query_params.get(name, "")
        parsed = parse_datetime(raw) if raw else None
        if parsed is None:
            raise ApiError(400, "MISSING_ARGUMENT", f"{name}: a UTC date-time such as 2026-03-04T15:00:00+00:00 "
                           f"is required (got {raw!r})")
        bounds.append(_minute(parsed))
    start, end = bounds
    if end <= start:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "end must be later than start")
    if start < _minute(now) - dt.timedelta(days=days):
        raise ApiError(400, "INVALID_REPLICATION_DATE",
                       f"start must be within the last {days} days (earliest: "
                       f"{format_datetime(_minute(now) - dt.timedelta(days=days))})")
    return start, end


def _replicable(sb, session, name: str):
    odef = find_object(sb.view_for(session), name)
    if odef is None:
        raise not_found()
    return odef


async def updated(sb, request: Request, session, version: str) -> Response:
    odef = _replicable(sb, session, request.path_params["sobject"])
    now = sb.clock()
    start, end = _span(request, now, UPDATED_DAYS)
    ids = [r["Id"] for r in sb.store.all(odef.name)
           if not r["IsDeleted"] and start <= r["SystemModstamp"] < end]
    if len(ids) > MAX_IDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "too many ids: choose start and end dates closer together")
    return json_response({"ids": ids, "latestDateCovered": format_datetime(min(end, _minute(now)))})


async def deleted(sb, request: Request, session, version: str) -> Response:
    odef = _replicable(sb, session, request.path_params["sobject"])
    now = sb.clock()
    start, end = _span(request, now, DELETED_DAYS)
    rows = [{"id": r["Id"], "deletedDate": format_datetime(r["SystemModstamp"])} for r in sb.store.all(odef.name)
            if r["IsDeleted"] and start <= r["SystemModstamp"] < end]
    if len(rows) > MAX_IDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "too many ids: choose start and end dates closer together")
    return json_response({"deletedRecords": rows,
                          "earliestDateAvailable": format_datetime(_minute(now) - dt.timedelta(days=DELETED_DAYS)),
                          "latestDateCovered": format_datetime(min(end, _minute(now)))})


def explain(sb, text: str, session, version: str) -> Response:
    result = sb.engine.run(text, include_deleted=False, version=version, catalog=sb.view_for(session))
    ast = parse(text)
    odef = find_object(sb.view_for(session), ast.sobject)
    table = sum(1 for r in sb.store.all(odef.name) if not r["IsDeleted"])
    plans = [{"cardinality": result.total_size, "fields": [field], "leadingOperationType": "Index", "notes": [],
              "relativeCost": round(result.total_size / max(table, 1) * 0.5, 4), "sobjectCardinality": table,
              "sobjectType": odef.name} for field in _indexed_equalities(ast.where, odef)]
    plans.append({"cardinality": result.total_size, "fields": [], "leadingOperationType": "TableScan",
                  "notes": [], "relativeCost": round(0.65 + table / 100_000, 4), "sobjectCardinality": table,
                  "sobjectType": odef.name})
    return json_response({"plans": plans, "sourceQuery": text})


def _indexed_equalities(node, odef) -> list[str]:
    """Top-level (AND-ed) ``field = value`` / ``field IN (...)`` on indexed fields: Id, Name,
    OwnerId, audit dates, external ids and unique fields."""
    items = node.items if isinstance(node, Logical) and node.op == "AND" else (node,) if node else ()
    out = []
    for item in items:
        if not isinstance(item, Comparison) or item.op not in ("=", "IN") or not hasattr(item.path, "parts"):
            continue
        if len(item.path.parts) != 1:
            continue
        fd = odef.field(item.path.parts[0])
        if fd is not None and (fd.name.lower() in INDEXED or fd.external_id or fd.unique) and fd.name not in out:
            out.append(fd.name)
    return out
