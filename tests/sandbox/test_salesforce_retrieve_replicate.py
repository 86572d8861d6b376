"""sObject Collections retrieve, Get Updated / Get Deleted, the query plan (explain) and the
allOrNone rollback of an upsert collection, through simple-salesforce's ``restful``.

Sources (docs/salesforce-api-notes.md): collections retrieve GET/POST guides; sObject Get
Updated / Get Deleted guides and SOAP GetDeletedResult; REST query ``explain``.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 4, 15, 0, 30, tzinfo=UTC)


def _stamp(value: dt.datetime) -> str:
    return quote(value.isoformat())


def test_given_ids_and_fields_then_get_retrieve_answers_in_order_with_null_for_unknown_ids(sf_org):
    ids = list(sf_org.sandbox.demo_ids["Opportunity"].values())[:3]
    missing = ids[0][:3] + "Dn000000ZZZZ"
    result = sf_org.sf.restful("composite/sobjects/Opportunity",
                               params={"ids": ",".join([ids[2], missing, ids[0], "nonsense"]), "fields": "Name,Amount"})
    assert [r and r["attributes"]["url"].rsplit("/", 1)[1] for r in result] == [ids[2], None, ids[0], None]
    assert set(result[0]) == {"attributes", "Name", "Amount"}
    by_id = {r["Id"]: r for r in sf_org.sandbox.records("Opportunity")}
    assert result[2]["Name"] == by_id[ids[0]]["Name"]


def test_given_post_retrieve_with_body_then_same_records_and_deleted_ones_are_null(sf_org):
    ids = list(sf_org.sandbox.demo_ids["Account"].values())[:2]
    sf_org.sf.Account.delete(ids[1])
    result = sf_org.sf.restful("composite/sobjects/Account", method="POST", json={"ids": ids, "fields": ["Id", "Name"]})
    assert result[0]["Id"] == ids[0] and result[1] is None


@pytest.mark.parametrize("params, code", [
    ({"ids": "", "fields": "Name"}, "MISSING_ARGUMENT"), ({"ids": "x", "fields": "Name,Nope__c"}, "INVALID_FIELD")])
def test_given_missing_ids_or_unknown_field_then_400_for_the_request(sf_org, params, code):
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.restful("composite/sobjects/Account", params=params)
    assert err.value.content[0]["errorCode"] == code


def test_given_id_of_another_object_then_retrieve_refuses_the_request(sf_org):
    account = next(iter(sf_org.sandbox.demo_ids["Account"].values()))
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.restful("composite/sobjects/Opportunity", params={"ids": account, "fields": "Name"})
    assert err.value.content[0]["errorCode"] == "MALFORMED_ID"


def _updated_org(sf_org):
    sb = sf_org.sandbox
    sb.clock = lambda: NOW - dt.timedelta(hours=2)
    early = sf_org.sf.Account.create({"Name": "early"})["id"]
    sb.clock = lambda: NOW - dt.timedelta(minutes=30)
    late = sf_org.sf.Account.create({"Name": "late"})["id"]
    gone = sf_org.sf.Account.create({"Name": "gone"})["id"]
    sf_org.sf.Account.delete(gone)
    sb.clock = lambda: NOW
    return early, late, gone


def test_given_span_then_get_updated_lists_records_changed_in_it_and_covers_up_to_now(sf_org):
    early, late, gone = _updated_org(sf_org)
    start, end = NOW - dt.timedelta(hours=1), NOW + dt.timedelta(hours=1)
    body = sf_org.sf.restful(f"sobjects/Account/updated/?start={_stamp(start)}&end={_stamp(end)}")
    assert body["ids"] == [late]
    assert body["latestDateCovered"] == "2026-03-04T15:00:00.000+0000"  # "now", seconds dropped
    older = sf_org.sf.restful(f"sobjects/Account/updated/?start={_stamp(NOW - dt.timedelta(hours=3))}"
                              f"&end={_stamp(NOW - dt.timedelta(hours=1))}")
    assert older["ids"] == [early] and older["latestDateCovered"] == "2026-03-04T14:00:00.000+0000"


def test_given_span_then_get_deleted_lists_deleted_records_with_their_deletion_time(sf_org):
    _, _, gone = _updated_org(sf_org)
    body = sf_org.sf.restful(f"sobjects/Account/deleted/?start={_stamp(NOW - dt.timedelta(hours=1))}"
                             f"&end={_stamp(NOW)}")
    assert body["deletedRecords"] == [{"id": gone, "deletedDate": "2026-03-04T14:30:30.000+0000"}]
    assert body["earliestDateAvailable"] == "2026-02-17T15:00:00.000+0000"


@pytest.mark.parametrize("resource, start, end, code", [
    ("updated", NOW - dt.timedelta(days=31), NOW, "INVALID_REPLICATION_DATE"),
    ("deleted", NOW - dt.timedelta(days=16), NOW, "INVALID_REPLICATION_DATE"),
    ("updated", NOW, NOW - dt.timedelta(hours=1), "INVALID_REPLICATION_DATE"),
    ("updated", None, NOW, "MISSING_ARGUMENT"),
])
def test_given_span_out_of_range_reversed_or_missing_then_400(sf_org, resource, start, end, code):
    sf_org.sandbox.clock = lambda: NOW
    query = f"end={_stamp(end)}" + (f"&start={_stamp(start)}" if start else "")
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.restful(f"sobjects/Account/{resource}/?{query}")
    assert err.value.content[0]["errorCode"] == code


def test_given_unknown_object_then_get_updated_is_404(sf_org):
    with pytest.raises(SalesforceResourceNotFound):
        sf_org.sf.restful(f"sobjects/Nope__c/updated/?start={_stamp(NOW)}&end={_stamp(NOW)}")


def test_given_explain_then_plans_name_index_and_table_scan_with_real_cardinalities(sf_org):
    opportunity = next(iter(sf_org.sandbox.demo_ids["Opportunity"].values()))
    body = sf_org.sf.restful("query/", params={"explain": f"SELECT Name FROM Opportunity WHERE Id = '{opportunity}'"})
    plans = body["plans"]
    assert [p["leadingOperationType"] for p in plans] == ["Index", "TableScan"]
    assert plans[0]["fields"] == ["Id"] and plans[0]["cardinality"] == 1
    assert plans[1]["sobjectCardinality"] == len(sf_org.sandbox.records("Opportunity"))
    assert plans[0]["relativeCost"] < plans[1]["relativeCost"]


def test_given_explain_of_bad_soql_then_same_error_as_the_query(sf_org):
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.restful("query/", params={"explain": "SELECT Nope__c FROM Opportunity"})
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_given_all_or_none_upsert_with_one_failure_then_rolled_back_records_report_created_false(sf_org):
    records = [{"attributes": {"type": "Task"}, "AfterClose_Key__c": "k-1", "Subject": "fine"},
               {"attributes": {"type": "Task"}, "AfterClose_Key__c": "k-2", "Subject": "bad", "Status": "Nope"}]
    results = sf_org.sf.restful("composite/sobjects/Task/AfterClose_Key__c", method="PATCH",
                                json={"allOrNone": True, "records": records})
    assert results[0]["created"] is False and results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK" and "id" not in results[0]
    assert sf_org.sandbox.records("Task") == []
