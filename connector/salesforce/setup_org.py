"""``afterclose setup`` against a live org: create AfterClose's own custom fields through the
Tooling API (and add the values AfterClose writes to its own picklists that lack them), give
the integration user access to every field AfterClose uses through the "AfterClose
Integration" permission set, and assign it. Safe to repeat: everything is looked up
before it is created (facts §7; docs/salesforce-adapter.md, "Setup").

- ``GET tooling/query?q=SELECT ... FROM CustomField WHERE TableEnumOrId IN (...) AND
  DeveloperName IN (...)``: which of the fields exist, hidden by field-level security or not.
- ``POST tooling/sobjects/CustomField {FullName, Metadata}``: needs Customize Application
  [DOC: https://developer.salesforce.com/docs/atlas.en-us.234.0.api_meta.meta/api_meta/meta_modify_metadata_perm.htm].
  A refusal (403, or an INSUFFICIENT_ACCESS code) stops the creating: the rest is left for the
  deployable package (``setup --write-package``, setup_package.py).
- ``PermissionSet``, ``FieldPermissions`` (``ParentId``, ``SobjectType``, ``Field``,
  ``PermissionsRead``, ``PermissionsEdit``) and ``PermissionSetAssignment`` (``AssigneeId``,
  ``PermissionSetId``) are ordinary sObjects: read by SOQL, written by sObject Collections
  [DOC: https://developer.salesforce.com/docs/atlas.en-us.252.0.object_reference.meta/object_reference/sforce_api_objects_fieldpermissions.htm].
A created field is invisible to the integration user until the permission set grants it
[2ND: simple-salesforce#621, #681; restforce#353], so the grants come after the fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce import format_soql

from connector.errors import AuthError, CrmError
from connector.mapping import FieldMap
from connector.salesforce import setup_design as design
from connector.salesforce.client import SalesforceClient
from connector.salesforce.writes import COLLECTION_MAX, check_reply

REFUSAL_CODES = frozenset({"INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY", "API_DISABLED_FOR_ORG",
                           "INSUFFICIENT_PRIVILEGES", "NOT_AUTHORIZED"})
"""Codes that mean "this user may not", whatever the HTTP status (the exact code the Tooling
API gives a user without Customize Application is not documented: any of these stops creating)."""

Described = Mapping[str, Mapping[str, Mapping]]


@dataclass
class OrgSetup:
    """What one setup run did, line by line, and whether Salesforce refused this user anything."""

    lines: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """What the user may not do (the package, deployed by an admin, does it instead)."""
    known: set[str] = field(default_factory=set)
    """Fields AfterClose uses that are known to exist, "object.field" in lower case (Task fields
    as task.x__c), hidden by field-level security or not."""
    created: set[str] = field(default_factory=set)
    """The fields this run created, the same way."""


def may_not(error: CrmError) -> bool:
    return (isinstance(error, AuthError) and error.status == 403) or (error.error_code or "") in REFUSAL_CODES


def existing_custom_fields(client: SalesforceClient, fields: Iterable[tuple[str, str]]) -> set[str] | None:
    """Which of these (sObject, field) custom fields exist, as "object.field" in lower case (an
    Activity field counts for Task); None when this user cannot read the Tooling API's
    CustomField (without View Setup it is an unknown type)."""
    by_table: dict[str, set[str]] = {}
    for sobject, name in fields:
        if name.endswith("__c"):
            table = "Activity" if sobject in ("Task", "Event") else sobject
            by_table.setdefault(table, set()).add(name[:-3])
    if not by_table:
        return set()
    names = sorted({n for names in by_table.values() for n in names})
    soql = format_soql("SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE TableEnumOrId IN {} "
                       "AND DeveloperName IN {}", sorted(by_table), names)
    try:
        reply = client.restful("tooling query", "tooling/query/", params={"q": soql})
    except CrmError as error:
        if may_not(error) or error.status in (400, 404):
            return None
        raise
    found = set()
    for row in reply.get("records") or []:
        table, name = str(row.get("TableEnumOrId")), f"{row.get('DeveloperName')}__c"
        if name[:-3] in by_table.get(table, ()):
            found.add(f"{'task' if table == 'Activity' else table.lower()}.{name.lower()}")
    return found


def known_fields(client: SalesforceClient, fieldmap: FieldMap, described: Described) -> set[str]:
    """The fields AfterClose uses that exist, "object.field" in lower case: the ones describe
    shows, and the custom ones the Tooling API shows although field-level security hides them."""
    used = [(g.sobject, g.name) for g in design.wanted_grants(fieldmap)]
    visible = {f"{s}.{n}".lower() for s, n in used if n in described.get(s, {})}
    return visible | (existing_custom_fields(client, [(s, n) for s, n in used if n not in described.get(s, {})])
                      or set())


def create_fields(client: SalesforceClient, wanted: Sequence[design.FieldDesign], described: Described,
                  report: OrgSetup) -> None:
    for item in wanted:
        key = f"{item.sobject}.{item.name}".lower()
        if item.name in described.get(item.sobject, {}):
            report.lines.append(f"exists {item.sobject}.{item.name}")
            report.known.add(key)
            continue
        if key in report.known:
            report.lines.append(f"exists {item.sobject}.{item.name} (hidden from the integration user until "
                                "the permission set below grants it)")
            continue
        if report.refused:  # refused once: the same user is refused again
            report.lines.append(f"not created {item.sobject}.{item.name}: {describe_kind(item)}")
            continue
        try:
            client.restful("tooling create", "tooling/sobjects/CustomField", method="POST",
                           json={"FullName": item.full_name, "Metadata": dict(item.metadata)})
        except CrmError as error:
            if error.error_code == "DUPLICATE_DEVELOPER_NAME":
                report.lines.append(f"exists {item.sobject}.{item.name}")
                report.known.add(key)
            elif may_not(error):
                report.refused.append(f"create custom fields ({error.error_code or error.status}: the integration "
                                      "user needs the Customize Application permission)")
                report.lines.append(f"not created {item.sobject}.{item.name}: {describe_kind(item)}")
            elif error.status == 400:
                report.lines.append(f"cannot create {item.sobject}.{item.name} ({item.mapping_key}): Salesforce "
                                    f"said {error.error_code}: {error}")
            else:
                raise
            continue
        report.known.add(key)
        report.created.add(key)
        where = f"on {item.table}: " if item.table != item.sobject else ""
        report.lines.append(f"created {item.sobject}.{item.name} ({where}{describe_kind(item)})")


def describe_kind(item: design.FieldDesign) -> str:
    """How an admin reads the field's type: ``Text(255), External ID, Unique, case-insensitive``."""
    m = item.metadata
    kind = str(m["type"])
    if kind == "Text":
        kind = f"Text({m['length']})"
    elif kind == "LongTextArea":
        kind = f"Long Text Area({m['length']})"
    elif kind == "Number":
        kind = f"Number({m['precision']}, {m['scale']})"
    elif kind == "Picklist":
        values = m["valueSet"]["valueSetDefinition"]["value"]  # type: ignore[index]
        kind = f"Picklist: {', '.join(v['fullName'] for v in values)}"
    flags = [label for key, label in (("externalId", "External ID"), ("unique", "Unique")) if m.get(key)]
    if m.get("unique"):
        flags.append("case-sensitive" if m.get("caseSensitive") else "case-insensitive")
    return ", ".join([kind, *flags])


