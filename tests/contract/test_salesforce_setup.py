"""`setup` on Salesforce through the adapter: AfterClose's own fields created through the Tooling
API, the "AfterClose Integration" permission set with a field permission for every field
AfterClose reads or writes, assigned to the integration user; idempotent; and, for a user who may
not, the same as a deployable SFDX source package checked against the mapping and the Metadata
API's element names (docs/salesforce-adapter.md, "Setup")."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from connector.mapping import FieldType
from connector.salesforce import setup_design as design
from connector.salesforce.schema import SOBJECT
from connector.sandbox.salesforce.permissions import UserPermissions
from tests.contract.salesforce_harness import open_harness

NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
NO_SETUP_RIGHTS = UserPermissions(customize_application=False, view_setup=False, manage_permission_sets=False,
                                  assign_permission_sets=False)
CUSTOM_FIELD_ELEMENTS = {"fullName", "label", "type", "length", "externalId", "unique", "caseSensitive", "precision",
                         "scale", "valueSet", "visibleLines", "defaultValue", "required", "description"}
"""The Metadata API's CustomField elements AfterClose may write
[DOC: https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/customfield.htm]."""
OWN_TYPES = {FieldType.TEXT: "LongTextArea", FieldType.NUMBER: "Number", FieldType.DATE: "Date",
             FieldType.ENUM: "Picklist"}


def _own(fieldmap) -> set[str]:
    """Every own field as "Object.Field" (Task fields on Activity), from the mapping itself."""
    names = {f"{SOBJECT[s.record]}.{s.crm_name}" for s in fieldmap.fields.values() if s.afterclose_owned}
    return names | {f"Activity.{fieldmap.task_key_field}"}


def _counts(sandbox) -> dict[str, int]:
    return {obj: len(sandbox.records(obj)) for obj in ("PermissionSet", "FieldPermissions",
                                                        "PermissionSetAssignment")}


def _custom_fields(sandbox) -> list[str]:
    return [r["FullName"] for r in sandbox.tooling_store.all("CustomField") if not r["IsDeleted"]]


# ----------------------------------------------------------------- a user with Customize Application
@pytest.mark.parametrize("need_grant", [True, False], ids=["new-fields-hidden", "new-fields-visible"])
def test_given_user_with_customize_application_when_setup_then_every_field_created_granted_and_visible(need_grant):
    with open_harness(afterclose_fields=False, new_fields_need_grant=need_grant) as h:
        assert h.adapter.check_schema()  # before: the own fields are missing
        lines = h.adapter.setup()
        assert "created Task.AfterClose_Key__c (on Activity: Text(255), External ID, Unique, case-insensitive)" in lines
        assert "created Opportunity.Handoff_Status__c (Picklist: complete, incomplete)" in lines
        assert "exists Opportunity.Decision_Criteria__c" in lines
        assert h.adapter.check_schema() == [] and h.adapter.missing_permissions() == []

        key = h.sandbox.catalog["Task"].field("AfterClose_Key__c")
        assert (key.external_id, key.unique, key.case_sensitive, key.length) == (True, True, False, 255)
        assert h.sandbox.catalog["Event"].field("AfterClose_Key__c") is not None  # defined on Activity
        [permission_set] = h.sandbox.records("PermissionSet")
        assert (permission_set["Name"], permission_set["Label"]) == ("AfterClose_Integration", "AfterClose Integration")
        rows = {r["Field"]: (r["PermissionsRead"], r["PermissionsEdit"]) for r in h.sandbox.records("FieldPermissions")}
        assert rows["Task.AfterClose_Key__c"] == (True, True) and "Activity.AfterClose_Key__c" not in rows
        assert rows["Opportunity.Handoff_Status__c"] == (True, True)
        assert rows["Opportunity.Decision_Criteria__c"] == (True, False)  # read, never written
        assert rows["Account.NPS_Score__c"] == (True, True)
        assert "Task.Status" not in rows  # required: field-level security cannot name it
        [assigned] = h.sandbox.records("PermissionSetAssignment")
        assert (assigned["AssigneeId"], assigned["PermissionSetId"]) == (h.sandbox.user_id, permission_set["Id"])


def test_given_setup_run_again_then_nothing_is_created_twice():
    with open_harness(afterclose_fields=False) as h:
        h.adapter.setup()
        first = h.sandbox.controls.snapshot()
        assert first == {"describe": 3, "resources": 1, "tooling_query": 1, "tooling_create": 11, "query": 3,
                         "collections_create": 3}  # the figures in docs/salesforce-adapter.md
        counts, fields = _counts(h.sandbox), sorted(_custom_fields(h.sandbox))
        creates = h.sandbox.controls.snapshot()["tooling_create"]
        again = h.adapter.setup()
        second = {k: v - first.get(k, 0) for k, v in h.sandbox.controls.snapshot().items()}
        assert {k: v for k, v in second.items() if v} == {"describe": 3, "resources": 1, "query": 3}
        assert not [line for line in again if line.startswith(("created", "assigned"))]
        assert "exists permission set AfterClose_Integration" in again
        assert any("0 granted now" in line for line in again)
        assert _counts(h.sandbox) == counts and sorted(_custom_fields(h.sandbox)) == fields
        assert h.sandbox.controls.snapshot()["tooling_create"] == creates
        assert h.adapter.check_schema() == []


def test_given_field_created_earlier_but_hidden_then_setup_grants_it_without_creating_it_again():
    with open_harness(afterclose_fields=False) as h:
        h.sandbox.create_custom_field("Activity.AfterClose_Key__c", design.task_key_metadata())
        assert "AfterClose_Key__c" not in {f["name"] for f in h.adapter._client.restful(
            "describe", "sobjects/Task/describe")["fields"]}
        lines = h.adapter.setup()
        assert any(line.startswith("exists Task.AfterClose_Key__c (hidden") for line in lines)
        assert _custom_fields(h.sandbox).count("Activity.AfterClose_Key__c") == 1
        assert h.adapter.check_schema() == []


def test_given_profile_without_custom_field_access_then_setup_grants_every_existing_field_it_uses():
    """An org whose profile grants no custom field: every field exists and is hidden, the admin's
    as well as AfterClose's; setup finds them through the Tooling API and grants them, creating none."""
    with open_harness(profile_grants_custom_fields=False) as h:
        assert {p.crm_field for p in h.adapter.check_schema()} >= {"Opportunity.Decision_Criteria__c",
                                                                   "Task.AfterClose_Key__c"}
        lines = h.adapter.setup()
        assert not [line for line in lines if line.startswith("created ") and "permission set" not in line]
        assert h.sandbox.controls.snapshot().get("tooling_create", 0) == 0
        assert h.adapter.check_schema() == [] and h.adapter.missing_permissions() == []


