"""The mapping against the org's live schema (``/sobjects/X/describe``), and setup advice.

Describe replies list each field's ``name``, ``type``, ``updateable``, ``externalId``,
``unique`` and ``picklistValues[{value, active}]`` (facts §4 "Objects";
[DOC: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm]).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connector.mapping import FieldMap, FieldSpec
from connector.mapping.compat import CrmField, Note, Refusal, kind_of, verdict, writes_values
from connector.model import Provider, RecordKind
from connector.port import SchemaProblem
from connector.salesforce import writes

SOBJECT = {RecordKind.DEAL: "Opportunity", RecordKind.COMPANY: "Account", RecordKind.CONTACT: "Contact"}

# Which describe types can hold each canonical type: the one table, connector/mapping/compat.py.

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
    where: dict[str, Any] = dict(mapping_key=f"fields.{spec.canonical}", crm_field=f"{sobject}.{spec.crm_name}")
    if live is None:
        return [SchemaProblem(**where, problem="field does not exist (or this user cannot see it)")]
    found = verdict(spec.type, writes_values(spec.type, spec.options), crm_field(live, own=spec.afterclose_owned),
                    write=spec.write)
    if isinstance(found, Refusal):
        return [SchemaProblem(**where, problem=f"mapped as {spec.type}, the field is {live.get('type')}: {found.text}")]
    if spec.write and not live.get("updateable"):
        return [SchemaProblem(**where, problem="is not updateable for this user (read-only, formula, "
                                               "or field-level security); AfterClose writes it back")]
    if isinstance(found, Note):
        return [SchemaProblem(**where, problem=found.text, note=True, write_as=found.write_as)]
    return []


def crm_field(live: Mapping, *, own: bool = False) -> CrmField:
    """A describe entry as the compatibility table sees it (active picklist values only)."""
    active = tuple(entry.get("value") for entry in live.get("picklistValues") or [] if entry.get("active", True))
    return CrmField(name=str(live.get("name", "")), label=str(live.get("label") or live.get("name", "")),
                    type=str(live.get("type", "")), kind=kind_of(Provider.SALESFORCE, str(live.get("type", ""))),
                    options=active, writable=bool(live.get("updateable", True)), own=own,
                    provider=Provider.SALESFORCE)


def _missing_values(live: Mapping, wanted: Iterable[str]) -> list[str]:
    active = {entry.get("value") for entry in live.get("picklistValues") or [] if entry.get("active", True)}
    return [value for value in wanted if value not in active]


def _task_key_problems(key_field: str, task: Describe) -> list[SchemaProblem]:
    where: dict[str, Any] = dict(mapping_key="task_key_field", crm_field=f"Task.{key_field}")
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