# -- values of AfterClose's own picklists ------------------------------------------------------------

def add_picklist_values(client: SalesforceClient, wanted: Sequence[design.FieldDesign], described: Described,
                        report: OrgSetup) -> None:
    """An own picklist that exists without a value AfterClose writes gets it (Tooling API update of
    the field's Metadata, the values it has kept). Read through the Tooling API, so a field hidden
    from the integration user is mended too; fields created in this run have every value."""
    for item in wanted:
        wanted_values = design.picklist_values(item)
        key = f"{item.sobject}.{item.name}".lower()
        live = described.get(item.sobject, {}).get(item.name)
        if not wanted_values or key in report.created or (live is None and key not in report.known):
            continue
        if live is not None and not design.missing_values(item, live):
            continue
        where = f"{item.sobject}.{item.name}"
        unseen = ", ".join(design.missing_values(item, live) if live is not None else wanted_values)
        if report.refused:
            report.lines.append(f"not added to {where}: value(s) {unseen}")
            continue
        row = _field_row(client, item)
        if row is None:
            report.refused.append("read custom fields through the Tooling API (it needs View Setup and "
                                  "Configuration)")
            report.lines.append(f"not added to {where}: value(s) {unseen}")
            continue
        metadata = row.get("Metadata") or {}
        have = {str(v.get("fullName")) for v in ((metadata.get("valueSet") or {}).get("valueSetDefinition") or {})
                .get("value") or []}
        absent = [value for value in wanted_values if value not in have]
        if not absent:
            continue
        try:
            client.restful("tooling update", f"tooling/sobjects/CustomField/{row['Id']}", method="PATCH",
                           json={"Metadata": design.with_values_added(metadata, absent)})
        except CrmError as error:
            if not may_not(error) and error.status != 400:
                raise
            if may_not(error):
                report.refused.append(f"change custom fields ({error.error_code or error.status}: the integration "
                                      "user needs the Customize Application permission)")
            report.lines.append(f"not added to {where}: value(s) {', '.join(absent)} ({error.error_code}: {error})")
            continue
        report.lines.append(f"added value(s) {', '.join(absent)} to {where}")


