"""What ``afterclose setup`` wants in a Salesforce org, as plain values: AfterClose's own custom
fields (the Tooling API's ``CustomField`` Metadata, which is also the Metadata API's element
set) and the field permissions of the "AfterClose Integration" permission set. Pure: the live
set-up (setup_org.py) and the deployable package (setup_package.py) are two renderings of it.

Sources (docs/salesforce-adapter.md, "Setup"; facts §7):
- CustomField Metadata: fullName, label, type, length, precision, scale, externalId, unique,
  caseSensitive, valueSet{restricted, valueSetDefinition{value[{fullName, default, label}]}},
  visibleLines (long text areas), defaultValue (checkboxes)
  [DOC: https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/customfield.htm]
  [DOC: https://developer.salesforce.com/docs/atlas.en-us.210.0.api_tooling.meta/api_tooling/tooling_api_objects_customfield.htm].
- Task and Event custom fields are defined on ``Activity`` ("Activity.X__c"); their field
  permissions name ``Task.X__c`` [2ND: https://github.com/dxatscale/sfpowerkit/issues/446, #517].
- A field permission can only name a field that can carry field-level security: describe says
  so in ``permissionable``; required and system fields cannot
  [DOC: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connector.mapping import FieldMap, FieldSpec, FieldType
from connector.mapping.model import humanize
from connector.model import RENEWAL_DEAL_KEY
from connector.salesforce.schema import SOBJECT
from connector.salesforce.soql import DEAL_FIELDS

PERMISSION_SET_NAME = "AfterClose_Integration"
PERMISSION_SET_LABEL = "AfterClose Integration"
PERMISSION_SET_DESCRIPTION = ("Field access for AfterClose's integration user: every field AfterClose reads "
                              "or writes (created by afterclose setup).")
FIELD_DESCRIPTION = "Used by AfterClose (created by afterclose setup)."
TASK_KEY_LABEL = "AfterClose Key"
LONG_TEXT_LENGTH = 32768
LONG_TEXT_LINES = 3
NUMBER_PRECISION = 18
LABEL_MAX = 40

TASK_FIELDS_USED = ("Subject", "Description", "ActivityDate", "OwnerId", "WhatId", "WhoId", "Status",
                    "Priority", "Type", "IsClosed")
"""What connector/salesforce/writes.py sets on a Task and soql.TASK_FIELDS reads back."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldDesign:
    """One of AfterClose's own custom fields as it must be created."""

    sobject: str
    """Where AfterClose uses it: Opportunity, Account, Contact or Task."""
    name: str
    metadata: Mapping[str, object]
    """The CustomField Metadata (Tooling API body and Metadata API elements, without fullName)."""
    mapping_key: str

    @property
    def table(self) -> str:
        """Where Salesforce defines it: Activity for Task fields."""
        return "Activity" if self.sobject in ("Task", "Event") else self.sobject

    @property
    def full_name(self) -> str:
        return f"{self.table}.{self.name}"


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldGrant:
    """One FieldPermissions row of the permission set."""

    sobject: str
    name: str
    edit: bool

    @property
    def field(self) -> str:
        return f"{self.sobject}.{self.name}"


def own_fields(fieldmap: FieldMap) -> tuple[list[FieldDesign], list[str]]:
    """AfterClose's own fields (``afterclose = true`` and the task key), once each, and one line
    for each owned mapping entry that cannot be a custom field (a standard field's name)."""
    designs: dict[tuple[str, str], FieldDesign] = {}
    refused: list[str] = []
    for spec in fieldmap.fields.values():
        if not spec.afterclose_owned:
            continue
        sobject = SOBJECT[spec.record]
        if not spec.crm_name.endswith("__c"):
            refused.append(f"{sobject}.{spec.crm_name} (fields.{spec.canonical}) is marked afterclose = true but "
                           "is not a custom field name (ending in __c): AfterClose can only create custom fields; "
                           "set afterclose = false or map it to a custom field")
            continue
        metadata = renewal_key_metadata(spec) if spec.canonical == RENEWAL_DEAL_KEY else field_metadata(spec)
        designs.setdefault((sobject, spec.crm_name.lower()), FieldDesign(
            sobject=sobject, name=spec.crm_name, metadata=metadata, mapping_key=f"fields.{spec.canonical}"))
    key = fieldmap.task_key_field
    designs.setdefault(("Task", key.lower()), FieldDesign(sobject="Task", name=key, metadata=task_key_metadata(),
                                                          mapping_key="task_key_field"))
    return list(designs.values()), refused


def task_key_metadata() -> dict[str, object]:
    """Text(255), External ID (tasks are upserted by key), Unique and case-insensitive (keys are
    AfterClose's own; Salesforce then refuses a second task with the same key in any case)."""
    return {"label": TASK_KEY_LABEL, "type": "Text", "length": 255, "externalId": True, "unique": True,
            "caseSensitive": False, "required": False, "description": FIELD_DESCRIPTION}


def renewal_key_metadata(spec: FieldSpec) -> dict[str, object]:
    """The renewal deal key on Opportunity: like the task key, Text(255), External ID (renewal
    Opportunities are upserted by it, deal_creates.py) and Unique."""
    return {**task_key_metadata(), "label": (spec.label or humanize(spec.canonical))[:LABEL_MAX]}


