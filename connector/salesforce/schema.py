"""The mapping against the org's live schema (``/sobjects/X/describe``), and setup advice.

Describe replies list each field's ``name``, ``type``, ``updateable``, ``externalId``,
``unique`` and ``picklistValues[{value, active}]`` (facts §4 "Objects";
[DOC: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm]).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connector.mapping import FieldMap, FieldSpec, FieldType
from connector.model import RecordKind
from connector.port import SchemaProblem
from connector.salesforce import writes

SOBJECT = {RecordKind.DEAL: "Opportunity", RecordKind.COMPANY: "Account", RecordKind.CONTACT: "Contact"}

# Salesforce field types that can hold each canonical type. Reading is lenient where the text
# form parses (a date held in a datetime field); writing needs the exact kind.
_READABLE = {
    FieldType.TEXT: {"string", "textarea", "picklist", "multipicklist", "combobox", "email", "phone", "url"},
    FieldType.NUMBER: {"double", "int", "long", "currency", "percent"},
    FieldType.DATE: {"date", "datetime"},
    FieldType.DATETIME: {"datetime"},
    FieldType.ENUM: {"picklist", "combobox", "string"},
    FieldType.BOOL: {"boolean"},
}
_WRITABLE = {**_READABLE, FieldType.DATE: {"date"}, FieldType.ENUM: {"picklist", "combobox", "string", "textarea"}}

Describe = Mapping[str, Mapping]
"""Field name -> its describe entry, for one sObject."""


def fields_by_name(describe: Mapping) -> Describe:
    return {field["name"]: field for field in describe.get("fields", [])}


def objects_to_describe(fieldmap: FieldMap) -> list[str]:
    kinds = {spec.record for spec in fieldmap.fields.values()} | {RecordKind.DEAL}
    return [SOBJECT[kind] for kind in RecordKind if kind in kinds] + ["Task"]


def problems(fieldmap: FieldMap, described: Mapping[str, Describe]) -> list[SchemaProblem]:
    found: list[SchemaProblem] = []
    for spec in fieldmap.fields.values():
        sobject = SOBJECT[spec.record]
        found += _field_problems(spec, sobject, described[sobject].get(spec.crm_name))
    found += _task_key_problems(fieldmap.task_key_field, described["Task"])
    found += _task_picklist_problems(described["Task"], writes.task_picklist_values(fieldmap))
    return found


def _field_problems(spec: FieldSpec, sobject: str, live: Mapping | None) -> list[SchemaProblem]:
    where = dict(mapping_key=f"fields.{spec.canonical}", crm_field=f"{sobject}.{spec.crm_name}")
    if live is None:
        return [SchemaProblem(**where, problem="field does not exist (or this user cannot see it)")]
    allowed = _WRITABLE[spec.type] if spec.write else _READABLE[spec.type]
    if live.get("type") not in allowed:
        return [SchemaProblem(**where, problem=f"is a {live.get('type')} field; a {spec.type} value "
                                               f"needs one of {', '.join(sorted(allowed))}")]
    out = []
    if spec.write and not live.get("updateable"):
        out.append(SchemaProblem(**where, problem="is not updateable for this user (read-only, formula, "
                                                  "or field-level security); AfterClose writes it back"))
    if spec.write and spec.type is FieldType.ENUM and live.get("type") in ("picklist", "combobox"):
        missing = _missing_values(live, spec.options)
        if missing:
            out.append(SchemaProblem(**where, problem=f"picklist lacks values AfterClose writes: {', '.join(missing)}"))
    return out


def _missing_values(live: Mapping, wanted: Iterable[str]) -> list[str]:
    active = {entry.get("value") for entry in live.get("picklistValues") or [] if entry.get("active", True)}
    return [value for value in wanted if value not in active]


def _task_key_problems(key_field: str, task: Describe) -> list[SchemaProblem]:
    where = dict(mapping_key="task_key_field", crm_field=f"Task.{key_field}")
    live = task.get(key_field)
    if live is None:
        return [SchemaProblem(**where, problem="field does not exist (or this user cannot see it): `afterclose "
                                               "setup` creates it as Text(255), External ID, Unique and grants "
                                               "access, or writes the package an admin deploys")]
    out = []
    if not live.get("externalId"):
        out.append(SchemaProblem(**where, problem="is not marked External ID, so tasks cannot be upserted by key"))
    if not live.get("unique"):
        out.append(SchemaProblem(**where, problem="is not Unique, so Salesforce would not stop a duplicate task"))
    if not live.get("createable", True) or not live.get("updateable", True):
        out.append(SchemaProblem(**where, problem="is not writable for this user (field-level security)"))
    return out


def _task_picklist_problems(task: Describe, wanted: Mapping[str, tuple[str, ...]]) -> list[SchemaProblem]:
    out = []
    for field_name, values in wanted.items():
        live = task.get(field_name)
        if live is None or live.get("type") not in ("picklist", "combobox"):
            continue  # standard Task fields; an org without them fails loudly on write
        missing = _missing_values(live, values)
        if missing:
            out.append(SchemaProblem(mapping_key=f"task.{field_name.lower()}", crm_field=f"Task.{field_name}",
                                     problem=f"picklist lacks values AfterClose writes: {', '.join(missing)}"))
    return out
