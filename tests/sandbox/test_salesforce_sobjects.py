"""sObject conformance: describe, create/get/update/upsert/delete through simple-salesforce's SFType.

Sources: facts §1 (SDK return values: create -> JSON, update/upsert/delete -> int status), §4
(error list bodies, ext-id upsert 201/204, IsWon derived), vendor pages cited per test.
"""

from __future__ import annotations

import datetime as dt

import pytest
from simple_salesforce import format_external_id
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

KEY = "AfterClose_Key__c"


def test_given_describe_then_fields_types_picklists_and_child_relationships(sf_org):
    # facts §4 describe shape; field reference for types.
    d = sf_org.sf.Opportunity.describe()
    fields = {f["name"]: f for f in d["fields"]}
    assert d["name"] == "Opportunity" and d["keyPrefix"] == "006"
    assert fields["IsWon"]["type"] == "boolean" and not fields["IsWon"]["updateable"]
    assert fields["CloseDate"]["type"] == "date" and fields["Amount"]["type"] == "currency"
    assert fields["Renewal_Date__c"]["custom"] and fields["Success_Criteria__c"]["type"] == "textarea"
    assert fields["OwnerId"]["referenceTo"] == ["User"] and fields["OwnerId"]["relationshipName"] == "Owner"
    stage_values = [p["value"] for p in fields["StageName"]["picklistValues"]]
    assert "Closed Won" in stage_values and fields["StageName"]["restrictedPicklist"]
    assert [p["value"] for p in fields["Handoff_Status__c"]["picklistValues"]] == ["complete", "incomplete"]
    assert {"childSObject": "OpportunityContactRole", "field": "OpportunityId",
            "relationshipName": "OpportunityContactRoles"}.items() <= next(
        c for c in d["childRelationships"] if c["relationshipName"] == "OpportunityContactRoles").items()


def test_given_task_describe_then_external_id_and_defaults(sf_org):
    fields = {f["name"]: f for f in sf_org.sf.Task.describe()["fields"]}
    assert fields[KEY]["externalId"] and fields[KEY]["unique"]
    status_default = [p["value"] for p in fields["Status"]["picklistValues"] if p["defaultValue"]]
    assert status_default == ["Not Started"]
    assert fields["WhatId"]["referenceTo"] == ["Opportunity", "Account"]


def test_given_org_without_afterclose_fields_then_describe_lacks_them(sf_org_factory):
    org = sf_org_factory(afterclose_fields=False, demo=False)
    names = {f["name"] for f in org.sf.Task.describe()["fields"]}
    assert KEY not in names
    assert "Handoff_Status__c" not in {f["name"] for f in org.sf.Opportunity.describe()["fields"]}


def test_given_create_then_201_id_with_prefix_and_defaults_applied(sf_org):
    # facts §4: create 201 {id, success, errors}; Task picklist defaults (Status, Priority).
    deal = sf_org.sandbox.demo_ids["Opportunity"][0]
    reply = sf_org.sf.Task.create({"Subject": "Kickoff call", "WhatId": deal, "ActivityDate": "2026-03-09"})
    assert reply["success"] is True and reply["errors"] == [] and reply["id"].startswith("00T")
    assert len(reply["id"]) == 18
    task = sf_org.sf.Task.get(reply["id"])
    assert task["Status"] == "Not Started" and task["Priority"] == "Normal" and task["IsClosed"] is False
    account = sf_org.sf.Opportunity.get(deal)["AccountId"]
    assert task["AccountId"] == account  # derived from WhatId
    assert task["OwnerId"] == sf_org.sandbox.store.current_user_id and task["ActivityDate"] == "2026-03-09"