def field_metadata(spec: FieldSpec) -> dict[str, object]:
    label = (spec.label or humanize(spec.canonical))[:LABEL_MAX]
    base: dict[str, object] = {"label": label, "required": False, "externalId": False,
                               "description": FIELD_DESCRIPTION}
    if spec.type is FieldType.TEXT:
        return {**base, "type": "LongTextArea", "length": LONG_TEXT_LENGTH, "visibleLines": LONG_TEXT_LINES}
    if spec.type is FieldType.NUMBER:
        return {**base, "type": "Number", "precision": NUMBER_PRECISION, "scale": 0}
    if spec.type is FieldType.DATE:
        return {**base, "type": "Date"}
    if spec.type is FieldType.DATETIME:
        return {**base, "type": "DateTime"}
    if spec.type is FieldType.BOOL:
        # A formula in Metadata, so text: "false" (the element Salesforce requires on checkboxes).
        return {**base, "type": "Checkbox", "defaultValue": "false"}
    # The API name is what AfterClose writes; the label is what a rep reads in the picklist.
    values = [{"fullName": value, "default": False, "label": humanize(value)} for value in spec.options]
    return {**base, "type": "Picklist",
            "valueSet": {"restricted": True, "valueSetDefinition": {"sorted": False, "value": values}}}


def wanted_grants(fieldmap: FieldMap) -> list[FieldGrant]:
    """Every field AfterClose reads or writes, with edit where it writes, before filtering by
    what the org lets a permission set name (``grantable``)."""
    grants: dict[tuple[str, str], FieldGrant] = {}

    def want(sobject: str, name: str, edit: bool) -> None:
        old = grants.get((sobject, name.lower()))
        grants[(sobject, name.lower())] = FieldGrant(sobject=sobject, name=name, edit=edit or bool(old and old.edit))

    for name in DEAL_FIELDS:
        if "." not in name:
            want("Opportunity", name, False)
    for spec in fieldmap.fields.values():
        want(SOBJECT[spec.record], spec.crm_name, spec.write)
    for name in TASK_FIELDS_USED:
        want("Task", name, name != "IsClosed")
    want("Task", fieldmap.task_key_field, True)
    if RENEWAL_DEAL_KEY in fieldmap.fields:  # renewal Opportunities are created with these (deal_creates.py)
        deal_type = fieldmap.fields.get("deal_type")
        for name in ("Amount", "AccountId", fieldmap.fields[RENEWAL_DEAL_KEY].crm_name,
                     *([deal_type.crm_name] if deal_type else [])):
            want("Opportunity", name, True)
    return list(grants.values())


def grantable(grant: FieldGrant, described: Mapping[str, Mapping[str, Mapping]], created: set[str]) -> bool:
    """A field a permission set may name: one describe calls ``permissionable`` (older replies
    without the flag: custom, or optional and not computed), or an own field known to exist but
    hidden by field-level security (``created``, by "Object.Field" in lower case)."""
    live = described.get(grant.sobject, {}).get(grant.name)
    if live is None:
        return grant.field.lower() in created
    if "permissionable" in live:
        return bool(live["permissionable"])
    if grant.name == "OwnerId" or live.get("type") == "id" or live.get("calculated"):
        return False
    return bool(live.get("custom")) or bool(live.get("nillable") and (live.get("createable") or live.get("updateable")))


def edit_allowed(grant: FieldGrant, described: Mapping[str, Mapping[str, Mapping]]) -> bool:
    """Edit where AfterClose writes, except on a computed field (read-only for everyone: asking
    edit on it is refused). ``updateable`` is not the test: it already reflects this user's
    field-level security, which is what the grant is for."""
    live = described.get(grant.sobject, {}).get(grant.name)
    return grant.edit and not (live is not None and live.get("calculated"))


def picklist_values(item: FieldDesign) -> list[str]:
    """The values AfterClose writes to one of its own picklists ([] for other types)."""
    value_set = item.metadata.get("valueSet")
    if not isinstance(value_set, Mapping):
        return []
    return [str(v["fullName"]) for v in value_set["valueSetDefinition"]["value"]]


def missing_values(item: FieldDesign, live: Mapping | None) -> list[str]:
    """The values of an own picklist its live describe entry lacks (active ones count)."""
    if live is None:
        return []
    have = {v.get("value") for v in live.get("picklistValues") or [] if v.get("active", True)}
    return [value for value in picklist_values(item) if value not in have]


def with_values_added(metadata: Mapping[str, object], values: list[str]) -> dict[str, object]:
    """``metadata`` (a live field's, or a design's) with ``values`` appended to its picklist, the
    values it has kept in their order with their labels."""
    out = dict(metadata)
    value_set = dict(out.get("valueSet") or {})  # type: ignore[call-overload]
    definition = dict(value_set.get("valueSetDefinition") or {})
    entries = list(definition.get("value") or [])
    entries += [{"fullName": value, "default": False, "label": humanize(value)} for value in values]
    definition["value"] = entries
    value_set["valueSetDefinition"] = definition
    out["valueSet"] = value_set
    return out


def with_live_values(item: FieldDesign, live: Mapping) -> FieldDesign:
    """An own picklist as it is (its active values and their labels) plus the values AfterClose
    writes that it lacks: what the package deploys so that no value an admin added is lost."""
    kept = [{"fullName": v["value"], "default": bool(v.get("defaultValue")), "label": v.get("label") or v["value"]}
            for v in live.get("picklistValues") or [] if v.get("active", True)]
    base = dict(item.metadata)
    base["valueSet"] = {**base["valueSet"], "valueSetDefinition": {  # type: ignore[dict-item]
        **base["valueSet"]["valueSetDefinition"], "value": kept}}  # type: ignore[index]
    metadata = with_values_added(base, missing_values(item, live))
    return FieldDesign(sobject=item.sobject, name=item.name, metadata=metadata, mapping_key=item.mapping_key)
