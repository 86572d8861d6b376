"""Objects v3 through the real SDK: status codes, string values, batches, 207 vs 400, lists.

Sources: facts §2 (SDK status maps), §3 (batch rules), tasks spec
HubSpot/HubSpot-public-api-spec-collection PublicApiSpecs/CRM/Tasks/Rollouts/424/v3/tasks.json.
"""

from __future__ import annotations

import pytest
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.deals import SimplePublicObjectInput as DealInput
from hubspot.crm.objects.tasks import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)

from tests.sandbox.hubspot_fixtures import error_json

DUE = "2025-03-20T09:00:00Z"


def _task(subject: str, trace: str | None = None, **extra) -> SimplePublicObjectBatchInputForCreate:
    props = {"hs_timestamp": DUE, "hs_task_subject": subject} | extra
    return SimplePublicObjectBatchInputForCreate(properties=props, associations=[], object_write_trace_id=trace)


def _create_batch(hs, inputs):
    body = BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)
    return hs.client.crm.objects.tasks.batch_api.create(batch_input_simple_public_object_batch_input_for_create=body)


def test_given_single_task_create_then_201_with_string_values_and_iso_times(hs):
    # facts §2: single create 201; values always strings; ISO Z datetimes
    task = hs.client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": "1742461200000", "hs_task_subject": "Kickoff", "hs_task_priority": "HIGH"}))
    assert task.id.isdigit()
    assert task.properties["hs_timestamp"] == "2025-03-20T09:00:00.000Z"
    assert task.properties["hs_object_id"] == task.id
    assert task.created_at.tzinfo is not None
    assert all(isinstance(v, str) for v in task.properties.values())


def test_given_batch_create_then_201_and_sdk_returns_results(hs):
    # facts §0.3: the SDK deserializes batch create only on 201/207
    reply = _create_batch(hs, [_task("a"), _task("b")])
    assert reply is not None and reply.status == "COMPLETE"
    assert [r.properties["hs_task_subject"] for r in reply.results] == ["a", "b"]


def test_given_bad_input_with_trace_ids_when_batch_create_then_207_and_good_inputs_written(hs):
    # facts §3: 207 only when each input carries a unique objectWriteTraceId
    reply = _create_batch(hs, [_task("ok", "t1"), _task("bad", "t2", hs_task_priority="URGENT")])
    assert reply.num_errors == 1
    assert reply.errors[0].category == "VALIDATION_ERROR"
    assert reply.errors[0].context["objectWriteTraceId"] == ["t2"]
    assert reply.errors[0].context["propertyName"] == ["hs_task_priority"]
    assert [r.object_write_trace_id for r in reply.results] == ["t1"]
    assert len(hs.sb.records("tasks")) == 1


def test_given_bad_input_without_trace_ids_when_batch_create_then_400_and_nothing_written(hs):
    # facts §3: without objectWriteTraceId one bad input fails the whole batch with 400
    with pytest.raises(ApiException) as caught:
        _create_batch(hs, [_task("ok"), _task("bad", hs_task_priority="URGENT")])
    assert caught.value.status == 400
    assert error_json(caught.value)["category"] == "VALIDATION_ERROR"
    assert hs.sb.records("tasks") == []


def test_given_more_than_100_inputs_then_400(hs):
    # facts §3: <= 100 inputs per batch call
    with pytest.raises(ApiException) as caught:
        _create_batch(hs, [_task(f"t{n}") for n in range(101)])
    assert caught.value.status == 400


def test_given_unknown_property_then_400_naming_it(hs):
    # brief + error-handling doc: VALIDATION_ERROR with errors[].context.propertyName
    with pytest.raises(ApiException) as caught:
        _create_batch(hs, [_task("x", no_such_field="1")])
    body = error_json(caught.value)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["context"]["propertyName"] == ["no_such_field"]


def test_given_task_without_hs_timestamp_then_400(hs):
    # tasks guide (facts §3): hs_timestamp is required
    with pytest.raises(ApiException) as caught:
        hs.client.crm.objects.tasks.basic_api.create(
            simple_public_object_input_for_create=SimplePublicObjectInputForCreate(properties={"hs_task_subject": "x"}))
    assert error_json(caught.value)["errors"][0]["context"]["propertyName"] == ["hs_timestamp"]


