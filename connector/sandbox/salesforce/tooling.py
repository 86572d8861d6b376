"""Custom fields through the Tooling API: the ``CustomField`` metadata an integration's setup
routine creates and queries (facts §7).

[DOC: https://developer.salesforce.com/docs/atlas.en-us.210.0.api_tooling.meta/api_tooling/tooling_api_objects_customfield.htm]
- Create: ``POST /tooling/sobjects/CustomField`` with ``{"FullName": "Account.X__c", "Metadata":
  {label, type, length, precision, scale, externalId, unique, caseSensitive, required, valueSet,
  ...}}`` -> 201 ``{id, success, errors, warnings, infos}``.
- Task and Event custom fields are defined on ``Activity`` ("Activity.X__c" appears on both);
  FullName "Task.X__c" is refused here [STRICT] (Salesforce keeps them on Activity).
- A field that exists already: 400 DUPLICATE_DEVELOPER_NAME ("You cannot create a custom object or
  custom field with a duplicate developer name", the SOAP StatusCode list).
- Query: ``GET /tooling/query?q=SELECT ... FROM CustomField WHERE DeveloperName = 'X' AND
  TableEnumOrId = 'Account'``; DeveloperName is the name without ``__c``; TableEnumOrId is the
  object's API name for standard objects (``Activity`` for activity fields). FullName and Metadata
  can be selected only when the result has at most one row (the Tooling API's rule).
- Names: letters, digits and underscores, starting with a letter, no double underscore, not ending
  with an underscore, at most 40 characters; Text 1..255 characters; LongTextArea 256..131,072
  characters and visibleLines 2..50 (required [DOC: Metadata API CustomField, visibleLines:
  "required for long text areas"]); Number precision 1..18 and
  scale 0..precision; externalId on Text, Number and Email; unique on Text, Number and Email.
Types served: Text, TextArea, LongTextArea, Number, Currency, Percent, Checkbox, Date, DateTime,
Email, Phone, Url, Picklist. Others (Lookup, formulas, ...) answer "not supported by this sandbox".
"""

from __future__ import annotations

import re

from .errors import ApiError
from .schema import ACTIVITY_OBJECTS, FieldDef, ObjectDef
from .setup_rules import SETUP_OBJECTS

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
TYPES = {"Text": "string", "TextArea": "textarea", "LongTextArea": "textarea", "Number": "double",
         "Currency": "currency", "Percent": "percent", "Checkbox": "boolean", "Date": "date",
         "DateTime": "datetime", "Email": "email", "Phone": "phone", "Url": "url", "Picklist": "picklist"}
FIXED_LENGTH = {"TextArea": 255, "Email": 80, "Phone": 40, "Url": 255}
KEY_TYPES = ("Text", "Number", "Email")
NO_CUSTOM_FIELDS = SETUP_OBJECTS | {"OpportunityStage"}
NAME_RULES = ("The Custom Field Name field can only contain underscores and alphanumeric characters. It must be "
              "unique, begin with a letter, not include spaces, not end with an underscore, and not contain two "
              "consecutive underscores.")


def _invalid(message: str, fields: list[str] | None = None, code: str = "FIELD_INTEGRITY_EXCEPTION") -> ApiError:
    return ApiError(400, code, message, fields or [])


def targets(catalog: dict[str, ObjectDef], full_name: object) -> tuple[str, str, list[str]]:
    """(table, field API name, objects the field lands on) for a FullName such as Account.X__c."""
    if not isinstance(full_name, str) or full_name.count(".") != 1:
        raise _invalid(f"FullName must be 'Object.Field__c', got {full_name!r}", ["FullName"])
    table, field = full_name.split(".")
    if not field.endswith("__c") or not NAME.fullmatch(field[:-3]) or "__" in field[:-3] or field[:-3].endswith("_"):
        raise _invalid(f"{full_name}: {NAME_RULES}", ["FullName"])
    if table.lower() == "activity":
        return "Activity", field, list(ACTIVITY_OBJECTS)
    odef = next((o for n, o in catalog.items() if n.lower() == table.lower()), None)
    if odef is None:
        raise _invalid(f"{full_name}: no object named {table}", ["FullName"], code="INVALID_TYPE")
    if odef.name in ACTIVITY_OBJECTS:
        raise _invalid(f"{full_name}: Task and Event custom fields are defined on Activity; use "
                       f"'Activity.{field}'", ["FullName"])
    if odef.name in NO_CUSTOM_FIELDS:
        raise _invalid(f"{full_name}: {odef.name} cannot have custom fields", ["FullName"], code="INVALID_TYPE")
    return odef.name, field, [odef.name]