def _field_row(client: SalesforceClient, item: design.FieldDesign) -> dict | None:
    """The field's CustomField row with its Metadata (one row: the Tooling API's rule for Metadata)."""
    soql = format_soql("SELECT Id, Metadata FROM CustomField WHERE TableEnumOrId = {} AND DeveloperName = {}",
                       item.table, item.name[:-3])
    try:
        reply = client.restful("tooling query", "tooling/query/", params={"q": soql})
    except CrmError as error:
        if may_not(error) or error.status in (400, 404):
            return None
        raise
    records = reply.get("records") or []
    return records[0] if len(records) == 1 else None


# -- the permission set -----------------------------------------------------------------------------

def grants(fieldmap: FieldMap, described: Described, known: set[str]) -> list[design.FieldGrant]:
    """The FieldPermissions rows the permission set must hold, edit only where it can be had."""
    out = []
    for grant in design.wanted_grants(fieldmap):
        if design.grantable(grant, described, known):
            out.append(design.FieldGrant(sobject=grant.sobject, name=grant.name,
                                         edit=design.edit_allowed(grant, described)))
    return out


def _create(client: SalesforceClient, label: str, records: list[dict]) -> list[Mapping[str, Any]]:
    return _collections(client, "POST", label, records)


def _update(client: SalesforceClient, label: str, records: list[dict]) -> list[Mapping[str, Any]]:
    return _collections(client, "PATCH", label, records)


def _collections(client: SalesforceClient, method: str, label: str, records: list[dict]) -> list[Mapping[str, Any]]:
    """Records created (POST) or updated (PATCH) through sObject Collections, 200 a call, each
    on its own (allOrNone false): one refused record does not stop the others."""
    results: list[Mapping[str, Any]] = []
    for start in range(0, len(records), COLLECTION_MAX):
        chunk = records[start:start + COLLECTION_MAX]
        reply = client.restful(f"composite/sobjects:{label}", "composite/sobjects", method=method,
                               json={"allOrNone": False, "records": chunk})
        results += check_reply(reply, len(chunk), "composite/sobjects")
    return results


def _why(result: Mapping[str, Any]) -> str:
    errors = result.get("errors") or [{}]
    return f"{errors[0].get('statusCode')}: {errors[0].get('message')}"


def _refused(result: Mapping[str, Any]) -> bool:
    return any((e.get("statusCode") or "") in REFUSAL_CODES for e in result.get("errors") or [])


def _records(client: SalesforceClient, soql: str) -> list[dict]:
    page = client.query(soql)
    records = list(page.get("records") or [])
    while not page.get("done", True) and page.get("nextRecordsUrl"):
        page = client.query_more(page["nextRecordsUrl"])
        records += page.get("records") or []
    return records


def permission_set(client: SalesforceClient, report: OrgSetup) -> str | None:
    """The permission set's id, created if missing; None when this user may not create it."""
    soql = format_soql("SELECT Id FROM PermissionSet WHERE Name = {}", design.PERMISSION_SET_NAME)
    try:
        found = _records(client, soql)
    except CrmError as error:  # PermissionSet unknown to this user (INVALID_TYPE), or refused
        if not (may_not(error) or error.status == 400):
            raise
        report.refused.append(f"read permission sets ({error.error_code}: it needs View Setup and Configuration)")
        return None
    if found:
        report.lines.append(f"exists permission set {design.PERMISSION_SET_NAME}")
        return str(found[0]["Id"])
    [result] = _create(client, "permission set", [{
        "attributes": {"type": "PermissionSet"}, "Name": design.PERMISSION_SET_NAME,
        "Label": design.PERMISSION_SET_LABEL, "Description": design.PERMISSION_SET_DESCRIPTION}])
    if result.get("success"):
        report.lines.append(f"created permission set {design.PERMISSION_SET_NAME} ({design.PERMISSION_SET_LABEL})")
        return str(result["id"])
    found = _records(client, soql)  # created meanwhile (a retried create, a second setup)
    if found:
        report.lines.append(f"exists permission set {design.PERMISSION_SET_NAME}")
        return str(found[0]["Id"])
    report.refused.append(f"create the permission set {design.PERMISSION_SET_NAME} ({_why(result)})")
    return None


