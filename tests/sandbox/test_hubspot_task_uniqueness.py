"""The three portals an adapter must survive (facts §7: unique task properties are UNVERIFIED):
``refuse`` (400 on a unique task property), ``ignore`` (created, read back not unique, duplicates
accepted), ``grant`` (enforced). See connector/sandbox/hubspot/uniqueness.py and
docs/hubspot-api-notes.md "Unique values and upsert on tasks".
"""

from __future__ import annotations

import pytest
from hubspot.crm.objects.tasks import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import PropertyCreate

from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.hubspot.uniqueness import DEFAULT_TASK_UNIQUENESS
from tests.sandbox.hubspot_fixtures import error_json

DUE = "2025-03-20T09:00:00Z"
UNIQUE_KEY = PropertyCreate(name="sync_key", label="Sync key", type="string", field_type="text",
                            group_name="afterclose", has_unique_value=True)


def _create_task(rig, key: str):
    return rig.client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": DUE, "afterclose_key": key}))


def _key_property(rig):
    return rig.client.crm.properties.core_api.get_by_name(object_type="tasks", property_name="afterclose_key")


def test_given_no_setting_then_default_is_the_stricter_reading_refuse():
    # No public source shows a unique task property: the sandbox refuses them unless told otherwise.
    assert HubSpotSandbox().task_uniqueness == DEFAULT_TASK_UNIQUENESS == "refuse"


def test_given_unknown_mode_then_value_error_listing_the_modes():
    with pytest.raises(ValueError, match="refuse, ignore, grant"):
        HubSpotSandbox(task_uniqueness="sometimes")


# --- refuse -------------------------------------------------------------------------------------

def test_given_refuse_when_unique_task_property_created_then_400_validation_error_and_nothing_created(hs_factory):
    rig = hs_factory(demo=False, task_uniqueness="refuse")
    with pytest.raises(PropertiesApiException) as caught:
        rig.client.crm.properties.core_api.create(object_type="tasks", property_create=UNIQUE_KEY)
    body = error_json(caught.value)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["context"]["propertyName"] == ["sync_key"] and body["correlationId"]
    assert "sync_key" not in {p.name for p in rig.client.crm.properties.core_api.get_all(object_type="tasks").results}


def test_given_refuse_then_unique_deal_property_still_created(hs_factory):
    rig = hs_factory(demo=False, task_uniqueness="refuse")
    made = rig.client.crm.properties.core_api.create(object_type="deals", property_create=UNIQUE_KEY)
    assert made.has_unique_value is True


def test_given_refuse_with_afterclose_properties_then_seeded_task_key_is_not_unique(hs_factory):
    rig = hs_factory(demo=False, task_uniqueness="refuse")
    assert _key_property(rig).has_unique_value is False


def test_given_refuse_when_upsert_by_task_key_then_400_non_unique_and_no_task(hs_factory):
    # facts §7 2ND: "Unable to perform update/upsert by non-unique 0-2 property ..."
    rig = hs_factory(demo=False, task_uniqueness="refuse")
    with pytest.raises(ApiException) as caught:
        rig.client.crm.objects.tasks.batch_api.upsert(
            batch_input_simple_public_object_batch_input_upsert=BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
                SimplePublicObjectBatchInputUpsert(id_property="afterclose_key", id="k1", properties={"hs_timestamp": DUE})]))
    assert caught.value.status == 400
    assert "non-unique 0-27 property afterclose_key" in error_json(caught.value)["message"]
    assert rig.sb.records("tasks") == []


def test_given_refuse_when_read_or_update_by_task_key_then_400(hs_factory):
    rig = hs_factory(demo=False, task_uniqueness="refuse")
    task = _create_task(rig, "k1")
    with pytest.raises(ApiException) as read:
        rig.client.crm.objects.tasks.batch_api.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            id_property="afterclose_key", inputs=[SimplePublicObjectId(id="k1")], properties=[], properties_with_history=[]))
    assert read.value.status == 400
    with pytest.raises(ApiException) as update:
        rig.client.crm.objects.tasks.batch_api.update(batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id="k1", id_property="afterclose_key", properties={"hs_task_subject": "x"})]))
    assert update.value.status == 400
    with pytest.raises(ApiException) as single:
        rig.client.crm.objects.tasks.basic_api.get_by_id(task_id="k1", id_property="afterclose_key")
    assert single.value.status == 400
    assert rig.client.crm.objects.tasks.basic_api.get_by_id(task_id=task.id).id == task.id


def test_given_refuse_then_define_property_cannot_make_a_unique_task_property(hs_factory):
    rig = hs_factory(demo=False, task_uniqueness="refuse")
    with pytest.raises(ValueError, match="task_uniqueness='refuse'"):
        rig.sb.define_property("tasks", "sync_key", has_unique_value=True)


# --- ignore -------------------------------------------------------------------------------------

def test_given_ignore_when_unique_task_property_created_then_201_but_reads_back_not_unique(hs_factory):
    rig = hs_factory(demo=False, task_uniqueness="ignore")
    made = rig.client.crm.properties.core_api.create(object_type="tasks", property_create=UNIQUE_KEY)
    assert made.name == "sync_key" and made.has_unique_value is False
    read = rig.client.crm.properties.core_api.get_by_name(object_type="tasks", property_name="sync_key")
    assert read.has_unique_value is False


def test_given_ignore_then_duplicate_task_keys_are_accepted(hs_factory):
    rig = hs_factory(demo=False, task_uniqueness="ignore")
    assert _key_property(rig).has_unique_value is False
    first, second = _create_task(rig, "same"), _create_task(rig, "same")
    assert first.id != second.id
    assert [t["properties"]["afterclose_key"] for t in rig.sb.records("tasks")] == ["same", "same"]


def test_given_ignore_when_upsert_by_task_key_then_400_non_unique(hs_factory):
    rig = hs_factory(demo=False, task_uniqueness="ignore")
    with pytest.raises(ApiException) as caught:
        rig.client.crm.objects.tasks.batch_api.upsert(
            batch_input_simple_public_object_batch_input_upsert=BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
                SimplePublicObjectBatchInputUpsert(id_property="afterclose_key", id="k1", properties={"hs_timestamp": DUE})]))
    assert "non-unique" in error_json(caught.value)["message"]


# --- grant --------------------------------------------------------------------------------------

def test_given_grant_then_unique_task_property_enforced(hs_factory):
    rig = hs_factory(demo=False, task_uniqueness="grant")
    made = rig.client.crm.properties.core_api.create(object_type="tasks", property_create=UNIQUE_KEY)
    assert made.has_unique_value is True and _key_property(rig).has_unique_value is True
    _create_task(rig, "once")
    with pytest.raises(ApiException) as caught:
        _create_task(rig, "once")
    assert "already has that value" in error_json(caught.value)["message"]
    assert len(rig.sb.records("tasks")) == 1
