"""Owners, pipelines and properties routes.

- ``GET /crm/v3/owners/`` (trailing slash; SDK ``owners_api.get_page``): ``email``, ``after``,
  ``limit`` (<= 500), ``archived=true`` lists only deactivated owners (facts §2).
- ``GET /crm/v3/pipelines/deals`` (+ one pipeline, its stages) (facts §2, §3).
- ``GET/POST /crm/v3/properties/{type}``, ``GET/PATCH/DELETE .../{name}``: create answers 201, an
  existing name 409 (brief); at most 10 unique-value properties per object type
  [DOC: https://developers.hubspot.com/changelog/unique-properties-for-contacts].
"""

from __future__ import annotations

import re
from dataclasses import replace

from connector.sandbox.hubspot import timefmt
from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.errors import ApiError, not_found, validation_error
from connector.sandbox.hubspot.schema import MAX_UNIQUE_PROPERTIES, PROPERTY_TYPES, ObjectType, PropertyDef
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


# --- properties ------------------------------------------------------------------------------

def properties_all(b: Backend, kind: ObjectType, query) -> tuple[int, dict]:
    archived = query_bool(query, "archived")
    props = [p.to_json() for p in b.store.schema[kind.name].values() if p.archived == archived]
    return 200, {"results": props}


def _property(b: Backend, kind: ObjectType, name: str) -> PropertyDef:
    prop = b.store.schema[kind.name].get(name)
    if prop is None or prop.archived:
        raise not_found(f"Unable to find property with name {name} on {kind.name}")
    return prop


def property_one(b: Backend, kind: ObjectType, name: str) -> tuple[int, dict]:
    return 200, _property(b, kind, name).to_json()


def property_create(b: Backend, kind: ObjectType, body: object) -> tuple[int, dict]:
    prop = _definition_from(body)
    schema = b.store.schema[kind.name]
    if prop.name in schema and not schema[prop.name].archived:
        raise ApiError(409, f"Property named '{prop.name}' already exists.", "OBJECT_ALREADY_EXISTS",
                       context={"propertyName": [prop.name]})
    if prop.has_unique_value:
        unique = sum(1 for p in schema.values() if p.has_unique_value and not p.archived)
        if unique >= MAX_UNIQUE_PROPERTIES:
            raise validation_error(f"{kind.name} already has {MAX_UNIQUE_PROPERTIES} unique value properties, "
                                   "the most allowed", propertyName=[prop.name])
    add_property(b, kind.name, replace(prop, created_ms=timefmt.now_ms()))
    return 201, schema[prop.name].to_json()


def add_property(b: Backend, type_name: str, prop: PropertyDef) -> None:
    b.store.schema[type_name][prop.name] = prop
    if prop.has_unique_value:
        b.store.types[type_name].unique.setdefault(prop.name, {})


def _definition_from(body: object) -> PropertyDef:
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: a property definition must be an object")
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        raise validation_error(f"Missing required fields: {', '.join(missing)}", propertyName=missing)
    name, type_ = str(body["name"]), str(body["type"])
    if not _PROPERTY_NAME.match(name):
        raise validation_error(f"Property name {name!r} must be lower case letters, digits and underscores")
    if type_ not in PROPERTY_TYPES:
        raise validation_error(f"type {type_!r} is not one of {sorted(PROPERTY_TYPES)}")
    options = tuple((str(o.get("label", o.get("value"))), str(o["value"])) for o in body.get("options") or []
                    if isinstance(o, dict) and "value" in o)
    if type_ == "enumeration" and not options:
        raise validation_error("enumeration properties need at least one option", propertyName=[name])
    return PropertyDef(name=name, label=str(body["label"]), type=type_, field_type=str(body["fieldType"]),
                       group_name=str(body["groupName"]), options=options,
                       has_unique_value=bool(body.get("hasUniqueValue", False)),
                       description=str(body.get("description") or ""))


def property_update(b: Backend, kind: ObjectType, name: str, body: object) -> tuple[int, dict]:
    prop = _property(b, kind, name)
    if prop.hubspot_defined:
        raise validation_error(f"{name} is a HubSpot-defined property; its definition is read-only")
    body = body if isinstance(body, dict) else {}
    changes = {}
    if "label" in body:
        changes["label"] = str(body["label"])
    if "description" in body:
        changes["description"] = str(body["description"])
    if "options" in body:
        changes["options"] = tuple((str(o.get("label", o["value"])), str(o["value"])) for o in body["options"])
    updated = replace(prop, **changes)
    b.store.schema[kind.name][name] = updated
    return 200, updated.to_json()


def property_archive(b: Backend, kind: ObjectType, name: str) -> tuple[int, None]:
    prop = _property(b, kind, name)
    if prop.hubspot_defined:
        raise validation_error(f"{name} is a HubSpot-defined property and cannot be archived")
    b.store.schema[kind.name][name] = replace(prop, archived=True)
    b.store.types[kind.name].unique.pop(name, None)
    return 204, None