def test_given_a_grant_that_lacks_edit_then_setup_widens_it():
    with open_harness(afterclose_fields=False) as h:
        h.adapter.setup()
        row = next(r for r in h.sandbox.records("FieldPermissions") if r["Field"] == "Opportunity.Handoff_Status__c")
        h.sandbox.store.update("FieldPermissions", row["Id"], {"PermissionsEdit": False}, as_user=True)
        assert any("Handoff_Status__c" in str(p) for p in h.adapter.check_schema())
        lines = h.adapter.setup()
        assert any("1 granted now" in line for line in lines)
        assert h.adapter.check_schema() == []


# ------------------------------------------------------------ a user without Customize Application
def test_given_user_without_customize_application_then_nothing_is_written_and_setup_says_who_may():
    with open_harness(afterclose_fields=False, permissions=NO_SETUP_RIGHTS) as h:
        lines = h.adapter.setup()
        assert "not created Task.AfterClose_Key__c: Text(255), External ID, Unique, case-insensitive" in lines
        assert any("Customize Application" in line and "INSUFFICIENT_ACCESS" in line for line in lines)
        assert any("afterclose setup --write-package DIR" in line for line in lines)
        assert h.sandbox.controls.snapshot()["tooling_create"] == 1  # refused once: not asked again per field
        assert _counts(h.sandbox) == {"PermissionSet": 0, "FieldPermissions": 0, "PermissionSetAssignment": 0}
        assert {p.crm_field for p in h.adapter.check_schema()} >= {"Task.AfterClose_Key__c",
                                                                   "Opportunity.Handoff_Status__c"}


