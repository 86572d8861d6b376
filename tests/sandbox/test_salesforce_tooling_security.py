"""Tooling API custom fields, field-level security through permission sets, and the integration
user's system permissions, through simple-salesforce's ``restful``.

Sources (docs/salesforce-api-notes.md, "Setup: custom fields, field-level security, permissions"):
facts §7; Tooling API CustomField; FieldPermissions object reference; DescribeSObjectResult
(fields the user cannot see are absent); SOAP StatusCode DUPLICATE_DEVELOPER_NAME.
"""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest

from connector.sandbox.salesforce.permissions import UserPermissions

TEXT_KEY = {"label": "Partner Key", "type": "Text", "length": 20, "externalId": True, "unique": True}


def _create_field(org, full_name: str, metadata: dict):
    return org.sf.restful("tooling/sobjects/CustomField", method="POST",
                          json={"FullName": full_name, "Metadata": metadata})


def _tooling_query(org, soql: str) -> dict:
    return org.sf.restful("tooling/query/", params={"q": soql})


def _fields(org, sobject: str) -> dict[str, dict]:
    return {f["name"]: f for f in getattr(org.sf, sobject).describe()["fields"]}


def _grant(org, field: str, *, read: bool = True, edit: bool = True, user_id: str | None = None) -> str:
    """A permission set granting ``field`` ("Object.Field__c"), assigned to ``user_id`` (the
    integration user by default); returns the permission set id."""
    permission_set = org.sf.PermissionSet.create({"Name": f"Grant_{len(org.sandbox.records('PermissionSet'))}",
                                                  "Label": "AfterClose grant"})["id"]
    org.sf.FieldPermissions.create({"ParentId": permission_set, "SobjectType": field.split(".")[0], "Field": field,
                                    "PermissionsRead": read, "PermissionsEdit": edit})
    org.sf.PermissionSetAssignment.create({"AssigneeId": user_id or org.sandbox.user_id,
                                           "PermissionSetId": permission_set})
    return permission_set


def _error(excinfo) -> dict:
    return excinfo.value.content[0]


# ------------------------------------------------------------------ item 4: Tooling API CustomField
def test_given_tooling_create_then_query_finds_it_by_developer_name_and_table(sf_org):
    created = _create_field(sf_org, "Account.Partner_Key__c", TEXT_KEY)
    assert created["success"] is True and created["id"].startswith("00N")
    found = _tooling_query(sf_org, "SELECT Id, DeveloperName, TableEnumOrId, FullName, Metadata FROM CustomField "
                                   "WHERE DeveloperName = 'Partner_Key' AND TableEnumOrId = 'Account'")
    assert found["totalSize"] == 1
    row = found["records"][0]
    assert (row["Id"], row["FullName"]) == (created["id"], "Account.Partner_Key__c")
    assert {k: row["Metadata"][k] for k in ("type", "length", "externalId", "unique")} == {
        "type": "Text", "length": 20, "externalId": True, "unique": True}
    field = sf_org.sandbox.catalog["Account"].field("Partner_Key__c")
    assert (field.type, field.length, field.external_id, field.unique) == ("string", 20, True, True)


def test_given_activity_field_then_it_lands_on_task_and_event_and_lists_once_on_activity(sf_org):
    _create_field(sf_org, "Activity.Followup_Ref__c", {"label": "Followup Ref", "type": "Text", "length": 40})
    assert sf_org.sandbox.catalog["Task"].field("Followup_Ref__c") is not None
    assert sf_org.sandbox.catalog["Event"].field("Followup_Ref__c") is not None
    rows = _tooling_query(sf_org, "SELECT TableEnumOrId FROM CustomField WHERE DeveloperName = 'Followup_Ref'")
    assert [r["TableEnumOrId"] for r in rows["records"]] == ["Activity"]


def test_given_seeded_custom_fields_then_tooling_query_lists_them(sf_org):
    rows = _tooling_query(sf_org, "SELECT DeveloperName, TableEnumOrId FROM CustomField ORDER BY DeveloperName")
    pairs = {(r["TableEnumOrId"], r["DeveloperName"]) for r in rows["records"]}
    assert {("Activity", "AfterClose_Key"), ("Opportunity", "Handoff_Status")} <= pairs


@pytest.mark.parametrize("full_name", ["Account.Partner_Key__c", "Activity.AfterClose_Key__c"])
def test_given_field_that_exists_then_duplicate_developer_name(sf_org, full_name):
    if full_name.startswith("Account"):
        _create_field(sf_org, full_name, TEXT_KEY)
    with pytest.raises(SalesforceMalformedRequest) as err:
        _create_field(sf_org, full_name, TEXT_KEY)
    assert _error(err)["errorCode"] == "DUPLICATE_DEVELOPER_NAME"