def test_given_update_then_204_and_timestamps_bumped(sf_org):
    # facts §1: update returns the int status 204; LastModifiedDate/SystemModstamp move on each write.
    deal = sf_org.sandbox.demo_ids["Opportunity"][0]
    before = sf_org.sf.Opportunity.get(deal)
    assert sf_org.sf.Opportunity.update(deal, {"Handoff_Status__c": "complete", "NPS_Score__c": 9}) == 204
    after = sf_org.sf.Opportunity.get(deal)
    assert after["Handoff_Status__c"] == "complete" and after["NPS_Score__c"] == 9.0
    assert after["SystemModstamp"] > before["SystemModstamp"] and after["LastModifiedDate"] > before["LastModifiedDate"]


def test_given_stage_change_then_is_won_and_is_closed_follow(sf_org):
    # Field reference: IsWon/IsClosed are derived from the stage and read-only.
    deal = sf_org.sf.Opportunity.create({"Name": "Stage test", "StageName": "Prospecting", "CloseDate": "2026-05-01"})["id"]
    assert sf_org.sf.Opportunity.get(deal)["IsWon"] is False
    sf_org.sf.Opportunity.update(deal, {"StageName": "Closed Won"})
    got = sf_org.sf.Opportunity.get(deal)
    assert got["IsWon"] is True and got["IsClosed"] is True and got["Probability"] == 100


def test_given_ext_id_upsert_then_201_created_then_204_updated(sf_org):
    # facts §4 / dome-upsert: create -> 201 {id, success, errors, created:true}; update -> 204.
    path = format_external_id(KEY, "salesforce:006x:kickoff:2026")
    assert sf_org.sf.Task.upsert(path, {"Subject": "Kickoff"}) == 201
    assert sf_org.sf.Task.upsert(path, {"Subject": "Kickoff (moved)"}) == 204
    tasks = [t for t in sf_org.sandbox.records("Task") if t[KEY] == "salesforce:006x:kickoff:2026"]
    assert len(tasks) == 1 and tasks[0]["Subject"] == "Kickoff (moved)"


def test_given_update_status_200_reading_then_upsert_update_returns_created_false(sf_org):
    # The newer-version reading (200 + created:false) is selectable so clients can be tested under both.
    sf_org.sandbox.upsert_update_status = 200
    path = format_external_id(KEY, "k-200")
    sf_org.sf.Task.upsert(path, {"Subject": "A"})
    response = sf_org.sf.Task.upsert(path, {"Subject": "B"}, raw_response=True)
    assert response.status_code == 200 and response.json()["created"] is False


def test_given_upsert_by_non_external_field_then_404(sf_org):
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf_org.sf.Task.upsert("Subject/abc", {"Subject": "x"})
    assert "Provided external ID field does not exist" in err.value.content[0]["message"]


def test_given_duplicate_external_id_on_create_then_duplicate_value(sf_org):
    # Unique External ID fields refuse a second record with the same value (case-insensitive by default).
    sf_org.sf.Task.create({"Subject": "One", KEY: "dup-key"})
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.Task.create({"Subject": "Two", KEY: "DUP-KEY"})
    assert err.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_given_get_by_custom_id_then_record(sf_org):
    sf_org.sf.Task.create({"Subject": "Find me", KEY: "find-me"})
    assert sf_org.sf.Task.get_by_custom_id(KEY, "find-me")["Subject"] == "Find me"