def test_given_write_to_hs_lastmodifieddate_then_400_read_only(hs):
    # tasks spec PATCH: "Read-only and non-existent properties will result in an error."
    with pytest.raises(DealsApiException) as caught:
        hs.client.crm.deals.basic_api.update(deal_id=hs.deal_id(0), simple_public_object_input=DealInput(
            properties={"hs_lastmodifieddate": "2020-01-01T00:00:00Z"}))
    assert caught.value.status == 400
    assert "read only" in error_json(caught.value)["message"]


def test_given_enum_value_not_in_options_then_400(hs):
    # properties guide: enumeration values must be one of the options (case-sensitive, facts §3)
    with pytest.raises(DealsApiException) as caught:
        hs.client.crm.deals.basic_api.update(deal_id=hs.deal_id(0), simple_public_object_input=DealInput(
            properties={"handoff_status": "COMPLETE"}))
    assert error_json(caught.value)["errors"][0]["code"] == "INVALID_OPTION"


def test_given_deal_update_then_200_and_lastmodified_bumped(hs):
    # facts §3: hs_lastmodifieddate bumps on any write, including our own
    before = hs.client.crm.deals.basic_api.get_by_id(deal_id=hs.deal_id(0)).properties["hs_lastmodifieddate"]
    updated = hs.client.crm.deals.basic_api.update(deal_id=hs.deal_id(0), simple_public_object_input=DealInput(
        properties={"handoff_status": "complete", "nps_score": 9}))
    assert updated.properties["nps_score"] == "9"
    assert updated.properties["hs_lastmodifieddate"] > before


def test_given_batch_update_then_200_and_missing_id_without_trace_ids_fails_whole_batch(hs):
    # facts §2: batch update 200|207; facts §3: without trace ids one bad input -> 400
    api = hs.client.crm.objects.tasks.batch_api
    created = _create_batch(hs, [_task("a")]).results[0]
    reply = api.update(batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=created.id, properties={"hs_task_status": "COMPLETED"})]))
    assert reply.results[0].properties["hs_task_status"] == "COMPLETED"
    with pytest.raises(ApiException) as caught:
        api.update(batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(inputs=[
            SimplePublicObjectBatchInput(id=created.id, properties={"hs_task_subject": "b"}),
            SimplePublicObjectBatchInput(id="999999", properties={"hs_task_subject": "c"})]))
    assert caught.value.status == 400
    assert hs.sb.records("tasks")[0]["properties"]["hs_task_subject"] == "a"


def test_given_batch_read_with_missing_id_then_207_with_object_not_found(hs):
    # facts §2: batch read 200/207
    reply = hs.client.crm.deals.batch_api.read(
        batch_read_input_simple_public_object_id=_deal_read([hs.deal_id(0), "424242"], ["dealname"]))
    assert [r.id for r in reply.results] == [hs.deal_id(0)]
    assert reply.errors[0].category == "OBJECT_NOT_FOUND" and reply.errors[0].context["ids"] == ["424242"]


def _deal_read(ids, props):
    from hubspot.crm.deals import BatchReadInputSimplePublicObjectId as DealRead
    from hubspot.crm.deals import SimplePublicObjectId as DealId
    return DealRead(inputs=[DealId(id=i) for i in ids], properties=props, properties_with_history=[])


def test_given_batch_read_then_only_asked_properties_plus_system_ones(hs):
    # facts §3: property names returned only as asked (+ defaults hs_object_id/createdate/hs_lastmodifieddate)
    reply = hs.client.crm.deals.batch_api.read(batch_read_input_simple_public_object_id=_deal_read(
        [hs.deal_id(12)], ["decision_criteria", "no_such_prop"]))
    assert set(reply.results[0].properties) == {"decision_criteria", "hs_object_id", "createdate",
                                                "hs_lastmodifieddate"}
    assert reply.results[0].properties["decision_criteria"] is None  # demo deal 12 lacks it


