"""sObject Collections through ``sf.restful`` (simple-salesforce has no collections helper, facts §1).

Sources: facts §4 (200 with per-record results in order, key ``statusCode``, <= 200 records,
allOrNone); collections create/upsert docs; EXCEEDED_ID_LIMIT message [2ND:
github.com/sorenkrabbe/Chrome-Salesforce-inspector/issues/134].
"""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

KEY = "AfterClose_Key__c"


def _task(subject: str, **extra) -> dict:
    return {"attributes": {"type": "Task"}, "Subject": subject, **extra}


def test_given_batch_with_bad_records_then_200_with_per_record_results_in_order(sf_org):
    inactive = sf_org.sandbox.demo_ids["User"][5]
    records = [_task("ok 1"), _task("bad status", Status="Nope"), _task("inactive", OwnerId=inactive), _task("ok 2")]
    results = sf_org.sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in results] == [True, False, False, True]
    assert results[0]["id"].startswith("00T") and results[0]["errors"] == []
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert results[1]["errors"][0]["fields"] == ["Status"]
    assert results[2]["errors"][0]["statusCode"] == "INACTIVE_OWNER_OR_USER"
    assert {t["Subject"] for t in sf_org.sandbox.records("Task")} == {"ok 1", "ok 2"}


def test_given_more_than_200_records_then_400_exceeded_id_limit_and_nothing_written(sf_org):
    records = [_task(f"t{i}") for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert err.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert sf_org.sandbox.records("Task") == []


def test_given_exactly_200_records_then_all_created(sf_org):
    results = sf_org.sf.restful("composite/sobjects", method="POST",
                                json={"records": [_task(f"t{i}") for i in range(200)]})
    assert len(results) == 200 and all(r["success"] for r in results)


def test_given_all_or_none_with_one_failure_then_everything_rolled_back(sf_org):
    records = [_task("fine"), _task("also fine"), _task("", Status="Bad")]
    results = sf_org.sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[2]["errors"][0]["statusCode"] in ("REQUIRED_FIELD_MISSING", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    assert sf_org.sandbox.records("Task") == []


def test_given_record_without_type_attribute_then_400_for_the_request(sf_org):
    with pytest.raises(SalesforceMalformedRequest):
        sf_org.sf.restful("composite/sobjects", method="POST", json={"records": [{"Subject": "x"}]})


def test_given_collection_update_then_200_results_and_missing_id_reported(sf_org):
    deals = list(sf_org.sandbox.demo_ids["Opportunity"].values())[:2]
    records = [{"attributes": {"type": "Opportunity"}, "Id": deals[0], "Handoff_Status__c": "incomplete"},
               {"attributes": {"type": "Opportunity"}, "Handoff_Status__c": "complete"},
               {"attributes": {"type": "Opportunity"}, "Id": deals[1], "NPS_Category__c": "fan"}]
    results = sf_org.sf.restful("composite/sobjects", method="PATCH", json={"records": records})
    assert results[0] == {"id": deals[0], "success": True, "errors": []}
    assert results[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert results[2]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_given_collection_upsert_then_created_flags_and_one_task_per_key(sf_org):
    # Upsert collections (v46+): results carry ``created``.
    first = sf_org.sf.restful(f"composite/sobjects/Task/{KEY}", method="PATCH",
                              json={"records": [_task("a", **{KEY: "k1"}), _task("b", **{KEY: "k2"})]})
    again = sf_org.sf.restful(f"composite/sobjects/Task/{KEY}", method="PATCH",
                              json={"records": [_task("a2", **{KEY: "k1"}), _task("c", **{KEY: "k3"})]})
    assert [r["created"] for r in first] == [True, True]
    assert [r["created"] for r in again] == [False, True] and again[0]["id"] == first[0]["id"]
    assert sorted(t[KEY] for t in sf_org.sandbox.records("Task")) == ["k1", "k2", "k3"]


def test_given_same_key_twice_in_one_upsert_then_both_refused(sf_org):
    results = sf_org.sf.restful(f"composite/sobjects/Task/{KEY}", method="PATCH",
                                json={"records": [_task("a", **{KEY: "same"}), _task("b", **{KEY: "SAME"})]})
    assert [r["errors"][0]["statusCode"] for r in results] == ["DUPLICATE_EXTERNAL_ID"] * 2


def test_given_upsert_by_non_external_field_then_400(sf_org):
    with pytest.raises(SalesforceMalformedRequest):
        sf_org.sf.restful("composite/sobjects/Task/Subject", method="PATCH", json={"records": [_task("a")]})


def test_given_collection_delete_then_per_id_results(sf_org):
    ids = [r["id"] for r in sf_org.sf.restful("composite/sobjects", method="POST",
                                              json={"records": [_task("a"), _task("b")]})]
    results = sf_org.sf.restful("composite/sobjects", method="DELETE",
                                params={"ids": ",".join(ids + ["00TDn0000009999AAA"])})
    assert [r["success"] for r in results] == [True, True, False]
    assert sf_org.sandbox.records("Task") == []
