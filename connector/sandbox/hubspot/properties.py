"""``/crm/v3/properties/{objectType}``: list, create, read, update (PATCH) and archive definitions.

Every field of ``PropertyCreate`` and ``PropertyUpdate`` [SPEC HubSpot/HubSpot-public-api-spec-collection,
PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json] is either applied and read back, or
refused with a 400 naming it; a field neither schema declares is refused too (stricter reading:
HubSpot's reaction to unknown fields is not documented). Never silently dropped.

- create 201, an existing name 409 OBJECT_ALREADY_EXISTS, at most 10 unique-value properties per
  object type [DOC https://developers.hubspot.com/changelog/unique-properties-for-contacts];
- ``type``/``fieldType`` from the spec's enums, in the combinations the properties guide allows
  (property_rules.py); ``hasUniqueValue`` "Once set, this can't be changed" [SPEC], so PATCH refuses it;
- a unique task property follows the portal's task-uniqueness mode (uniqueness.py);
- calculated properties (``calculationFormula``, fieldType ``calculation_equation``) are refused:
  the sandbox does not compute them, and pretending to would be worse;
- PATCH changing ``type`` converts every stored value, or refuses when one cannot be converted
  (which record, which value); HubSpot-defined properties are read-only definitions.
"""

from __future__ import annotations

import re
from dataclasses import replace

from connector.sandbox.hubspot import timefmt, uniqueness
from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.errors import ApiError, not_found, validation_error
from connector.sandbox.hubspot.property_rules import (
    DATA_SENSITIVITIES,
    NUMBER_DISPLAY_HINTS,
    TEXT_DISPLAY_HINTS,
    OptionDef,
    type_problem,
)
from connector.sandbox.hubspot.schema import MAX_UNIQUE_PROPERTIES, ObjectType, PropertyDef, ValueProblem, normalise
from connector.sandbox.hubspot.shapes import query_bool
from connector.sandbox.hubspot.store import IMPLIED_UNIQUE

_PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REQUIRED = ("name", "label", "type", "fieldType", "groupName")
_COMMON = {"label", "description", "groupName", "displayOrder", "hidden", "formField", "options", "type", "fieldType",
           "numberDisplayHint", "textDisplayHint", "showCurrencySymbol", "currencyPropertyName", "calculationFormula"}
CREATE_FIELDS = frozenset(_COMMON | {"name", "hasUniqueValue", "externalOptions", "referencedObjectType",
                                     "dataSensitivity"})
UPDATE_FIELDS = frozenset(_COMMON)
_STRINGS = {"label": "label", "description": "description", "groupName": "group_name",
            "currencyPropertyName": "currency_property_name"}
_BOOLS = {"hidden": "hidden", "formField": "form_field", "showCurrencySymbol": "show_currency_symbol"}
_ENUMS = {"numberDisplayHint": ("number_display_hint", NUMBER_DISPLAY_HINTS),
          "textDisplayHint": ("text_display_hint", TEXT_DISPLAY_HINTS),
          "dataSensitivity": ("data_sensitivity", DATA_SENSITIVITIES)}


# --- routes ----------------------------------------------------------------------------------

def properties_all(b: Backend, kind: ObjectType, query) -> tuple[int, dict]:
    archived = query_bool(query, "archived")
    return 200, {"results": [p.to_json() for p in b.store.schema[kind.name].values() if p.archived == archived]}


def property_one(b: Backend, kind: ObjectType, name: str) -> tuple[int, dict]:
    return 200, _live(b, kind, name).to_json()


def property_create(b: Backend, kind: ObjectType, body: object) -> tuple[int, dict]:
    body = _object(body)
    _refuse_unknown(body, CREATE_FIELDS, "PropertyCreate")
    missing = [k for k in _REQUIRED if not body.get(k)]
    if missing:
        raise validation_error(f"Missing required fields: {', '.join(missing)}", propertyName=missing)
    name = _text(body, "name")
    if not _PROPERTY_NAME.match(name):
        raise validation_error(f"Property name {name!r} must be lower case letters, digits and underscores",
                               propertyName=[name])
    schema = b.store.schema[kind.name]
    if name in schema and not schema[name].archived:
        raise ApiError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS",
                       context={"propertyName": [name]})
    now = timefmt.now_ms()
    prop = PropertyDef(name=name, label="", type="string", field_type="text", created_ms=now,
                       has_unique_value=_bool(body, "hasUniqueValue", False),
                       external_options=_bool(body, "externalOptions", False))
    prop = _owner_reference(prop, body)
    prop = _apply(prop, body)
    prop = uniqueness.on_create(b.task_uniqueness, kind.name, prop)
    _check_unique_budget(b, kind, prop)
    add_property(b, kind.name, prop)
    return 201, prop.to_json()


