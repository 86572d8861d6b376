"""Which HubSpot scopes AfterClose's token lacks, by name.

HubSpot refuses a call the token has no scope for with 403 and category ``MISSING_SCOPES``; the
body names what is needed in ``errors[].context.requiredGranularScopes`` (or, in older answers,
``requiredScopes``) [DOC: https://developers.hubspot.com/docs/api-reference/error-handling].
``missing_permissions`` makes one cheap *read* per scope the jobs need and collects those names.
Write scopes cannot be probed without writing; they are listed in docs/permissions.md, and a
missing one surfaces on the first run as an ``AuthError`` carrying HubSpot's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest

from connector.errors import AuthError

MISSING_SCOPES = "MISSING_SCOPES"


def _search(object_type: str) -> Callable[[Any], Any]:
    def probe(client: Any) -> Any:
        request = PublicObjectSearchRequest(filter_groups=[FilterGroup(filters=[
            Filter(property_name="hs_object_id", operator="HAS_PROPERTY")])], properties=["hs_object_id"], limit=1)
        return client.call(f"POST /crm/v3/objects/{object_type}/search", "crm.objects.search_api", "do_search",
                           search=True, object_type=object_type, public_object_search_request=request)

    return probe


def _properties(object_type: str) -> Callable[[Any], Any]:
    return lambda client: client.call(f"GET /crm/v3/properties/{object_type}", "crm.properties.core_api", "get_all",
                                      object_type=object_type, archived=False)


def _owners(client: Any) -> Any:
    return client.call("GET /crm/v3/owners/", "crm.owners.owners_api", "get_page", limit=1, archived=False)


READ_PROBES: dict[str, Callable[[Any], Any]] = {
    "crm.objects.deals.read": _search("deals"),
    "crm.schemas.deals.read": _properties("deals"),
    "crm.objects.companies.read": _search("companies"),
    "crm.schemas.companies.read": _properties("companies"),
    "crm.objects.contacts.read": _search("contacts"),
    "crm.objects.owners.read": _owners,
    "tasks (crm.objects.tasks.read or crm.objects.contacts.read)": _search("tasks"),
}
"""Scope -> one call that needs it. The task scope's name differs between app generations
(docs/permissions.md), so it is named by what HubSpot answers when it is missing."""


def scopes_named_in(error: AuthError) -> list[str]:
    """The scopes a MISSING_SCOPES answer asks for (from the SDK exception it was made from)."""
    body = getattr(error.__cause__, "body", None)
    try:
        parsed = json.loads(body) if isinstance(body, (str, bytes)) else {}
    except ValueError:
        parsed = {}
    names: list[str] = []
    for detail in parsed.get("errors") or []:
        context = detail.get("context") or {} if isinstance(detail, dict) else {}
        for key in ("requiredGranularScopes", "requiredScopes"):
            names += [str(n) for n in context.get(key) or []]
    return list(dict.fromkeys(names))


def missing_permissions(client: Any) -> list[str]:
    """Scopes whose read probe HubSpot refused with 403, named as HubSpot names them."""
    missing: list[str] = []
    for scope, probe in READ_PROBES.items():
        try:
            probe(client)
        except AuthError as error:
            if error.status != 403:
                raise  # 401: the token itself is wrong; check reports that on its own
            missing += scopes_named_in(error) or [scope]
    return list(dict.fromkeys(missing))
