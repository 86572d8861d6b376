"""sObject Collections: ``/composite/sobjects`` POST (create), PATCH (update), DELETE (?ids=) and
PATCH ``/composite/sobjects/{Obj}/{ExtField}`` (upsert, v46+).

A well-formed request is 200 with one result per record, in order, even when records fail; more
than 200 records or a malformed body is a 400 for the whole request; ``allOrNone=true`` rolls
everything back when any record fails, and the records that were fine report
ALL_OR_NONE_OPERATION_ROLLED_BACK (facts §4).
[DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-create.html]
[DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html]
[2ND: github.com/sorenkrabbe/Chrome-Salesforce-inspector/issues/134 "EXCEEDED_ID_LIMIT: record limit reached.
cannot submit more than 200 records into this call"]
"""

from __future__ import annotations

from collections import Counter

from starlette.requests import Request
from starlette.responses import Response

from .errors import ROLLED_BACK, ApiError, RecordError
from .ids import normalize_id
from .permissions import check_setup_write, setup_write_error
from .schema import ObjectDef, find_object
from .values import to_json
from .web import json_response, read_json

MAX_RECORDS = 200
MAX_RETRIEVE = 2000


class _RollBack(Exception):
    pass


def _too_many() -> ApiError:
    return ApiError(400, "EXCEEDED_ID_LIMIT",
                    "record limit reached. cannot submit more than 200 records into this call")


def _records_body(body) -> tuple[list[dict], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be {\"allOrNone\": bool, \"records\": [...]}")
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise _too_many()
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise ApiError(400, "JSON_PARSER_ERROR", "allOrNone must be true or false")
    for n, record in enumerate(records):
        attributes = record.get("attributes") if isinstance(record, dict) else None
        if not isinstance(attributes, dict) or not isinstance(attributes.get("type"), str):
            raise ApiError(400, "INVALID_TYPE", f"records[{n}]: each record needs attributes.type")
    return records, all_or_none


def _type_of(sb, record: dict, view: dict) -> ObjectDef:
    """The record's object as the user sees it; refused when the user may not write it."""
    odef = find_object(view, record["attributes"]["type"])
    if odef is None:
        raise RecordError("INVALID_TYPE", f"sObject type '{record['attributes']['type']}' is not supported.")
    error = setup_write_error(sb.permissions, odef.name)
    if error is not None:
        raise error
    return odef


def _as_record_error(error: ApiError) -> RecordError:
    code = {"NOT_FOUND": "INVALID_CROSS_REFERENCE_KEY"}.get(error.error_code, error.error_code)
    message = "invalid cross reference id" if error.error_code == "NOT_FOUND" else error.message
    return RecordError(code, message)


def _run(sb, items: list, action, all_or_none: bool) -> list[dict]:
    """``action(item) -> result dict``; failures become ``{"success": false, "errors": [...]}``."""
    results: list[dict] = []
    store = sb.store
    try:
        with store.transaction():
            for item in items:
                try:
                    with store.transaction():
                        results.append(action(item))
                except RecordError as error:
                    results.append({"success": False, "errors": [error.as_result_error()]})
                except ApiError as error:
                    results.append({"success": False, "errors": [_as_record_error(error).as_result_error()]})
            if all_or_none and not all(r["success"] for r in results):
                raise _RollBack
    except _RollBack:
        results = [r if not r["success"] else _rolled_back(r) for r in results]
    return results


def _rolled_back(result: dict) -> dict:
    """A record that was fine but undone: no id, not created (upsert), ALL_OR_NONE_OPERATION_ROLLED_BACK."""
    undone = {k: v for k, v in result.items() if k != "id"}
    if "created" in undone:
        undone["created"] = False
    return {**undone, "success": False, "errors": [ROLLED_BACK.as_result_error()]}


def _fields(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "attributes"}


async def collections(sb, request: Request, session, version: str) -> Response:
    if request.method == "DELETE":
        return _delete(sb, request)
    records, all_or_none = _records_body(await read_json(request))
    view = sb.view_for(session)
    if request.method == "POST":
        def create(record: dict) -> dict:
            fields = _fields(record)
            if "Id" in fields or "id" in fields:
                raise RecordError("INVALID_FIELD", "Can't specify an Id in a create call", ["Id"])
            odef = _type_of(sb, record, view)
            return {"id": sb.store.create(odef.name, fields, access=odef), "success": True, "errors": []}
        return json_response(_run(sb, records, create, all_or_none))

    def update(record: dict) -> dict:
        fields = _fields(record)
        record_id = normalize_id(fields.pop("Id", None) or fields.pop("id", None))
        if record_id is None:
            raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call")
        odef = _type_of(sb, record, view)
        if sb.store.object_of_id(record_id) != odef.name:
            raise RecordError("MALFORMED_ID", f"Id {record_id} is not a {odef.name} id", ["Id"])
        sb.store.update(odef.name, record_id, fields, access=odef)
        return {"id": record_id, "success": True, "errors": []}
    return json_response(_run(sb, records, update, all_or_none))


def _delete(sb, request: Request) -> Response:
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids: the ids parameter is required")
    if len(ids) > MAX_RECORDS:
        raise _too_many()
    all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"

    def delete(raw_id: str) -> dict:
        record_id = normalize_id(raw_id)
        obj = sb.store.object_of_id(record_id) if record_id else None
        if obj is None:
            raise RecordError("MALFORMED_ID", f"malformed id {raw_id}")
        error = setup_write_error(sb.permissions, obj)
        if error is not None:
            raise error
        sb.store.delete(obj, record_id)
        return {"id": record_id, "success": True, "errors": []}

    results = _run(sb, ids, delete, all_or_none)
    for raw_id, result in zip(ids, results, strict=True):
        result.setdefault("id", normalize_id(raw_id) or raw_id)
    return json_response(results)


async def collections_upsert(sb, request: Request, session, version: str) -> Response:
    odef = find_object(sb.view_for(session), request.path_params["sobject"])
    if odef is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    check_setup_write(sb.permissions, odef.name)
    fd = odef.field(request.path_params["field"])
    if fd is None or not fd.external_id:
        raise ApiError(400, "INVALID_FIELD",
                       "Provided external ID field does not exist or is not accessible: "
                       f"{request.path_params['field']}")
    records, all_or_none = _records_body(await read_json(request))
    for n, record in enumerate(records):
        if record["attributes"]["type"].lower() != odef.name.lower():
            raise ApiError(400, "INVALID_TYPE", f"records[{n}]: the list can hold only {odef.name} records")
    keys = Counter(v.casefold() for v in (_key(r, fd.name) for r in records) if isinstance(v, str))

    def upsert(record: dict) -> dict:
        fields = _fields(record)
        value = _key(record, fd.name)
        if not isinstance(value, str) or not value:
            raise RecordError("MISSING_ARGUMENT", f"{fd.name} not specified", [fd.name])
        if keys[value.casefold()] > 1:
            raise RecordError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [fd.name])
        record_id, created = sb.store.upsert(odef.name, fd.name, value, fields, access=odef)
        return {"id": record_id, "success": True, "errors": [], "created": created}

    results = _run(sb, records, upsert, all_or_none)
    for result in results:
        result.setdefault("created", False)
    return json_response(results)