def _int(metadata: dict, key: str, low: int, high: int, kind: str) -> int:
    value = metadata.get(key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _invalid(f"{kind} fields need {key} from {low} to {high} (got {value!r})", [key])
    return value


def _flag(metadata: dict, key: str) -> bool:
    value = metadata.get(key, False)
    if isinstance(value, str):
        value = value.lower() == "true"
    return bool(value)


def _picklist(metadata: dict) -> tuple[tuple[str, ...], bool, str | None]:
    value_set = metadata.get("valueSet") or {}
    definition = value_set.get("valueSetDefinition") or {}
    values = definition.get("value") or []
    names = tuple(str(v.get("fullName", "")) for v in values if isinstance(v, dict))
    if not names or not all(names):
        raise _invalid("Picklist fields need valueSet.valueSetDefinition.value [{fullName, label}, ...]", ["valueSet"])
    default = next((str(v["fullName"]) for v in values if isinstance(v, dict) and _flag(v, "default")), None)
    return names, _flag(value_set, "restricted"), default


def field_from_metadata(field: str, metadata: object) -> FieldDef:
    """The sandbox's FieldDef for a CustomField's Metadata (400 naming the key when it is invalid)."""
    if not isinstance(metadata, dict):
        raise _invalid("Metadata must be an object: {label, type, ...}", ["Metadata"])
    kind, label = metadata.get("type"), metadata.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > 40:
        raise _invalid("Metadata.label is required (at most 40 characters)", ["label"])
    if kind not in TYPES:
        raise _invalid(f"not supported by this sandbox: field type {kind!r} (served: {', '.join(TYPES)})",
                       ["type"], code="INVALID_TYPE" if kind is None else "FIELD_INTEGRITY_EXCEPTION")
    options: dict = {"label": label, "custom": True, "nillable": not _flag(metadata, "required")}
    if kind == "Text":
        options["length"] = _int(metadata, "length", 1, 255, kind)
    elif kind == "LongTextArea":
        options["length"] = _int(metadata, "length", 256, 131072, kind)
        _int(metadata, "visibleLines", 2, 50, kind)  # required by the Metadata API for long text areas
    elif kind in FIXED_LENGTH:
        options["length"] = FIXED_LENGTH[kind]
    elif kind in ("Number", "Currency", "Percent"):
        options["precision"] = _int(metadata, "precision", 1, 18, kind)
        options["scale"] = _int(metadata, "scale", 0, options["precision"], kind)
    elif kind == "Checkbox":
        options.update(nillable=False, default=_flag(metadata, "defaultValue"))
    elif kind == "Picklist":
        names, restricted, default = _picklist(metadata)
        options.update(picklist=names, restricted=restricted, default=default)
    for key in ("externalId", "unique"):
        if _flag(metadata, key) and kind not in KEY_TYPES:
            raise _invalid(f"{key} is only allowed on {', '.join(KEY_TYPES)} fields", [key])
    options.update(external_id=_flag(metadata, "externalId"), unique=_flag(metadata, "unique"),
                   case_sensitive=_flag(metadata, "caseSensitive") and _flag(metadata, "unique"))
    return FieldDef(name=field, type=TYPES[kind], **options)


_KIND_OF = {"string": "Text", "double": "Number", "currency": "Currency", "percent": "Percent",
            "boolean": "Checkbox", "date": "Date", "datetime": "DateTime", "email": "Email", "phone": "Phone",
            "url": "Url", "picklist": "Picklist"}


def metadata_of(fd: FieldDef) -> dict:
    """The Metadata the Tooling API shows for a field (seeded ones included)."""
    kind = "LongTextArea" if fd.type == "textarea" and fd.length > 255 else (
        "TextArea" if fd.type == "textarea" else _KIND_OF.get(fd.type, "Text"))
    metadata: dict = {"label": fd.label, "type": kind, "required": not fd.nillable, "externalId": fd.external_id,
                      "unique": fd.unique, "caseSensitive": fd.case_sensitive, "description": None,
                      "inlineHelpText": None, "length": fd.length or None,
                      "precision": fd.precision or None, "scale": fd.scale if fd.precision else None}
    if kind == "Picklist":
        metadata["valueSet"] = {"restricted": fd.restricted, "valueSetDefinition": {
            "sorted": False, "value": [{"fullName": v, "label": v, "default": v == fd.default} for v in fd.picklist]}}
    if kind == "Checkbox":
        metadata["defaultValue"] = "true" if fd.default else "false"
    return metadata


def tooling_record(table: str, fd: FieldDef) -> dict:
    """The CustomField row for a field on ``table`` (Activity for Task/Event fields)."""
    return {"DeveloperName": fd.name[:-3], "TableEnumOrId": table, "EntityDefinitionId": table,
            "NamespacePrefix": None, "ManageableState": "unmanaged", "Description": None,
            "InlineHelpText": None, "Length": float(fd.length) if fd.length else None,
            "FullName": f"{table}.{fd.name}", "Metadata": metadata_of(fd)}
