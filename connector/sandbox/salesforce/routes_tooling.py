"""Tooling API routes: create, read, update and query ``CustomField`` (tooling.py), with the permission
checks of permissions.py. The Tooling API has its own objects: its query endpoint knows only
them (here, CustomField), and its sobjects endpoint serves only those the sandbox models.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError, not_found
from .ids import normalize_id
from .schema import ObjectDef, _f, _object
from .soql_parser import Query, parse
from .store import Store
from .values import to_json
from .web import json_response, read_json

METADATA_FIELDS = {"fullname", "metadata"}


def tooling_catalog() -> dict[str, ObjectDef]:
    custom_field = _object("CustomField", "Custom Field", "Custom Fields", [
        _f("DeveloperName", "string", length=40, createable=False, updateable=False),
        _f("TableEnumOrId", "string", length=40, createable=False, updateable=False),
        _f("EntityDefinitionId", "string", length=40, createable=False, updateable=False),
        _f("NamespacePrefix", "string", length=15, createable=False, updateable=False),
        _f("ManageableState", "picklist", length=40, createable=False, updateable=False,
           picklist=("unmanaged", "installed", "released")),
        _f("Description", "string", length=1000, createable=False, updateable=False),
        _f("InlineHelpText", "string", length=510, createable=False, updateable=False),
        _f("Length", "double", createable=False, updateable=False),
        _f("FullName", "string", length=255, createable=False, updateable=False),
        _f("Metadata", "complexvalue", createable=False, updateable=False),
    ], deletable=False)
    return {"CustomField": custom_field}


def _insufficient_access() -> ApiError:
    return ApiError(403, "INSUFFICIENT_ACCESS",
                    "You don't have permission to create custom fields: the user needs Customize Application")


def _tooling_object(name: str) -> None:
    if name.lower() != "customfield":
        raise not_found(f"The requested resource does not exist (not supported by this sandbox: Tooling "
                        f"sObject {name}; CustomField is)")


async def tooling_create(sb, request: Request, session, version: str) -> Response:
    _tooling_object(request.path_params["sobject"])
    if not sb.permissions.customize_application:
        raise _insufficient_access()
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", 'The request body must be {"FullName": ..., "Metadata": {...}}')
    record_id = sb.create_custom_field(body.get("FullName"), body.get("Metadata"))
    return json_response({"id": record_id, "success": True, "errors": [], "warnings": [], "infos": []}, 201)


async def tooling_update(sb, request: Request, session, version: str) -> Response:
    """PATCH with ``{"Metadata": {...}}`` (and optionally the same FullName): 204, as sObject updates."""
    _tooling_object(request.path_params["sobject"])
    if not sb.permissions.customize_application:
        raise _insufficient_access()
    body = await read_json(request)
    if not isinstance(body, dict) or "Metadata" not in body:
        raise ApiError(400, "JSON_PARSER_ERROR", 'The request body must be {"Metadata": {...}}')
    record_id = normalize_id(request.path_params["record_id"])
    if record_id is None:
        raise not_found()
    sb.update_custom_field(record_id, body.get("FullName"), body.get("Metadata"))
    return Response(status_code=204)


async def tooling_get(sb, request: Request, session, version: str) -> Response:
    _tooling_object(request.path_params["sobject"])
    if not sb.permissions.can_view_setup:
        raise not_found()
    record_id = normalize_id(request.path_params["record_id"])
    record = sb.tooling_store.get("CustomField", record_id) if record_id else None
    if record is None:
        raise not_found()
    odef = sb.tooling_store.catalog["CustomField"]
    out = {"attributes": {"type": "CustomField",
                          "url": f"/services/data/v{version}/tooling/sobjects/CustomField/{record['Id']}"}}
    for name in odef.fields:
        out[name] = to_json(record.get(name))
    return json_response(out)


async def tooling_query(sb, request: Request, session, version: str) -> Response:
    text = request.query_params.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A SOQL query is required: pass it as the 'q' parameter")
    # A user who cannot view setup sees no Tooling objects (they answer as unknown types).
    catalog = sb.tooling_store.catalog if sb.permissions.can_view_setup else {}
    result = sb.tooling_engine.run(text, include_deleted=False, version=version, catalog=catalog)
    if _selects_metadata(parse(text)) and result.total_size > 1:
        raise ApiError(400, "MALFORMED_QUERY",
                       "When retrieving results with Metadata or FullName fields, the query qualificiations must "
                       f"specify no more than one row for retrieval. Result size: {result.total_size}")
    return json_response({"size": result.total_size, "totalSize": result.total_size, "done": True,
                          "queryLocator": None, "entityTypeName": "CustomField", "records": result.records})


async def tooling_record(sb, request: Request, session, version: str) -> Response:
    handler = tooling_update if request.method == "PATCH" else tooling_get
    return await handler(sb, request, session, version)


def _selects_metadata(ast: Query) -> bool:
    return any(not isinstance(item, Query) and item.parts[-1].lower() in METADATA_FIELDS for item in ast.fields)


def new_tooling_store(ids, clock) -> Store:
    return Store(tooling_catalog(), clock=clock, ids=ids)