def test_given_batch_archive_then_204_and_records_gone_from_reads(hs):
    # facts §2: archive endpoints return None (204)
    created = _create_batch(hs, [_task("a")]).results[0]
    assert hs.client.crm.objects.tasks.batch_api.archive(
        batch_input_simple_public_object_id=BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=created.id)])) is None
    reply = hs.client.crm.objects.tasks.batch_api.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=created.id)], properties=[], properties_with_history=[]))
    assert reply.results == [] and reply.errors[0].context["ids"] == [created.id]
    assert hs.sb.records("tasks", archived=True)[0]["id"] == created.id


def test_given_list_paging_then_every_demo_deal_seen_once(hs):
    # tasks spec GET /crm/v3/objects/{type}: limit, after, paging.next.after absent on the last page
    seen, after = [], None
    while True:
        page = hs.client.crm.deals.basic_api.get_page(limit=7, after=after, properties=["dealname"])
        seen += [d.id for d in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert sorted(seen) == sorted(hs.sb.demo_ids["deals"].values())
    assert hs.client.crm.deals.get_all(properties=["dealname"]).__len__() == len(seen)


def test_given_get_by_id_with_associations_then_v3_association_block(hs):
    # tasks spec GET {id}: "associations" query param returns associated ids
    deal = hs.client.crm.deals.basic_api.get_by_id(deal_id=hs.deal_id(0), associations=["companies"])
    assert deal.associations["companies"].results[0].id == hs.sb.demo_ids["companies"][0]


def test_given_unknown_id_then_404(hs):
    # error-handling doc: OBJECT_NOT_FOUND
    from hubspot.crm.deals.exceptions import NotFoundException
    with pytest.raises(NotFoundException):
        hs.client.crm.deals.basic_api.get_by_id(deal_id="777777")


def test_given_deal_stage_not_in_its_pipeline_then_400(hs):
    # deals guide / pipelines (facts §3): a stage belongs to one pipeline
    custom = hs.deal_id(31)  # a custom-pipeline deal in the demo set
    with pytest.raises(DealsApiException) as caught:
        hs.client.crm.deals.basic_api.update(deal_id=custom, simple_public_object_input=DealInput(
            properties={"dealstage": "closedwon"}))
    assert error_json(caught.value)["errors"][0]["context"]["propertyName"] == ["dealstage"]


def test_given_demo_seed_then_stage_dates_and_fields_mapped(hs):
    # brief: won -> closedwon (custom pipeline -> its won stage), renewal_date as YYYY-MM-DD, None -> absent
    deals = {r["id"]: r["properties"] for r in hs.sb.records("deals")}
    first = deals[hs.deal_id(0)]
    assert first["dealstage"] == "closedwon" and first["hs_is_closed_won"] == "true"
    assert first["renewal_date"] == "2026-03-14"  # close date + 1 year
    assert first["closedate"] == "2025-03-14T00:00:00.000Z"
    assert deals[hs.deal_id(31)]["dealstage"] in hs.sb.won_stage_ids - {"closedwon"}
    assert "decision_criteria" not in deals[hs.deal_id(12)]
    garbled = next(p for p in deals.values() if p["dealname"] == "Garbled Renewal Inc")
    assert "renewal_date" not in garbled  # a date property cannot hold "next spring"


def test_given_an_html_task_body_then_stored_and_returned_as_sent_and_one_over_65536_characters_is_refused(hs):
    # hs_task_body is an html string property: the sandbox keeps the markup it is sent, byte for byte
    # (the stricter reading; HubSpot documents no rewriting), and refuses a string over 65,536
    # characters [DOC: https://developers.hubspot.com/docs/api/crm/properties] with a 400.
    body = "<p>Kickoff &amp; goals<br>line two</p><ul><li>&lt;script&gt; stays text</li></ul>"
    created = hs.client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": DUE, "hs_task_subject": "Kickoff", "hs_task_body": body}))
    read = hs.client.crm.objects.tasks.basic_api.get_by_id(created.id, properties=["hs_task_body"])
    assert created.properties["hs_task_body"] == body and read.properties["hs_task_body"] == body
    with pytest.raises(ApiException) as refused:
        hs.client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
            properties={"hs_timestamp": DUE, "hs_task_subject": "Long", "hs_task_body": "x" * 65_537}))
    assert refused.value.status == 400
    fits = hs.client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": DUE, "hs_task_subject": "Fits", "hs_task_body": "x" * 65_536}))
    assert len(fits.properties["hs_task_body"]) == 65_536