def test_given_user_who_may_create_fields_but_not_grant_them_then_the_fields_stay_hidden_and_setup_says_why():
    rights = UserPermissions(manage_permission_sets=False, assign_permission_sets=False)
    with open_harness(afterclose_fields=False, permissions=rights) as h:
        lines = h.adapter.setup()
        assert "created Task.AfterClose_Key__c (on Activity: Text(255), External ID, Unique, case-insensitive)" in lines
        assert any(line.startswith("Salesforce refused this user: create the permission set") for line in lines)
        problems = {p.crm_field: p.problem for p in h.adapter.check_schema()}
        assert "cannot see it" in problems["Task.AfterClose_Key__c"]


def _tag(name: str) -> str:
    return "{" + NS["md"] + "}" + name


def _xml(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag.startswith("{" + NS["md"] + "}")
    return root


def _children(element: ET.Element) -> dict[str, str]:
    return {child.tag.split("}")[1]: (child.text or "").strip() for child in element}


def test_given_user_without_customize_application_when_write_package_then_files_match_mapping_and_metadata_api(
        tmp_path):
    with open_harness(afterclose_fields=False, permissions=NO_SETUP_RIGHTS) as h:
        writes_before = h.write_calls()
        lines = h.adapter.write_setup_package(tmp_path)
        assert h.write_calls() == writes_before == 0
        fieldmap = h.fieldmap
    assert f"  cd {tmp_path} && sf project deploy start --source-dir force-app --target-org <your-org-alias>" in lines
    assert any("sf org assign permset --name AfterClose_Integration --on-behalf-of integration@afterclose.sandbox"
               in line for line in lines)
    base = tmp_path / "force-app" / "main" / "default"
    seeded = {f"Opportunity.{n}" for n in ("Decision_Criteria__c", "Customer_Goal__c", "Success_Criteria__c",
                                           "Renewal_Date__c")}
    expected = _own(fieldmap) - seeded  # the sandbox org already has the documented Opportunity inputs
    written = {f"{p.parent.parent.name}.{p.name.removesuffix('.field-meta.xml')}"
               for p in (base / "objects").glob("*/fields/*.field-meta.xml")}
    assert written == expected

    specs = {f"{SOBJECT[s.record]}.{s.crm_name}": s for s in fieldmap.fields.values() if s.afterclose_owned}
    for full_name in expected:
        table, name = full_name.split(".")
        root = _xml(base / "objects" / table / "fields" / f"{name}.field-meta.xml")
        assert root.tag == _tag("CustomField")
        values = _children(root)
        assert set(values) <= CUSTOM_FIELD_ELEMENTS, set(values) - CUSTOM_FIELD_ELEMENTS
        assert values["fullName"] == name and values["label"]
        if table == "Activity":
            assert {k: values[k] for k in ("type", "length", "externalId", "unique", "caseSensitive")} == {
                "type": "Text", "length": "255", "externalId": "true", "unique": "true", "caseSensitive": "false"}
            continue
        spec = specs[full_name]
        assert values["type"] == OWN_TYPES[spec.type] and values["externalId"] == "false"
        if spec.type is FieldType.TEXT:
            assert int(values["length"]) > 255 and int(values["visibleLines"]) >= 2
        if spec.type is FieldType.NUMBER:
            assert int(values["precision"]) >= 3 and values["scale"] == "0"
        if spec.type is FieldType.ENUM:
            value_set = root.find("md:valueSet", NS)
            assert value_set.find("md:restricted", NS).text == "true"
            options = [v.find("md:fullName", NS).text
                       for v in value_set.findall("md:valueSetDefinition/md:value", NS)]
            assert options == list(spec.options)
            assert all(v.find("md:label", NS).text for v in value_set.findall("md:valueSetDefinition/md:value", NS))

    permission_set = _xml(base / "permissionsets" / "AfterClose_Integration.permissionset-meta.xml")
    assert permission_set.tag == _tag("PermissionSet")
    assert permission_set.find("md:label", NS).text == "AfterClose Integration"
    rows = {}
    for row in permission_set.findall("md:fieldPermissions", NS):
        values = _children(row)
        assert set(values) == {"field", "readable", "editable"}
        rows[values["field"]] = (values["readable"], values["editable"])
    for spec in fieldmap.fields.values():
        field = f"{SOBJECT[spec.record]}.{spec.crm_name}"
        if spec.crm_name.endswith("__c"):
            assert rows[field] == ("true", "true" if spec.write else "false"), field
    assert rows[f"Task.{fieldmap.task_key_field}"] == ("true", "true")
    assert not any(field.startswith("Activity.") for field in rows)
    assert {"Task.Description", "Task.ActivityDate", "Task.WhatId", "Opportunity.Amount"} <= set(rows)
    assert "Task.Status" not in rows  # required: a permission set cannot name it (describe: permissionable false)

    manifest = _xml(tmp_path / "package.xml")
    assert manifest.tag == _tag("Package")
    types = {t.find("md:name", NS).text: {m.text for m in t.findall("md:members", NS)}
             for t in manifest.findall("md:types", NS)}
    assert types == {"CustomField": expected, "PermissionSet": {"AfterClose_Integration"}}
    assert manifest.find("md:version", NS).text == "59.0"
    project = json.loads((tmp_path / "sfdx-project.json").read_text())
    assert project["packageDirectories"] == [{"path": "force-app", "default": True}]
    assert "sf project deploy start --source-dir force-app" in (tmp_path / "README.txt").read_text()


def test_given_package_fields_then_the_sandbox_tooling_api_accepts_their_metadata():
    """The Metadata written to the package is the Metadata the Tooling API creates from: each
    field of the package, created in a fresh org, lands with its type and flags."""
    with open_harness(afterclose_fields=False) as h:
        wanted, refused = design.own_fields(h.fieldmap)
        assert refused == []
        for item in wanted:
            if item.name not in h.sandbox.catalog[item.sobject].fields:
                h.sandbox.create_custom_field(item.full_name, dict(item.metadata))
        status = h.sandbox.catalog["Opportunity"].field("Handoff_Status__c")
        assert (status.type, status.picklist, status.restricted) == ("picklist", ("complete", "incomplete"), True)
        assert h.sandbox.catalog["Opportunity"].field("Handoff_Missing__c").length == design.LONG_TEXT_LENGTH


def _older_referral_field(sandbox) -> None:
    """Opportunity.Referral_Status__c as an admin left it: without "declined", with a value of theirs."""
    [row] = [r for r in sandbox.tooling_store.all("CustomField") if r["FullName"] == "Opportunity.Referral_Status__c"]
    values = ["not_eligible", "eligible", "asked", "referred", "partner_program"]
    sandbox.update_custom_field(row["Id"], None, {"label": "Referral status", "type": "Picklist", "valueSet": {
        "restricted": True, "valueSetDefinition": {"value": [{"fullName": v, "label": v} for v in values]}}})


def test_given_own_picklist_without_a_value_afterclose_writes_then_setup_adds_it_and_keeps_the_admins():
    with open_harness() as h:
        _older_referral_field(h.sandbox)
        assert any(p.crm_field == "Opportunity.Referral_Status__c" for p in h.adapter.check_schema())
        lines = h.adapter.setup()
        assert "added value(s) declined to Opportunity.Referral_Status__c" in lines
        field = h.sandbox.catalog["Opportunity"].field("Referral_Status__c")
        assert field.picklist == ("not_eligible", "eligible", "asked", "referred", "partner_program", "declined")
        assert h.adapter.check_schema() == []
        assert not [line for line in h.adapter.setup() if line.startswith("added")]  # once


def test_given_own_picklist_without_a_value_and_no_rights_then_the_package_deploys_it_with_every_value(tmp_path):
    with open_harness(permissions=NO_SETUP_RIGHTS) as h:
        _older_referral_field(h.sandbox)
        lines = h.adapter.setup()
        assert "not added to Opportunity.Referral_Status__c: value(s) declined" in lines
        assert any(line.startswith("Salesforce refused this user: read custom fields") for line in lines)
        lines = h.adapter.write_setup_package(tmp_path)
    assert any(line.startswith("in the package: Opportunity.Referral_Status__c with the value(s)") for line in lines)
    root = _xml(tmp_path / "force-app/main/default/objects/Opportunity/fields/Referral_Status__c.field-meta.xml")
    values = [v.find("md:fullName", NS).text for v in root.findall("md:valueSet/md:valueSetDefinition/md:value", NS)]
    assert values == ["not_eligible", "eligible", "asked", "referred", "partner_program", "declined"]
    members = {m.text for m in _xml(tmp_path / "package.xml").findall("md:types/md:members", NS)}
    assert "Opportunity.Referral_Status__c" in members