def field_permissions(client: SalesforceClient, parent: str, wanted: list[design.FieldGrant],
                      report: OrgSetup) -> None:
    """Create the rows that are missing, widen the ones that grant less (never narrow a row an
    admin widened)."""
    live = {str(r["Field"]).lower(): r for r in _records(client, format_soql(
        "SELECT Id, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions WHERE ParentId = {}", parent))}
    creates, updates = [], []
    for grant in wanted:
        row = live.get(grant.field.lower())
        if row is None:
            creates.append((grant, {"attributes": {"type": "FieldPermissions"}, "ParentId": parent,
                                    "SobjectType": grant.sobject, "Field": grant.field,
                                    "PermissionsRead": True, "PermissionsEdit": grant.edit}))
        elif not row.get("PermissionsRead") or (grant.edit and not row.get("PermissionsEdit")):
            updates.append((grant, {"attributes": {"type": "FieldPermissions"}, "Id": row["Id"],
                                    "PermissionsRead": True, "PermissionsEdit": grant.edit}))
    failed = []
    for kind, pending, send in (("create", creates, _create), ("update", updates, _update)):
        if not pending:
            continue
        for (grant, _), result in zip(pending, send(client, f"field permissions {kind}", [r for _, r in pending]),
                                      strict=True):
            if not result.get("success"):
                failed.append((grant, result))
    done = len(creates) + len(updates) - len(failed)
    in_place = len(wanted) - len(creates) - len(updates)
    report.lines.append(f"field permissions in {design.PERMISSION_SET_NAME}: {done} granted now, {in_place} already "
                        f"in place ({len(wanted)} fields AfterClose reads or writes)")
    if any(_refused(result) for _, result in failed):
        report.refused.append(f"grant field permissions in {design.PERMISSION_SET_NAME} (the integration user "
                              "needs Manage Profiles and Permission Sets)")
    for grant, result in failed:
        report.lines.append(f"not granted {grant.field} ({'read, edit' if grant.edit else 'read'}): {_why(result)}")


def assignment(client: SalesforceClient, parent: str, user_id: str, report: OrgSetup) -> None:
    soql = format_soql("SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = {} AND PermissionSetId = {}",
                       user_id, parent)
    if _records(client, soql):
        report.lines.append(f"{design.PERMISSION_SET_NAME} is assigned to the integration user {user_id}")
        return
    [result] = _create(client, "permission set assignment", [{
        "attributes": {"type": "PermissionSetAssignment"}, "AssigneeId": user_id, "PermissionSetId": parent}])
    if result.get("success") or _records(client, soql):
        report.lines.append(f"assigned {design.PERMISSION_SET_NAME} to the integration user {user_id}")
        return
    report.refused.append(f"assign {design.PERMISSION_SET_NAME} to the integration user {user_id} ({_why(result)}; "
                          "it needs Assign Permission Sets)")


def run(client: SalesforceClient, fieldmap: FieldMap, described: Described, user_id: str) -> OrgSetup:
    """Fields, then the permission set and its grants, then the assignment."""
    report = OrgSetup()
    wanted, not_custom = design.own_fields(fieldmap)
    report.lines.extend(f"cannot create {line}" for line in not_custom)
    report.known |= known_fields(client, fieldmap, described)
    create_fields(client, wanted, described, report)
    add_picklist_values(client, wanted, described, report)
    parent = permission_set(client, report)
    if parent is not None:
        field_permissions(client, parent, grants(fieldmap, described, report.known), report)
        assignment(client, parent, user_id, report)
    for what in report.refused:
        report.lines.append(f"Salesforce refused this user: {what}")
    if report.refused:
        report.lines.append("An admin can do the rest: run `afterclose setup --write-package DIR` and deploy the "
                            "package it writes (it prints the command)")
    return report
