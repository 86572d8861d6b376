"""Owners, pipelines and property groups routes.

- ``GET /crm/v3/owners/`` (the SDK's ``owners_api.get_page`` adds the slash) and ``GET /crm/v3/owners``
  (the path in the spec,
   HubSpot/HubSpot-public-api-spec-collection PublicApiSpecs/CRM/Crm Owners/Rollouts/146888/v3/crmOwners.json):
  ``email``, ``after``, ``limit`` (<= 500), ``archived=true`` lists only deactivated owners (facts §2).
- ``GET /crm/v3/pipelines/deals`` (+ one pipeline, its stages) (facts §2, §3).
- property groups (property definitions themselves: properties.py).
"""

from __future__ import annotations

import re

from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.errors import ApiError, not_found, validation_error
from connector.sandbox.hubspot.schema import ObjectType
from connector.sandbox.hubspot.shapes import query_bool

OWNER_LIMIT_MAX = 500
_PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def owners_page(b: Backend, query) -> tuple[int, dict]:
    try:
        limit = int(query.get("limit", "100"))
        after = int(query.get("after", "0"))
    except ValueError:
        raise validation_error("limit and after must be integers") from None
    if not 1 <= limit <= OWNER_LIMIT_MAX:
        raise validation_error(f"limit must be between 1 and {OWNER_LIMIT_MAX}")
    archived = query_bool(query, "archived")
    email = (query.get("email") or "").lower()
    chosen = [o for o in sorted(b.owners.values(), key=lambda o: int(o.id))
              if (not o.active) == archived and (not email or o.email.lower() == email) and int(o.id) >= after]
    body: dict = {"results": [o.to_json() for o in chosen[:limit]]}
    if len(chosen) > limit:
        body["paging"] = {"next": {"after": chosen[limit].id, "link": f"?after={chosen[limit].id}"}}
    return 200, body


def owner_one(b: Backend, owner_id: str, query) -> tuple[int, dict]:
    by_user = query.get("idProperty") == "userId"
    owner = next((o for o in b.owners.values() if (str(o.user_id) if by_user else o.id) == owner_id), None)
    if owner is None or (not owner.active) != query_bool(query, "archived"):
        raise not_found(f"Owner {owner_id} not found")
    return 200, owner.to_json()


def _deals_only(kind: ObjectType) -> None:
    if kind.name != "deals":
        raise validation_error(f"This portal has pipelines for deals only, not {kind.name}")


def pipelines(b: Backend, kind: ObjectType) -> tuple[int, dict]:
    _deals_only(kind)
    created = _portal_created(b)
    return 200, {"results": [p.to_json(n, created) for n, p in enumerate(b.pipelines.values())]}


def _pipeline(b: Backend, kind: ObjectType, pipeline_id: str):
    _deals_only(kind)
    pipeline = b.pipelines.get(pipeline_id)
    if pipeline is None:
        raise not_found(f"Unable to find pipeline {pipeline_id}")
    return pipeline


def pipeline_one(b: Backend, kind: ObjectType, pipeline_id: str) -> tuple[int, dict]:
    pipeline = _pipeline(b, kind, pipeline_id)
    return 200, pipeline.to_json(list(b.pipelines).index(pipeline_id), _portal_created(b))


def stages(b: Backend, kind: ObjectType, pipeline_id: str) -> tuple[int, dict]:
    return 200, {"results": pipeline_one(b, kind, pipeline_id)[1]["stages"]}


def stage_one(b: Backend, kind: ObjectType, pipeline_id: str, stage_id: str) -> tuple[int, dict]:
    found = [s for s in stages(b, kind, pipeline_id)[1]["results"] if s["id"] == stage_id]
    if not found:
        raise not_found(f"Unable to find stage {stage_id} in pipeline {pipeline_id}")
    return 200, found[0]


def _portal_created(b: Backend) -> int:
    return min((p.created_ms for props in b.store.schema.values() for p in props.values()), default=0)


# --- property groups -------------------------------------------------------------------------
# POST/GET /crm/v3/properties/{objectType}/groups: {name, label, displayOrder, archived}; 201 on
# create, 409 when the name is taken [DOC: https://developers.hubspot.com/docs/api/crm/properties].
# Groups that seeded properties name exist implicitly, as a portal's default groups do.

def _groups(b: Backend, kind: ObjectType) -> dict[str, dict]:
    implied = {p.group_name: {"name": p.group_name, "label": p.group_name, "displayOrder": -1, "archived": False}
               for p in b.store.schema[kind.name].values()}
    return implied | b.groups.get(kind.name, {})


def groups_all(b: Backend, kind: ObjectType) -> tuple[int, dict]:
    return 200, {"results": list(_groups(b, kind).values())}


def group_one(b: Backend, kind: ObjectType, name: str) -> tuple[int, dict]:
    group = _groups(b, kind).get(name)
    if group is None:
        raise not_found(f"Unable to find property group with name {name} on {kind.name}")
    return 200, group


def group_create(b: Backend, kind: ObjectType, body: object) -> tuple[int, dict]:
    if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
        raise validation_error("Missing required fields: name, label", propertyName=["name", "label"])
    name = str(body["name"])
    if not _PROPERTY_NAME.match(name):
        raise validation_error(f"Property group name {name!r} must be lower case letters, digits and underscores")
    if name in _groups(b, kind):
        raise ApiError(409, f"Property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
    group = {"name": name, "label": str(body["label"]), "displayOrder": int(body.get("displayOrder", -1)),
             "archived": False}
    b.groups.setdefault(kind.name, {})[name] = group
    return 201, group
