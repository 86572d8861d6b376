"""Which Salesforce permissions AfterClose's integration user lacks, by name.

Salesforce answers describe calls from the caller's point of view: an object the user cannot
create records of says ``createable: false``, a field hidden by field-level security is missing
from ``fields``, a field the user may read but not edit says ``updateable: false``
[DOC: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm].
So one describe per object the jobs touch tells ``afterclose check`` exactly which object or
field permission to grant (docs/permissions.md lists them per job). Nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.mapping import FieldMap
from connector.salesforce.schema import SOBJECT

TASK_FIELDS_WRITTEN = ("Subject", "Description", "ActivityDate", "OwnerId", "WhatId", "WhoId", "Status",
                       "Priority", "Type")
"""What connector/salesforce/writes.py sets on a Task (create, reschedule, close)."""


def required(fieldmap: FieldMap) -> dict[str, dict[str, tuple[str, ...]]]:
    """object -> {"object": needed object rights, field: needed field rights}."""
    needs: dict[str, dict[str, tuple[str, ...]]] = {"Task": {"object": ("read", "create", "edit")}}
    for field in (*TASK_FIELDS_WRITTEN, fieldmap.task_key_field):
        needs["Task"][field] = ("read", "edit")
    for spec in fieldmap.fields.values():
        if spec.optional:
            continue  # the jobs write around it; the schema check reports it as skipped, and why
        sobject = SOBJECT[spec.record]
        needs.setdefault(sobject, {"object": ("read",)})
        needs[sobject][spec.crm_name] = ("read", "edit") if spec.write else ("read",)
        if spec.write:
            needs[sobject]["object"] = ("read", "edit")
    needs.setdefault("Opportunity", {"object": ("read",)})
    return needs


def missing_from(describes: Mapping[str, Mapping[str, Any] | None], fieldmap: FieldMap) -> list[str]:
    """The rights the describes show missing, e.g. ``Task: create``, ``Opportunity.Handoff_Status__c: edit``."""
    missing: list[str] = []
    for sobject, needs in required(fieldmap).items():
        describe = describes.get(sobject)
        if not describe:
            missing.append(f"{sobject}: read")
            continue
        flags = {"read": describe.get("queryable", True), "create": describe.get("createable"),
                 "edit": describe.get("updateable")}
        missing += [f"{sobject}: {right}" for right in needs["object"] if not flags[right]]
        fields = {f["name"]: f for f in describe.get("fields", [])}
        for name, rights in needs.items():
            if name == "object":
                continue
            live = fields.get(name)
            if live is None:
                missing.append(f"{sobject}.{name}: read")
            elif "edit" in rights and not live.get("updateable"):
                missing.append(f"{sobject}.{name}: edit")
    return missing


def missing_permissions(client: Any, fieldmap: FieldMap) -> list[str]:
    """One describe per object the jobs touch (4 calls with the built-in mapping)."""
    from connector.errors import CrmError

    describes: dict[str, Mapping[str, Any] | None] = {}
    for sobject in required(fieldmap):
        try:
            describes[sobject] = client.restful("describe", f"sobjects/{sobject}/describe")
        except CrmError as error:
            if error.status not in (403, 404):  # 404 NOT_FOUND: the user cannot see the object at all
                raise
            describes[sobject] = None
    return missing_from(describes, fieldmap)