@pytest.mark.parametrize("full_name, metadata, field", [
    ("Account.Bad__Name__c", TEXT_KEY, "FullName"), ("Account.Name_", TEXT_KEY, "FullName"),
    ("Task.Direct__c", TEXT_KEY, "FullName"), ("Account.Long_Text__c", {"label": "x", "type": "Text"}, "length"),
    ("Account.Amount2__c", {"label": "x", "type": "Number", "precision": 20, "scale": 0}, "precision"),
    ("Account.Flag__c", {"label": "x", "type": "Checkbox", "externalId": True}, "externalId"),
    ("Account.Link__c", {"label": "x", "type": "Lookup", "referenceTo": "Contact"}, "type"),
    ("Account.Nolabel__c", {"type": "Text", "length": 5}, "label"),
])
def test_given_invalid_custom_field_then_400_naming_the_key(sf_org, full_name, metadata, field):
    with pytest.raises(SalesforceMalformedRequest) as err:
        _create_field(sf_org, full_name, metadata)
    assert _error(err)["fields"] == [field]
    assert sf_org.sandbox.catalog["Account"].field(full_name.split(".")[1]) is None


def test_given_metadata_selected_over_several_rows_then_malformed_query(sf_org):
    with pytest.raises(SalesforceMalformedRequest) as err:
        _tooling_query(sf_org, "SELECT Id, Metadata FROM CustomField")
    assert "no more than one row" in _error(err)["message"]