def property_update(b: Backend, kind: ObjectType, name: str, body: object) -> tuple[int, dict]:
    prop = _live(b, kind, name)
    if prop.hubspot_defined:
        raise validation_error(f"{name} is a HubSpot-defined property; its definition is read-only",
                               propertyName=[name])
    body = _object(body)
    if "hasUniqueValue" in body:
        raise validation_error("hasUniqueValue cannot be changed once a property exists; create a new property "
                               "instead", propertyName=["hasUniqueValue"])
    _refuse_unknown(body, UPDATE_FIELDS, "PropertyUpdate")
    updated = replace(_apply(prop, body), updated_ms=timefmt.now_ms())
    redefine(b, kind.name, updated, problem=validation_error)
    return 200, updated.to_json()


def property_archive(b: Backend, kind: ObjectType, name: str) -> tuple[int, None]:
    prop = _live(b, kind, name)
    if prop.hubspot_defined:
        raise validation_error(f"{name} is a HubSpot-defined property and cannot be archived")
    b.store.schema[kind.name][name] = replace(prop, archived=True)
    b.store.types[kind.name].unique.pop(name, None)
    return 204, None


# --- shared with the sandbox's define_property ----------------------------------------------

def add_property(b: Backend, type_name: str, prop: PropertyDef) -> None:
    """Put ``prop`` in the schema (a new name, or replacing a definition whose values fit it)."""
    existing = b.store.schema[type_name].get(prop.name)
    if existing is not None and not existing.archived:
        redefine(b, type_name, prop, problem=validation_error)
        return
    b.store.schema[type_name][prop.name] = prop
    if prop.has_unique_value:
        b.store.types[type_name].unique.setdefault(prop.name, {})


def redefine(b: Backend, type_name: str, prop: PropertyDef, *, problem) -> None:
    """Replace a definition; when its type changes every stored value is converted, or nothing
    changes and ``problem(message)`` is raised naming the first value that does not fit."""
    old = b.store.schema[type_name][prop.name]
    changes_type = old.type != prop.type
    unique = b.store.types[type_name].unique
    try:
        holders = _unique_holders(b, type_name, prop, convert=changes_type) if prop.has_unique_value else None
        if changes_type:
            b.store.rewrite_values(type_name, prop.name, lambda text: normalise(prop, text))
    except ValueProblem as why:
        change = f"change {prop.name} from {old.type} to {prop.type}" if changes_type else f"redefine {prop.name}"
        raise problem(f"cannot {change}: {why.message}") from None
    if holders is not None:
        unique[prop.name] = holders
    elif (type_name, prop.name) not in IMPLIED_UNIQUE:
        unique.pop(prop.name, None)
    b.store.schema[type_name][prop.name] = prop


def _unique_holders(b: Backend, type_name: str, prop: PropertyDef, *, convert: bool) -> dict[str, int]:
    """value -> id of the live record holding it, under ``prop``; ValueProblem when two share one."""
    holders: dict[str, int] = {}
    for rec in b.store.types[type_name].records.values():
        value = rec.props.get(prop.name)
        if rec.archived or value is None:
            continue
        if convert:
            stored = normalise(prop, value)
            value = stored.text if stored else None
            if value is None:
                continue
        if value in holders:
            raise ValueProblem("VALUE_NOT_UNIQUE", f"{prop.name} cannot have unique values: {type_name} "
                                                   f"{holders[value]} and {rec.id} both hold {value!r}")
        holders[value] = rec.id
    return holders


# --- reading a definition --------------------------------------------------------------------

def _live(b: Backend, kind: ObjectType, name: str) -> PropertyDef:
    prop = b.store.schema[kind.name].get(name)
    if prop is None or prop.archived:
        raise not_found(f"Unable to find property with name {name} on {kind.name}")
    return prop


def _object(body: object) -> dict:
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: a property definition must be an object")
    return body


def _refuse_unknown(body: dict, known: frozenset[str], schema_name: str) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise validation_error(f"Unrecognized field(s) for {schema_name}: {', '.join(unknown)}; "
                               f"known fields: {', '.join(sorted(known))}", propertyName=unknown)


