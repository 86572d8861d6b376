"""The Starlette app: one route per HubSpot endpoint, each named by its call-counter label."""

from __future__ import annotations

import json
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.sandbox.hubspot import account, assoc_v4, meta, objects, properties
from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.errors import ApiError, error_body, validation_error
from connector.sandbox.hubspot.schema import object_type
from connector.sandbox.hubspot.search import SearchCache, search

logger = logging.getLogger(__name__)
OBJ = "/crm/v3/objects/{objectType}"
V4 = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch"


async def _json(request: Request):
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise validation_error(f"Invalid input JSON on line {getattr(exc, 'lineno', 1)}, "
                               f"column {getattr(exc, 'colno', 1)}: {exc}") from None


def _kind(request: Request, key: str = "objectType"):
    segment = request.path_params[key]
    kind = object_type(segment)
    if kind is None:
        raise objects.unknown_object_type(segment)
    return kind


def _respond(result: tuple[int, dict | None]) -> Response:
    status, body = result
    if body is None:
        return Response(status_code=status)
    return JSONResponse(body, status_code=status)


def _daily_usage(b: Backend) -> dict:
    limits = b.limits
    return account.daily_usage(limits.daily_used if limits else 0, limits.daily if limits else None)


def build_app(b: Backend) -> tuple[Starlette, list[Route]]:
    cache = SearchCache()

    def endpoint(work, *, body: bool = False):
        async def handle(request: Request) -> Response:
            try:
                payload = await _json(request) if body else None
                with b.store.lock:
                    return _respond(work(request, payload))
            except ApiError as exc:
                return JSONResponse(exc.body, status_code=exc.status)
            except Exception as exc:  # a sandbox bug: answer like HubSpot's 500, and say what broke
                logger.exception("sandbox handler failed")
                return JSONResponse(error_body(f"sandbox internal error: {exc!r}", "INTERNAL_ERROR"),
                                    status_code=500)
        return handle

    p = lambda r, key: r.path_params[key]  # noqa: E731 - a one-word accessor keeps the table readable
    table = [
        ("GET", OBJ, lambda r, _: objects.list_page(b, _kind(r), r.query_params), False),
        ("POST", OBJ, lambda r, d: objects.create_one(b, _kind(r), d), True),
        ("POST", OBJ + "/search", lambda r, d: search(b, cache, _kind(r), d), True),
        ("POST", OBJ + "/batch/read", lambda r, d: objects.batch_read(b, _kind(r), d, r.query_params), True),
        ("POST", OBJ + "/batch/create", lambda r, d: objects.batch_create(b, _kind(r), d), True),
        ("POST", OBJ + "/batch/update", lambda r, d: objects.batch_update(b, _kind(r), d), True),
        ("POST", OBJ + "/batch/upsert", lambda r, d: objects.batch_upsert(b, _kind(r), d), True),
        ("POST", OBJ + "/batch/archive", lambda r, d: objects.batch_archive(b, _kind(r), d), True),
        ("GET", OBJ + "/{objectId}", lambda r, _: objects.get_one(b, _kind(r), p(r, "objectId"), r.query_params),
         False),
        ("PATCH", OBJ + "/{objectId}",
         lambda r, d: objects.update_one(b, _kind(r), p(r, "objectId"), d, r.query_params), True),
        ("DELETE", OBJ + "/{objectId}", lambda r, _: objects.archive_one(b, _kind(r), p(r, "objectId")), False),
        ("POST", V4 + "/read", lambda r, d: assoc_v4.read(b, _kind(r, "fromObjectType"), _kind(r, "toObjectType"), d),
         True),
        ("POST", V4 + "/create", lambda r, d: assoc_v4.create(b, _kind(r, "fromObjectType"), _kind(r, "toObjectType"),
                                                              d), True),
        ("POST", V4 + "/associate/default",
         lambda r, d: assoc_v4.create_default(b, _kind(r, "fromObjectType"), _kind(r, "toObjectType"), d), True),
        ("POST", V4 + "/archive",
         lambda r, d: assoc_v4.archive(b, _kind(r, "fromObjectType"), _kind(r, "toObjectType"), d), True),
        ("GET", "/crm/v3/owners/", lambda r, _: meta.owners_page(b, r.query_params), False),
        ("GET", "/crm/v3/owners", lambda r, _: meta.owners_page(b, r.query_params), False),
        ("GET", "/crm/v3/owners/{ownerId}", lambda r, _: meta.owner_one(b, p(r, "ownerId"), r.query_params), False),
        ("GET", "/crm/v3/pipelines/{objectType}", lambda r, _: meta.pipelines(b, _kind(r)), False),
        ("GET", "/crm/v3/pipelines/{objectType}/{pipelineId}",
         lambda r, _: meta.pipeline_one(b, _kind(r), p(r, "pipelineId")), False),
        ("GET", "/crm/v3/pipelines/{objectType}/{pipelineId}/stages",
         lambda r, _: meta.stages(b, _kind(r), p(r, "pipelineId")), False),
        ("GET", "/crm/v3/pipelines/{objectType}/{pipelineId}/stages/{stageId}",
         lambda r, _: meta.stage_one(b, _kind(r), p(r, "pipelineId"), p(r, "stageId")), False),
        ("GET", "/crm/v3/properties/{objectType}", lambda r, _: properties.properties_all(b, _kind(r), r.query_params),
         False),
        # Groups before "{propertyName}": Starlette matches routes in order.
        ("GET", "/crm/v3/properties/{objectType}/groups", lambda r, _: meta.groups_all(b, _kind(r)), False),
        ("POST", "/crm/v3/properties/{objectType}/groups", lambda r, d: meta.group_create(b, _kind(r), d), True),
        ("GET", "/crm/v3/properties/{objectType}/groups/{groupName}",
         lambda r, _: meta.group_one(b, _kind(r), p(r, "groupName")), False),
        ("POST", "/crm/v3/properties/{objectType}", lambda r, d: properties.property_create(b, _kind(r), d), True),
        ("GET", "/crm/v3/properties/{objectType}/{propertyName}",
         lambda r, _: properties.property_one(b, _kind(r), p(r, "propertyName")), False),
        ("PATCH", "/crm/v3/properties/{objectType}/{propertyName}",
         lambda r, d: properties.property_update(b, _kind(r), p(r, "propertyName"), d), True),
        ("DELETE", "/crm/v3/properties/{objectType}/{propertyName}",
         lambda r, _: properties.property_archive(b, _kind(r), p(r, "propertyName")), False),
        ("GET", "/account-info/v3/details", lambda r, _: (200, b.portal.details()), False),
        ("GET", "/account-info/v3/api-usage/daily/private-apps", lambda r, _: (200, _daily_usage(b)), False),
    ]
    routes = [Route(path, endpoint(work, body=has_body), methods=[method], name=f"{method} {path}")
              for method, path, work, has_body in table]
    return Starlette(routes=routes), routes
