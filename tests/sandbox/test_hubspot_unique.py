"""Unique-value properties on tasks: duplicate creates, batch upsert by idProperty, read by idProperty.

Sources: docs/hubspot-api-notes.md "Unique values and upsert" — tasks spec (batch/upsert, idProperty),
"Upsert tasks" doc page, unique-properties changelog, and the [2ND] reports cited there.
"""

from __future__ import annotations

import pytest
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.objects.tasks import (
    ApiException,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)

from tests.sandbox.hubspot_fixtures import error_json

DUE = "2025-03-20T09:00:00Z"


@pytest.fixture
def hs(hs_factory):
    """A portal that grants unique task properties (``task_uniqueness="grant"``): what these tests are about."""
    return hs_factory(task_uniqueness="grant")


def _props(key: str, subject: str = "Kickoff call") -> dict:
    return {"hs_timestamp": DUE, "hs_task_subject": subject, "afterclose_key": key}


def _upsert(hs, *inputs):
    return hs.client.crm.objects.tasks.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=BatchInputSimplePublicObjectBatchInputUpsert(inputs=list(inputs)))


def test_given_afterclose_key_property_then_it_is_listed_as_unique(hs):
    # brief: seed includes task afterclose_key (string, hasUniqueValue)
    prop = hs.client.crm.properties.core_api.get_by_name(object_type="tasks", property_name="afterclose_key")
    assert prop.has_unique_value is True and prop.type == "string"


def test_given_existing_key_when_single_create_repeats_it_then_400_and_no_second_record(hs):
    # strictest reading (docs/hubspot-api-notes.md): a duplicate unique value is an error, never a 2nd record
    create = hs.client.crm.objects.tasks.basic_api.create
    create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(properties=_props("hs:1:kickoff:0")))
    with pytest.raises(ApiException) as caught:
        create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(properties=_props("hs:1:kickoff:0")))
    body = error_json(caught.value)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "already has that value" in body["message"]
    assert body["errors"][0]["context"]["propertyName"] == ["afterclose_key"]
    assert len(hs.sb.records("tasks")) == 1


def test_given_duplicate_key_in_traced_batch_then_per_input_error_and_one_record(hs):
    # facts §3 (207 with trace ids) + strict unique reading: the repeat is refused per input
    body = BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        SimplePublicObjectBatchInputForCreate(properties=_props("k1"), associations=[], object_write_trace_id="a"),
        SimplePublicObjectBatchInputForCreate(properties=_props("k1"), associations=[], object_write_trace_id="b"),
    ])
    reply = hs.client.crm.objects.tasks.batch_api.create(batch_input_simple_public_object_batch_input_for_create=body)
    assert len(reply.results) == 1 and reply.errors[0].context["objectWriteTraceId"] == ["b"]
    assert "already has that value" in reply.errors[0].message
    assert len(hs.sb.records("tasks")) == 1


def test_given_upsert_twice_with_same_key_then_created_once_then_updated(hs):
    # "Upsert tasks" doc: tasks that don't exist are created, existing ones updated; reply carries `new`
    first = _upsert(hs, SimplePublicObjectBatchInputUpsert(id_property="afterclose_key", id="k-9",
                                                          properties={"hs_timestamp": DUE, "hs_task_subject": "v1"}))
    second = _upsert(hs, SimplePublicObjectBatchInputUpsert(id_property="afterclose_key", id="k-9",
                                                           properties={"hs_task_subject": "v2"}))
    assert first.results[0].new is True and second.results[0].new is False
    assert first.results[0].id == second.results[0].id
    assert second.results[0].properties["afterclose_key"] == "k-9"
    assert [r["properties"]["hs_task_subject"] for r in hs.sb.records("tasks")] == ["v2"]


def test_given_upsert_creating_task_without_hs_timestamp_then_400(hs):
    # tasks guide: hs_timestamp required on create, whichever route creates the task
    with pytest.raises(ApiException) as caught:
        _upsert(hs, SimplePublicObjectBatchInputUpsert(id_property="afterclose_key", id="k", properties={}))
    assert caught.value.status == 400


def test_given_upsert_by_non_unique_property_then_400(hs):
    # [2ND segmentio/action-destinations#3957]: "Unable to perform update/upsert by non-unique ... property"
    with pytest.raises(ApiException) as caught:
        _upsert(hs, SimplePublicObjectBatchInputUpsert(id_property="hs_task_subject", id="x", properties={"hs_timestamp": DUE}))
    assert "non-unique" in error_json(caught.value)["message"]


def test_given_same_key_twice_in_one_upsert_then_400_for_the_batch(hs):
    # [2ND segmentio/action-destinations#3969]: HubSpot rejects a batch resolving two inputs to one record
    item = SimplePublicObjectBatchInputUpsert(id_property="afterclose_key", id="dup", properties={"hs_timestamp": DUE})
    with pytest.raises(ApiException) as caught:
        _upsert(hs, item, item)
    assert caught.value.status == 400 and hs.sb.records("tasks") == []


def test_given_batch_read_by_id_property_then_found_by_key_and_missing_keys_reported(hs):
    # tasks spec batch/read: "include the idProperty parameter to retrieve records by a custom unique value"
    _upsert(hs, SimplePublicObjectBatchInputUpsert(id_property="afterclose_key", id="k-1", properties={"hs_timestamp": DUE}))
    reply = hs.client.crm.objects.tasks.batch_api.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
        id_property="afterclose_key", inputs=[SimplePublicObjectId(id="k-1"), SimplePublicObjectId(id="k-404")],
        properties=["afterclose_key"], properties_with_history=[]))
    assert [r.properties["afterclose_key"] for r in reply.results] == ["k-1"]
    assert reply.errors[0].context["ids"] == ["k-404"]


def test_given_archived_task_then_its_key_can_be_used_again(hs):
    # docs/hubspot-api-notes.md: archiving releases the unique value (sandbox choice, undocumented)
    created = _upsert(hs, SimplePublicObjectBatchInputUpsert(id_property="afterclose_key", id="k-2",
                                                            properties={"hs_timestamp": DUE})).results[0]
    hs.client.crm.objects.tasks.basic_api.archive(task_id=created.id)
    again = _upsert(hs, SimplePublicObjectBatchInputUpsert(id_property="afterclose_key", id="k-2",
                                                          properties={"hs_timestamp": DUE}))
    assert again.results[0].new is True and again.results[0].id != created.id


def test_given_portal_without_afterclose_properties_then_key_is_unknown(hs_factory):
    # brief: afterclose_properties=False seeds only the customer's own properties
    rig = hs_factory(afterclose_properties=False)
    with pytest.raises(ApiException) as caught:
        _upsert(rig, SimplePublicObjectBatchInputUpsert(id_property="afterclose_key", id="k", properties={"hs_timestamp": DUE}))
    assert caught.value.status == 400


def test_given_contact_email_exists_then_409_conflict_with_existing_id(hs):
    # [2ND HubSpot/hubspot-api-python#51, hubspot-api-nodejs#545]: "Contact already exists. Existing ID: N"
    existing = hs.sb.records("contacts")[0]
    with pytest.raises(ContactsApiException) as caught:
        hs.client.crm.contacts.basic_api.create(simple_public_object_input_for_create=ContactCreate(
            properties={"email": existing["properties"]["email"].upper()}))
    assert caught.value.status == 409
    assert error_json(caught.value)["message"] == f"Contact already exists. Existing ID: {existing['id']}"
