"""The route table: one Controls label per route (and method) so tests can count and target calls."""

from __future__ import annotations

from starlette.routing import Route, Router

from . import routes_collections as collections
from . import routes_data as data
from . import routes_login as login
from . import routes_replication as replication
from . import routes_tooling as tooling
from .errors import not_found
from .web import error_response, route

DATA = "/services/data/{apiversion}"


def _both(path: str) -> list[str]:
    """simple-salesforce adds a trailing slash to some paths and not to others: serve both."""
    return [path, path + "/"]


def build_app(sb) -> Router:
    table = [
        ("/services/data", {"GET": "versions"}, data.versions, False),
        (DATA, {"GET": "resources"}, data.resources, True),
        (f"{DATA}/limits", {"GET": "limits"}, data.limits, True),
        (f"{DATA}/query", {"GET": "query"}, data.query, True),
        (f"{DATA}/queryAll", {"GET": "query_all"}, data.query_all, True),
        (f"{DATA}/query/{{locator}}", {"GET": "query_more"}, data.query_more, True),
        (f"{DATA}/queryAll/{{locator}}", {"GET": "query_more"}, data.query_more, True),
        (f"{DATA}/sobjects", {"GET": "describe_global"}, data.describe_all, True),
        (f"{DATA}/sobjects/{{sobject}}/describe", {"GET": "describe"}, data.describe, True),
        (f"{DATA}/sobjects/{{sobject}}/updated", {"GET": "sobject_updated"}, replication.updated, True),
        (f"{DATA}/sobjects/{{sobject}}/deleted", {"GET": "sobject_deleted"}, replication.deleted, True),
        (f"{DATA}/sobjects/{{sobject}}", {"GET": "sobject_info", "POST": "sobject_create"}, data.sobject_root, True),
        (f"{DATA}/sobjects/{{sobject}}/{{record_id}}",
         {"GET": "sobject_get", "PATCH": "sobject_update", "DELETE": "sobject_delete"}, data.sobject_record, True),
        (f"{DATA}/sobjects/{{sobject}}/{{field}}/{{value:path}}",
         {"GET": "sobject_get_by_external_id", "PATCH": "sobject_upsert", "DELETE": "sobject_delete_by_external_id"},
         data.sobject_external, True),
        (f"{DATA}/composite/sobjects",
         {"POST": "collections_create", "PATCH": "collections_update", "DELETE": "collections_delete"},
         collections.collections, True),
        (f"{DATA}/composite/sobjects/{{sobject}}", {"GET": "collections_retrieve", "POST": "collections_retrieve"},
         collections.collections_retrieve, True),
        (f"{DATA}/composite/sobjects/{{sobject}}/{{field}}", {"PATCH": "collections_upsert"},
         collections.collections_upsert, True),
        (f"{DATA}/tooling/query", {"GET": "tooling_query"}, tooling.tooling_query, True),
        (f"{DATA}/tooling/sobjects/{{sobject}}", {"POST": "tooling_create"}, tooling.tooling_create, True),
        (f"{DATA}/tooling/sobjects/{{sobject}}/{{record_id}}", {"GET": "tooling_get", "PATCH": "tooling_update"},
         tooling.tooling_record, True),
        ("/services/oauth2/token", {"POST": "oauth_token"}, login.oauth_token, False),
        ("/services/oauth2/revoke", {"POST": "oauth_revoke", "GET": "oauth_revoke"}, login.oauth_revoke, False),
        # One label per route: SOAP logout() calls count under soap_login too.
        ("/services/Soap/u/{version}", {"POST": "soap_login"}, login.soap_call, False),
        ("/services/Soap/u/{version}/{org}", {"POST": "soap_login"}, login.soap_call, False),
        ("/id/{org_id}/{user_id}", {"GET": "identity"}, login.identity, False),
    ]
    routes = [Route(path, route(sb, labels, handler, data_api=data_api), methods=list(labels))
              for base, labels, handler, data_api in table for path in _both(base)]
    return Router(routes=routes, redirect_slashes=False, default=_not_found)


async def _not_found(scope, receive, send) -> None:
    """Unknown resources answer in Salesforce's shape, not Starlette's plain text."""
    await error_response(not_found())(scope, receive, send)