# ------------------------------------------------------------------ item 5: field-level security
def test_given_new_field_then_invisible_to_describe_soql_and_writes_until_granted(sf_org):
    _create_field(sf_org, "Account.Partner_Key__c", TEXT_KEY)
    assert "Partner_Key__c" not in _fields(sf_org, "Account")
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.query("SELECT Partner_Key__c FROM Account")
    assert _error(err)["errorCode"] == "INVALID_FIELD" and "No such column 'Partner_Key__c'" in _error(err)["message"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.Account.create({"Name": "x", "Partner_Key__c": "p-1"})
    assert _error(err)["errorCode"] == "INVALID_FIELD"
    _grant(sf_org, "Account.Partner_Key__c")
    assert _fields(sf_org, "Account")["Partner_Key__c"]["updateable"] is True
    created = sf_org.sf.Account.create({"Name": "x", "Partner_Key__c": "p-1"})["id"]
    assert sf_org.sf.Account.get_by_custom_id("Partner_Key__c", "p-1")["Id"] == created


def test_given_read_only_grant_then_field_reads_but_writes_are_refused(sf_org):
    _create_field(sf_org, "Account.Partner_Key__c", TEXT_KEY)
    _grant(sf_org, "Account.Partner_Key__c", edit=False)
    field = _fields(sf_org, "Account")["Partner_Key__c"]
    assert (field["createable"], field["updateable"]) == (False, False)
    assert sf_org.sf.query("SELECT Partner_Key__c FROM Account LIMIT 1")["records"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.Account.create({"Name": "x", "Partner_Key__c": "p-1"})
    assert _error(err)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_given_activity_field_then_task_and_event_are_granted_separately(sf_org):
    _create_field(sf_org, "Activity.Followup_Ref__c", {"label": "Followup Ref", "type": "Text", "length": 40})
    _grant(sf_org, "Task.Followup_Ref__c")
    assert "Followup_Ref__c" in _fields(sf_org, "Task")
    assert "Followup_Ref__c" not in _fields(sf_org, "Event")


def test_given_grant_assigned_to_another_user_or_removed_then_no_access(sf_org):
    _create_field(sf_org, "Account.Partner_Key__c", TEXT_KEY)
    other_user = sf_org.sandbox.demo_ids["User"][0]
    _grant(sf_org, "Account.Partner_Key__c", user_id=other_user)
    assert "Partner_Key__c" not in _fields(sf_org, "Account")
    mine = _grant(sf_org, "Account.Partner_Key__c")
    assert "Partner_Key__c" in _fields(sf_org, "Account")
    assignment = sf_org.sf.query(f"SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = '{mine}'")
    sf_org.sf.PermissionSetAssignment.delete(assignment["records"][0]["Id"])
    assert "Partner_Key__c" not in _fields(sf_org, "Account")


@pytest.mark.parametrize("row, code", [
    ({"SobjectType": "Account", "Field": "Account.Website", "PermissionsRead": False, "PermissionsEdit": True},
     "FIELD_INTEGRITY_EXCEPTION"),
    ({"SobjectType": "Account", "Field": "Account.Nope__c", "PermissionsRead": True}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
    ({"SobjectType": "Account", "Field": "Contact.Email", "PermissionsRead": True}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
    ({"SobjectType": "Account", "Field": "Account.Name", "PermissionsRead": True}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
])
def test_given_invalid_field_permissions_row_then_refused(sf_org, row, code):
    parent = sf_org.sf.PermissionSet.create({"Name": "Checks", "Label": "Checks"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.FieldPermissions.create({"ParentId": parent, **row})
    assert _error(err)["errorCode"] == code


def test_given_same_grant_or_assignment_twice_then_duplicate_value(sf_org):
    permission_set = _grant(sf_org, "Account.Website")
    results = sf_org.sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "FieldPermissions"}, "ParentId": permission_set, "SobjectType": "Account",
         "Field": "Account.Website", "PermissionsRead": True},
        {"attributes": {"type": "PermissionSetAssignment"}, "AssigneeId": sf_org.sandbox.user_id,
         "PermissionSetId": permission_set}]})
    assert [r["errors"][0]["statusCode"] for r in results] == ["DUPLICATE_VALUE", "DUPLICATE_VALUE"]


def test_given_permission_set_then_queryable_with_its_field_permissions(sf_org):
    permission_set = _grant(sf_org, "Account.Website", edit=False)
    rows = sf_org.sf.query(f"SELECT Name, (SELECT Field, PermissionsRead, PermissionsEdit FROM FieldPerms), "
                           f"(SELECT AssigneeId FROM Assignments) FROM PermissionSet WHERE Id = '{permission_set}'")
    record = rows["records"][0]
    assert [(p["Field"], p["PermissionsRead"], p["PermissionsEdit"]) for p in record["FieldPerms"]["records"]] == [
        ("Account.Website", True, False)]
    assert record["Assignments"]["records"][0]["AssigneeId"] == sf_org.sandbox.user_id


def test_given_profile_without_custom_field_access_then_seeded_custom_fields_need_a_grant(sf_org_factory):
    org = sf_org_factory(profile_grants_custom_fields=False)
    assert "Handoff_Status__c" not in _fields(org, "Opportunity") and "Name" in _fields(org, "Opportunity")
    with pytest.raises(SalesforceMalformedRequest):
        org.sf.query("SELECT Handoff_Status__c FROM Opportunity")
    _grant(org, "Opportunity.Handoff_Status__c")
    assert org.sf.query("SELECT Handoff_Status__c FROM Opportunity LIMIT 1")["records"]
    assert "AfterClose_Key__c" not in _fields(org, "Task")


# ------------------------------------------------------------------ item 6: the user's permissions
def test_given_user_without_customize_application_then_tooling_create_is_403_insufficient_access(sf_org_factory):
    org = sf_org_factory(demo=False, permissions=UserPermissions(customize_application=False))
    with pytest.raises(SalesforceError) as err:
        _create_field(org, "Account.Partner_Key__c", TEXT_KEY)
    assert err.value.status == 403 and _error(err)["errorCode"] == "INSUFFICIENT_ACCESS"
    assert org.sandbox.catalog["Account"].field("Partner_Key__c") is None
    assert _tooling_query(org, "SELECT COUNT() FROM CustomField")["totalSize"] > 0  # View Setup still granted


def test_given_user_without_view_setup_then_tooling_objects_are_unknown_types(sf_org_factory):
    org = sf_org_factory(demo=False, permissions=UserPermissions(customize_application=False, view_setup=False))
    with pytest.raises(SalesforceMalformedRequest) as err:
        _tooling_query(org, "SELECT Id FROM CustomField")
    assert _error(err)["errorCode"] == "INVALID_TYPE"


def test_given_user_who_cannot_manage_or_assign_permission_sets_then_writes_are_refused(sf_org_factory):
    org = sf_org_factory(demo=False, permissions=UserPermissions(manage_permission_sets=False,
                                                                 assign_permission_sets=False))
    with pytest.raises(SalesforceMalformedRequest) as err:
        org.sf.PermissionSet.create({"Name": "Nope", "Label": "Nope"})
    assert _error(err)["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    results = org.sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "PermissionSetAssignment"}, "AssigneeId": org.sandbox.user_id,
         "PermissionSetId": "0PSDn0000000001AAA"}]})
    assert results[0]["errors"][0]["statusCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"


# ------------------------------------------------------------------ what `afterclose setup` relies on
def test_given_describe_then_permissionable_says_which_fields_a_permission_set_may_name(sf_org):
    task = _fields(sf_org, "Task")
    assert task["AfterClose_Key__c"]["permissionable"] is True and task["Description"]["permissionable"] is True
    assert task["Status"]["permissionable"] is False  # required
    assert task["OwnerId"]["permissionable"] is False and task["IsClosed"]["permissionable"] is False
    with pytest.raises(SalesforceMalformedRequest) as err:  # the same rule refuses the row
        _grant(sf_org, "Task.Status")
    assert _error(err)["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_given_long_text_area_without_visible_lines_then_refused_naming_it(sf_org):
    with pytest.raises(SalesforceMalformedRequest) as err:
        _create_field(sf_org, "Account.Notes__c", {"label": "Notes", "type": "LongTextArea", "length": 32768})
    assert _error(err)["fields"] == ["visibleLines"]
    _create_field(sf_org, "Account.Notes__c", {"label": "Notes", "type": "LongTextArea", "length": 32768,
                                               "visibleLines": 3})
    assert sf_org.sandbox.catalog["Account"].field("Notes__c").length == 32768


def test_given_lenient_setting_then_a_new_field_is_visible_at_once(sf_org_factory):
    org = sf_org_factory(demo=False, new_fields_need_grant=False)
    _create_field(org, "Account.Partner_Key__c", TEXT_KEY)
    assert _fields(org, "Account")["Partner_Key__c"]["updateable"] is True
    assert org.sf.Account.create({"Name": "x", "Partner_Key__c": "p-1"})["success"] is True


def test_given_permission_set_name_taken_or_invalid_then_refused(sf_org):
    sf_org.sf.PermissionSet.create({"Name": "AfterClose_Integration", "Label": "AfterClose Integration"})
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.PermissionSet.create({"Name": "afterclose_integration", "Label": "Again"})
    assert _error(err)["errorCode"] == "DUPLICATE_DEVELOPER_NAME"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.PermissionSet.create({"Name": "Two Words", "Label": "x"})
    assert _error(err)["fields"] == ["Name"]


def test_given_tooling_query_with_in_lists_then_hidden_fields_are_found_by_table_and_name(sf_org):
    _create_field(sf_org, "Activity.Followup_Ref__c", {"label": "Followup Ref", "type": "Text", "length": 40})
    _create_field(sf_org, "Account.Partner_Key__c", TEXT_KEY)
    rows = _tooling_query(sf_org, "SELECT DeveloperName, TableEnumOrId FROM CustomField WHERE TableEnumOrId IN "
                                  "('Activity', 'Account') AND DeveloperName IN ('Followup_Ref', 'Partner_Key', "
                                  "'Nothing')")
    assert {(r["TableEnumOrId"], r["DeveloperName"]) for r in rows["records"]} == {
        ("Activity", "Followup_Ref"), ("Account", "Partner_Key")}
    assert "Followup_Ref__c" not in _fields(sf_org, "Task")  # exists, hidden until granted


def test_given_tooling_update_then_picklist_values_change_and_records_keep_theirs(sf_org):
    status = {"label": "Status", "type": "Picklist", "valueSet": {"restricted": True, "valueSetDefinition": {
        "value": [{"fullName": "new", "label": "New"}]}}}
    field_id = _create_field(sf_org, "Account.Stage__c", status)["id"]
    _grant(sf_org, "Account.Stage__c")
    account = sf_org.sf.Account.create({"Name": "x", "Stage__c": "new"})["id"]
    status["valueSet"]["valueSetDefinition"]["value"].append({"fullName": "done", "label": "Done"})
    assert sf_org.sf.restful(f"tooling/sobjects/CustomField/{field_id}", method="PATCH",
                             json={"Metadata": status}) is None  # 204
    values = [v["value"] for v in _fields(sf_org, "Account")["Stage__c"]["picklistValues"]]
    assert values == ["new", "done"]
    sf_org.sf.Account.update(account, {"Stage__c": "done"})
    assert sf_org.sf.Account.get(account)["Stage__c"] == "done"
    row = _tooling_query(sf_org, f"SELECT Metadata FROM CustomField WHERE Id = '{field_id}'")["records"][0]
    assert [v["fullName"] for v in row["Metadata"]["valueSet"]["valueSetDefinition"]["value"]] == ["new", "done"]
    with pytest.raises(SalesforceMalformedRequest) as err:  # the type stays
        sf_org.sf.restful(f"tooling/sobjects/CustomField/{field_id}", method="PATCH",
                          json={"Metadata": {"label": "Status", "type": "Text", "length": 10}})
    assert _error(err)["fields"] == ["type"]


def test_given_user_without_customize_application_then_tooling_update_is_403(sf_org_factory):
    org = sf_org_factory(demo=False, permissions=UserPermissions(customize_application=False))
    [row] = _tooling_query(org, "SELECT Id FROM CustomField WHERE DeveloperName = 'Handoff_Status'")["records"]
    with pytest.raises(SalesforceError) as err:
        org.sf.restful(f"tooling/sobjects/CustomField/{row['Id']}", method="PATCH",
                       json={"Metadata": {"label": "x", "type": "Picklist"}})
    assert err.value.status == 403 and _error(err)["errorCode"] == "INSUFFICIENT_ACCESS"
