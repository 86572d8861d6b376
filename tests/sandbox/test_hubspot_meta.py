"""Owners, pipelines and properties through the SDK.

Sources: facts §2 (owners trailing slash, pipeline/stage models), facts §3 (pipeline ``default``,
stage metadata strings), properties create doc and unique-properties changelog (see meta.py).
"""

from __future__ import annotations

import pytest
from hubspot.crm.properties import ApiException, PropertyCreate


def test_given_owners_page_then_active_only_and_archived_lists_deactivated(hs):
    # facts §2: GET /crm/v3/owners/ ; archived=true lists deactivated owners
    active = hs.client.crm.owners.owners_api.get_page(limit=100, archived=False)
    assert len(active.results) == 5 and all(o.user_id for o in active.results)
    gone = hs.client.crm.owners.owners_api.get_page(archived=True).results
    assert [o.id for o in gone] == [hs.owner_id(5)]
    assert gone[0].user_id is None and gone[0].user_id_including_inactive and gone[0].archived
    assert hs.client.crm.owners.get_all().__len__() == 5


def test_given_owners_paging_then_all_seen(hs):
    # facts §2: owners paging via after
    page = hs.client.crm.owners.owners_api.get_page(limit=2)
    seen = [o.id for o in page.results]
    while page.paging:
        page = hs.client.crm.owners.owners_api.get_page(limit=2, after=page.paging.next.after)
        seen += [o.id for o in page.results]
    assert len(seen) == len(set(seen)) == 5


def test_given_owner_filter_by_email_then_one(hs):
    owner = hs.client.crm.owners.owners_api.get_page(email="grace.hopper@vendor.example").results
    assert [o.first_name for o in owner] == ["Grace"]


def test_given_pipelines_then_default_and_custom_with_string_metadata(hs):
    # facts §3: pipeline "default"; stage metadata strings; custom pipeline numeric stage ids
    pipelines = {p.id: p for p in hs.client.crm.pipelines.pipelines_api.get_all(object_type="deals").results}
    default = pipelines["default"]
    assert [s.id for s in default.stages][-2:] == ["closedwon", "closedlost"]
    won = next(s for s in default.stages if s.id == "closedwon")
    assert won.metadata == {"isClosed": "true", "probability": "1.0"}
    custom = next(p for pid, p in pipelines.items() if pid != "default")
    assert all(s.id.isdigit() for s in custom.stages)
    stages = hs.client.crm.pipelines.pipeline_stages_api.get_all(object_type="deals", pipeline_id=custom.id).results
    assert {s.id for s in stages if s.metadata["isClosed"] == "true" and float(s.metadata["probability"]) == 1.0} \
        == hs.sb.won_stage_ids - {"closedwon"}


def test_given_properties_get_all_then_afterclose_and_customer_fields_typed(hs):
    # brief: seeded AfterClose + customer properties; modificationMetadata.readOnlyValue
    props = {p.name: p for p in hs.client.crm.properties.core_api.get_all(object_type="deals").results}
    assert props["handoff_status"].type == "enumeration"
    assert {o.value for o in props["handoff_status"].options} == {"complete", "incomplete"}
    assert props["renewal_date"].type == "date" and props["nps_score"].type == "number"
    assert props["hs_lastmodifieddate"].modification_metadata.read_only_value is True
    assert props["decision_criteria"].modification_metadata.read_only_value is False


def test_given_property_create_then_201_and_second_time_409(hs):
    # brief: POST create -> 201; 409 if it exists
    create = PropertyCreate(name="health_score", label="Health", type="number", field_type="number",
                            group_name="afterclose")
    made = hs.client.crm.properties.core_api.create(object_type="deals", property_create=create)
    assert made.name == "health_score"
    with pytest.raises(ApiException) as caught:
        hs.client.crm.properties.core_api.create(object_type="deals", property_create=create)
    assert caught.value.status == 409
    got = hs.client.crm.properties.core_api.get_by_name(object_type="deals", property_name="health_score")
    assert got.type == "number"


def test_given_eleventh_unique_property_then_400(hs_factory):
    # unique-properties changelog: at most 10 unique properties per object type (on tasks where
    # the portal grants unique task properties at all)
    hs = hs_factory(task_uniqueness="grant")
    for n in range(9):  # afterclose_key is the first
        hs.client.crm.properties.core_api.create(object_type="tasks", property_create=PropertyCreate(
            name=f"u{n}", label=f"u{n}", type="string", field_type="text", group_name="g", has_unique_value=True))
    with pytest.raises(ApiException) as caught:
        hs.client.crm.properties.core_api.create(object_type="tasks", property_create=PropertyCreate(
            name="u9", label="u9", type="string", field_type="text", group_name="g", has_unique_value=True))
    assert caught.value.status == 400


def test_given_admin_deletes_or_renames_property_then_api_reflects_it(hs):
    # brief: sandbox helpers to delete/rename a property (adapter property checks)
    hs.sb.delete_property("deals", "customer_goal")
    from hubspot.crm.properties.exceptions import NotFoundException
    with pytest.raises(NotFoundException):
        hs.client.crm.properties.core_api.get_by_name(object_type="deals", property_name="customer_goal")
    hs.sb.rename_property("deals", "success_criteria", "success_metrics")
    deal = hs.client.crm.deals.basic_api.get_by_id(deal_id=hs.deal_id(0), properties=["success_metrics"])
    assert deal.properties["success_metrics"].startswith("Weekly active users")


def test_given_inactive_owner_on_task_then_rejected_per_input(hs):
    # brief: deactivated owner as hubspot_owner_id -> per-input VALIDATION_ERROR (undocumented by HubSpot)
    from hubspot.crm.objects.tasks import (
        BatchInputSimplePublicObjectBatchInputForCreate,
        SimplePublicObjectBatchInputForCreate,
    )
    inputs = [SimplePublicObjectBatchInputForCreate(properties={"hs_timestamp": "2025-03-20T09:00:00Z",
                                                                "hubspot_owner_id": owner}, associations=[],
                                                    object_write_trace_id=f"t{n}")
              for n, owner in enumerate((hs.owner_id(0), hs.owner_id(5)))]
    reply = hs.client.crm.objects.tasks.batch_api.create(
        batch_input_simple_public_object_batch_input_for_create=BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert len(reply.results) == 1 and reply.errors[0].category == "VALIDATION_ERROR"
    assert reply.errors[0].errors[0].code == "INACTIVE_OWNER"


def test_given_new_property_group_then_201_then_listed_and_second_create_409(hs):
    # Properties API, groups: POST /crm/v3/properties/{objectType}/groups -> 201; name taken -> 409
    # [DOC: https://developers.hubspot.com/docs/api/crm/properties]
    from hubspot.crm.properties import PropertyGroupCreate

    groups_api = hs.client.crm.properties.groups_api
    created = groups_api.create(object_type="companies",
                                property_group_create=PropertyGroupCreate(name="afterclose", label="AfterClose"))
    assert (created.name, created.label) == ("afterclose", "AfterClose")
    assert "afterclose" in {g.name for g in groups_api.get_all(object_type="companies").results}
    assert groups_api.get_by_name(object_type="companies", group_name="afterclose").label == "AfterClose"
    with pytest.raises(ApiException) as again:
        groups_api.create(object_type="companies",
                          property_group_create=PropertyGroupCreate(name="afterclose", label="AfterClose"))
    assert again.value.status == 409