@pytest.mark.parametrize("obj, body, code, field", [
    ("Task", {"Subject": "x", "Nope__c": 1}, "INVALID_FIELD", "Nope__c"),
    ("Opportunity", {"Name": "x", "StageName": "Prospecting", "CloseDate": "2026-01-01", "IsWon": True},
     "INVALID_FIELD_FOR_INSERT_UPDATE", "IsWon"),
    ("Task", {"Subject": "x", "SystemModstamp": "2026-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE",
     "SystemModstamp"),
    ("Task", {"Subject": "x", "Status": "Done-ish"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Status"),
    ("Task", {"Subject": "x", "Priority": "Urgent"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Priority"),
    ("Task", {"Description": "no subject"}, "REQUIRED_FIELD_MISSING", "Subject"),
    ("Task", {"Subject": "x", "ActivityDate": "next spring"}, "JSON_PARSER_ERROR", "ActivityDate"),
    ("Task", {"Subject": "x" * 256}, "STRING_TOO_LONG", "Subject"),
    ("Task", {"Subject": "x", "WhatId": "not-an-id"}, "MALFORMED_ID", "WhatId"),
    ("Opportunity", {"Name": "x", "StageName": "Won!", "CloseDate": "2026-01-01"},
     "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "StageName"),
])
def test_given_invalid_create_then_400_list_naming_the_field(sf_org, obj, body, code, field):
    # facts §4: error bodies are JSON lists [{message, errorCode, fields}].
    with pytest.raises(SalesforceMalformedRequest) as err:
        getattr(sf_org.sf, obj).create(body)
    assert err.value.status == 400
    assert err.value.content[0]["errorCode"] == code and field in err.value.content[0]["fields"]


def test_given_reference_to_wrong_object_type_then_field_integrity_exception(sf_org):
    contact = sf_org.sandbox.demo_ids["Contact"][0]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.Task.create({"Subject": "x", "WhatId": contact})
    assert err.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_given_task_owned_by_inactive_user_then_inactive_owner_or_user(sf_org):
    # A record assigned to an inactive user is refused (INACTIVE_OWNER_OR_USER).
    inactive = sf_org.sandbox.demo_ids["User"][5]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.Task.create({"Subject": "Call", "OwnerId": inactive})
    assert err.value.content[0]["errorCode"] == "INACTIVE_OWNER_OR_USER"


def test_given_deal_owned_by_inactive_user_then_other_fields_still_updatable(sf_org):
    # Only assigning the inactive owner is refused; the deal itself stays editable.
    orphan = next(r["Id"] for r in sf_org.sandbox.records("Opportunity") if r["Name"] == "Orphaned Account Co")
    assert sf_org.sf.Opportunity.update(orphan, {"Handoff_Status__c": "complete"}) == 204


def test_given_empty_string_then_stored_as_null(sf_org):
    # Salesforce stores "" in a text field as null.
    deal = sf_org.sandbox.demo_ids["Opportunity"][0]
    sf_org.sf.Opportunity.update(deal, {"Customer_Goal__c": ""})
    assert sf_org.sf.Opportunity.get(deal)["Customer_Goal__c"] is None


def test_given_delete_then_204_and_get_says_entity_is_deleted(sf_org):
    task = sf_org.sf.Task.create({"Subject": "Temp"})["id"]
    assert sf_org.sf.Task.delete(task) == 204
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf_org.sf.Task.get(task)
    assert err.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_given_unknown_record_then_404_not_found_list(sf_org):
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf_org.sf.Opportunity.get("006Dn0000009999AAA")
    assert err.value.content == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


def test_given_user_edit_then_timestamps_bump_and_derived_fields_follow(sf_org):
    sb = sf_org.sandbox
    deal = sb.demo_ids["Opportunity"][0]
    before = next(r for r in sb.records("Opportunity") if r["Id"] == deal)
    sb.edit("Opportunity", deal, {"StageName": "Closed Lost", "Renewal_Date__c": dt.date(2027, 1, 1)})
    after = next(r for r in sb.records("Opportunity") if r["Id"] == deal)
    assert after["IsWon"] is False and after["Renewal_Date__c"] == dt.date(2027, 1, 1)
    assert after["SystemModstamp"] > before["SystemModstamp"]


def test_given_edit_of_unknown_field_then_error_names_object_and_field(sf_org):
    with pytest.raises(KeyError, match=r"Opportunity\.Nope__c"):
        sf_org.sandbox.edit("Opportunity", sf_org.sandbox.demo_ids["Opportunity"][0], {"Nope__c": 1})


def test_given_newer_api_version_than_org_then_404(sf_org):
    # The org serves versions up to its own (the current release, 68.0, by default).
    assert sf_org.client(version="61.0").query("SELECT Id FROM User")["totalSize"] >= 1
    newer = sf_org.client(version="69.0")
    with pytest.raises(SalesforceResourceNotFound):
        newer.query("SELECT Id FROM User")