def _text(body: dict, key: str) -> str:
    value = body[key]
    if not isinstance(value, str):
        raise validation_error(f"{key} must be a string, got {value!r}", propertyName=[key])
    return value


def _bool(body: dict, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise validation_error(f"{key} must be true or false, got {value!r}", propertyName=[key])
    return value


def _owner_reference(prop: PropertyDef, body: dict) -> PropertyDef:
    """``externalOptions`` with ``referencedObjectType: OWNER`` makes an owner property [SPEC]."""
    reference = body.get("referencedObjectType")
    if not prop.external_options and reference is None:
        return prop
    if prop.external_options and reference == "OWNER":
        return replace(prop, referenced_object_type="OWNER")
    raise validation_error("externalOptions needs referencedObjectType OWNER (and the reverse); the sandbox "
                           "models no other external options", propertyName=["externalOptions", "referencedObjectType"])


def _apply(prop: PropertyDef, body: dict) -> PropertyDef:
    """``prop`` with every field of ``body`` applied, each checked; callers refused unknown fields."""
    if "calculationFormula" in body or body.get("fieldType") == "calculation_equation":
        raise validation_error("The sandbox does not compute calculated properties (calculationFormula, fieldType "
                               "calculation_equation); define a plain property instead",
                               propertyName=["calculationFormula"])
    changes: dict = {}
    for key, attribute in _STRINGS.items():
        if key in body:
            changes[attribute] = _text(body, key)
    for key, attribute in _BOOLS.items():
        if key in body:
            changes[attribute] = _bool(body, key, False)
    for key, (attribute, allowed) in _ENUMS.items():
        if key in body:
            if body[key] not in allowed:
                raise validation_error(f"{key} {body[key]!r} is not one of {sorted(allowed)}", propertyName=[key])
            changes[attribute] = body[key]
    if "displayOrder" in body:
        if not isinstance(body["displayOrder"], int) or isinstance(body["displayOrder"], bool):
            raise validation_error(f"displayOrder must be an integer, got {body['displayOrder']!r}",
                                   propertyName=["displayOrder"])
        changes["display_order"] = body["displayOrder"]
    if "options" in body:
        changes["options"] = _options(body["options"])
    type_, field_type = body.get("type", prop.type), body.get("fieldType", prop.field_type)
    why = type_problem(str(type_), str(field_type))
    if why:
        raise validation_error(why, propertyName=["type", "fieldType"])
    changes["type"], changes["field_type"] = type_, field_type
    updated = replace(prop, **changes)
    if updated.type == "enumeration" and not updated.options and not updated.external_options:
        raise validation_error("enumeration properties need at least one option", propertyName=[prop.name])
    return updated


def _options(raw: object) -> tuple[OptionDef, ...]:
    """``OptionInput``: label, value and hidden required; displayOrder, description optional [SPEC]."""
    if not isinstance(raw, list):
        raise validation_error("options must be a list of {label, value, hidden}", propertyName=["options"])
    options, seen = [], set()
    for n, item in enumerate(raw):
        if not isinstance(item, dict):
            raise validation_error(f"options[{n}] must be an object", propertyName=["options"])
        missing = [k for k in ("label", "value", "hidden") if k not in item]
        if missing:
            raise validation_error(f"options[{n}] is missing {', '.join(missing)}", propertyName=["options"])
        unknown = sorted(set(item) - {"label", "value", "hidden", "displayOrder", "description"})
        if unknown:
            raise validation_error(f"options[{n}] has unrecognized field(s) {', '.join(unknown)}",
                                   propertyName=["options"])
        value = str(item["value"])
        if value in seen:
            raise validation_error(f"options[{n}] repeats the value {value!r}", propertyName=["options"])
        seen.add(value)
        order = item.get("displayOrder", n)
        options.append(OptionDef(label=str(item["label"]), value=value, hidden=bool(item["hidden"]),
                                 display_order=order if isinstance(order, int) else n,
                                 description=str(item.get("description") or "")))
    return tuple(options)


def _check_unique_budget(b: Backend, kind: ObjectType, prop: PropertyDef) -> None:
    if not prop.has_unique_value:
        return
    unique = sum(1 for p in b.store.schema[kind.name].values() if p.has_unique_value and not p.archived)
    if unique >= MAX_UNIQUE_PROPERTIES:
        raise validation_error(f"{kind.name} already has {MAX_UNIQUE_PROPERTIES} unique value properties, "
                               "the most allowed", propertyName=[prop.name])
