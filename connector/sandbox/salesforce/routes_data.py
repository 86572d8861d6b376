"""REST data routes: query/queryAll with server-side cursors, limits, describe, single-record CRUD
and upsert by external id.

[DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.md]
[DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/headers-queryoptions.html]
[DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/dome-upsert.html]
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from . import routes_replication as replication
from . import versions as api_versions
from .describe import basic_info, describe_global, describe_object
from .errors import ApiError, RecordError, not_found
from .identity import identity_url
from .ids import normalize_id
from .permissions import check_setup_write
from .schema import ObjectDef, find_object
from .values import to_json
from .web import json_response, read_json

MIN_BATCH, MAX_BATCH = 200, 2000


def batch_size(header: str | None, default: int) -> int:
    """``Sforce-Query-Options: batchSize=N``: 200..2,000 (values outside are clamped), else the default."""
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key.strip() == "batchSize" and value.strip().isdigit():
            return max(MIN_BATCH, min(MAX_BATCH, int(value)))
    return default


def _page_body(total: int, records: list[dict], next_url: str | None) -> dict:
    body = {"totalSize": total, "done": next_url is None}
    if next_url:
        body["nextRecordsUrl"] = next_url
    body["records"] = records
    return body


async def query(sb, request: Request, session, version: str, *, include_deleted: bool = False) -> Response:
    text = request.query_params.get("q")
    if not text and request.query_params.get("explain") and not include_deleted:
        return replication.explain(sb, request.query_params["explain"], session, version)
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A SOQL query is required: pass it as the 'q' parameter")
    result = sb.engine.run(text, include_deleted=include_deleted, version=version, catalog=sb.view_for(session))
    size = batch_size(request.headers.get("sforce-query-options"), sb.page_size)
    if len(result.records) <= size:
        return json_response(_page_body(result.total_size, result.records, None))
    locator = sb.cursors.open(session.username, result.records, size)
    next_url = f"/services/data/v{version}/query/{locator}-{size}"
    return json_response(_page_body(result.total_size, result.records[:size], next_url))


async def query_all(sb, request: Request, session, version: str) -> Response:
    return await query(sb, request, session, version, include_deleted=True)


async def query_more(sb, request: Request, session, version: str) -> Response:
    cursor, records, next_offset = sb.cursors.page(session.username, request.path_params["locator"])
    next_url = None if next_offset is None else f"/services/data/v{version}/query/{cursor.locator}-{next_offset}"
    return json_response(_page_body(len(cursor.records), records, next_url))


async def limits(sb, request: Request, session, version: str) -> Response:
    usage = sb.usage
    return json_response({"DailyApiRequests": {"Max": usage.max, "Remaining": max(0, usage.max - usage.used)}})


async def resources(sb, request: Request, session, version: str) -> Response:
    """The resources this sandbox serves at a version; ``identity`` is the caller's identity URL
    (absolute, on the login server) [DOC: api-rest resources_discoveryresource]."""
    base = f"/services/data/v{version}"
    body = {name: f"{base}/{name}" for name in ("tooling", "sobjects", "query", "queryAll", "limits", "composite")}
    body["identity"] = identity_url(sb.instance_url, sb.org, sb.user_id_of(session.username))
    return json_response(body)


async def versions(sb, request: Request) -> Response:
    return json_response(api_versions.listing(sb.api_version))


# ------------------------------------------------------------------ sobjects
def _object(sb, name: str, session) -> ObjectDef:
    """The object as the session's user sees it (fields hidden by field-level security left out)."""
    odef = find_object(sb.view_for(session), name)
    if odef is None:
        raise not_found()
    return odef


def render_record(odef: ObjectDef, record: dict, version: str, fields: list[str] | None = None) -> dict:
    out = {"attributes": {"type": odef.name, "url": f"/services/data/v{version}/sobjects/{odef.name}/{record['Id']}"}}
    names = odef.fields if fields is None else fields
    for name in names:
        fd = odef.field(name)
        if fd is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{odef.name}'")
        out[fd.name] = to_json(record.get(fd.name))
    return out


async def describe_all(sb, request: Request, session, version: str) -> Response:
    return json_response(describe_global(sb.catalog, version))


async def describe(sb, request: Request, session, version: str) -> Response:
    return json_response(describe_object(_object(sb, request.path_params["sobject"], session), version))


async def sobject_root(sb, request: Request, session, version: str) -> Response:
    odef = _object(sb, request.path_params["sobject"], session)
    if request.method == "GET":
        return json_response(basic_info(odef, version))
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values")
    check_setup_write(sb.permissions, odef.name)
    record_id = _write(lambda: sb.store.create(odef.name, body, access=odef))
    return json_response({"id": record_id, "success": True, "errors": []}, 201)


def _write(action):
    """Run one write atomically; a refused record is a 400 with the error list."""
    try:
        return action()
    except RecordError as error:
        raise error.as_api_error() from None


def _record(sb, odef: ObjectDef, raw_id: str) -> dict:
    record_id = normalize_id(raw_id)
    record = sb.store.get(odef.name, record_id) if record_id else None
    if record is None:
        raise not_found()
    if record["IsDeleted"]:
        raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
    return record


async def sobject_record(sb, request: Request, session, version: str) -> Response:
    odef = _object(sb, request.path_params["sobject"], session)
    record = _record(sb, odef, request.path_params["record_id"])
    if request.method == "GET":
        fields = request.query_params.get("fields")
        return json_response(render_record(odef, record, version, fields.split(",") if fields else None))
    check_setup_write(sb.permissions, odef.name)
    if request.method == "DELETE":
        _write(lambda: _in_transaction(sb, lambda: sb.store.delete(odef.name, record["Id"])))
        return Response(status_code=204)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values")
    _write(lambda: _in_transaction(sb, lambda: sb.store.update(odef.name, record["Id"], body, access=odef)))
    return Response(status_code=204)


def _in_transaction(sb, action):
    with sb.store.transaction():
        return action()


def _external_field(odef: ObjectDef, name: str):
    fd = odef.field(name)
    if fd is None or not fd.external_id:
        raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
    return fd


async def sobject_external(sb, request: Request, session, version: str) -> Response:
    odef = _object(sb, request.path_params["sobject"], session)
    fd = _external_field(odef, request.path_params["field"])
    value = request.path_params["value"]
    existing = sb.store.find_unique(odef.name, fd.name, value)
    if existing is not None and existing["IsDeleted"]:
        existing = None
    if request.method == "GET":
        if existing is None:
            raise not_found()
        return json_response(render_record(odef, existing, version))
    if request.method == "DELETE":
        check_setup_write(sb.permissions, odef.name)
        if existing is None:
            raise not_found()
        _write(lambda: _in_transaction(sb, lambda: sb.store.delete(odef.name, existing["Id"])))
        return Response(status_code=204)
    if existing is None and request.query_params.get("updateOnly", "").lower() == "true":
        raise not_found()  # ?updateOnly=true (v61+): never create
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values")
    check_setup_write(sb.permissions, odef.name)
    upsert = lambda: sb.store.upsert(odef.name, fd.name, value, body, access=odef)  # noqa: E731
    record_id, created = _write(lambda: _in_transaction(sb, upsert))
    if created:
        return json_response({"id": record_id, "success": True, "errors": [], "created": True}, 201)
    if sb.upsert_update_status == 200:
        return json_response({"id": record_id, "success": True, "errors": [], "created": False}, 200)
    return Response(status_code=204)