def _key(record: dict, field: str):
    return next((v for k, v in record.items() if k.lower() == field.lower()), None)


# ----------------------------------------------------------------- retrieve
async def collections_retrieve(sb, request: Request, session, version: str) -> Response:
    """``GET /composite/sobjects/{Obj}?ids=&fields=`` and ``POST`` with ``{ids, fields}``: one entry
    per id, in order; null for an id that is malformed, missing or deleted; a field that does not
    exist or that the user cannot read is a 400 for the whole request; at most 2,000 ids.
    [DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-retrieve.html]
    [DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-retrieve-post.html]
    An id of another object is refused (400 MALFORMED_ID), as "all IDs must belong to the same
    object type" [STRICT]."""
    odef = find_object(sb.view_for(session), request.path_params["sobject"])
    if odef is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    ids, fields = await _retrieve_arguments(request)
    if len(ids) > MAX_RETRIEVE:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", f"too many ids: at most {MAX_RETRIEVE} can be retrieved at once")
    for name in fields:
        if odef.field(name) is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{odef.name}'. If you are "
                           "attempting to use a custom field, be sure to append the '__c' after the custom field "
                           "name. Please reference your WSDL or the describe call for the appropriate names.")
    out = []
    for raw in ids:
        record_id = normalize_id(raw)
        if record_id is not None and sb.store.object_of_id(record_id) not in (None, odef.name):
            raise ApiError(400, "MALFORMED_ID", f"Id {raw} is not a {odef.name} id: all ids must belong to "
                           f"{odef.name}")
        record = sb.store.get(odef.name, record_id) if record_id else None
        out.append(None if record is None or record["IsDeleted"] else _selected(odef, record, fields, version))
    return json_response(out)


async def _retrieve_arguments(request: Request) -> tuple[list[str], list[str]]:
    if request.method == "GET":
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        fields = [f for f in request.query_params.get("fields", "").split(",") if f]
    else:
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("ids", []), list) \
                or not isinstance(body.get("fields", []), list):
            raise ApiError(400, "JSON_PARSER_ERROR", 'The request body must be {"ids": [...], "fields": [...]}')
        ids, fields = [str(i) for i in body.get("ids", [])], [str(f) for f in body.get("fields", [])]
    for name, given in (("ids", ids), ("fields", fields)):
        if not given:
            raise ApiError(400, "MISSING_ARGUMENT", f"{name}: the {name} parameter is required")
    return ids, fields


def _selected(odef: ObjectDef, record: dict, fields: list[str], version: str) -> dict:
    out: dict = {"attributes": {"type": odef.name,
                                "url": f"/services/data/v{version}/sobjects/{odef.name}/{record['Id']}"}}
    for name in fields:
        fd = odef.field(name)
        out[fd.name] = to_json(record.get(fd.name))
    return out
