"""``propertiesWithHistory`` on reads: each value a property had, newest first, as ``ValueWithTimestamp``
(value, timestamp, sourceType) [SPEC contacts/deals/tasks specs; 2ND hubspot-api-nodejs#154 for the
source types], and the smaller page it allows [2ND dlt-hub/verified-sources#206, hubspot-api-python#143].
"""

from __future__ import annotations

import pytest
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.deals import BatchReadInputSimplePublicObjectId as DealRead
from hubspot.crm.deals import SimplePublicObjectId as DealId
from hubspot.crm.deals import SimplePublicObjectInput as DealInput
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate as TaskCreate

from tests.sandbox.hubspot_fixtures import raw


def _history(model, name: str) -> list[tuple[str, str]]:
    return [(v.value, v.source_type) for v in model.properties_with_history[name]]


def test_given_api_write_after_a_users_edit_when_get_with_history_then_every_value_newest_first(hs):
    deal = hs.deal_id(0)
    original = hs.sb.records("deals")[0]["properties"]["dealname"]
    hs.sb.edit("deals", deal, {"dealname": "By hand"})
    hs.client.crm.deals.basic_api.update(deal_id=deal, simple_public_object_input=DealInput(
        properties={"dealname": "By API"}))
    got = hs.client.crm.deals.basic_api.get_by_id(deal_id=deal, properties_with_history=["dealname", "no_such"])
    assert _history(got, "dealname") == [("By API", "API"), ("By hand", "CRM_UI"), (original, "IMPORT")]
    stamps = [v.timestamp for v in got.properties_with_history["dealname"]]
    assert stamps == sorted(stamps, reverse=True)
    assert set(got.properties_with_history) == {"dealname"}  # unknown names are ignored, as the spec says


def test_given_cleared_value_then_history_shows_the_clearing(hs):
    deal = hs.deal_id(0)
    hs.client.crm.deals.basic_api.update(deal_id=deal, simple_public_object_input=DealInput(
        properties={"customer_goal": ""}))
    got = hs.client.crm.deals.basic_api.get_by_id(deal_id=deal, properties_with_history=["customer_goal"])
    assert next(v.value for v in got.properties_with_history["customer_goal"]) == ""
    assert got.properties_with_history["customer_goal"][1].source_type == "IMPORT"


def test_given_batch_read_with_history_then_each_record_carries_its_own(hs):
    hs.sb.edit("deals", hs.deal_id(1), {"amount": "99"})
    reply = hs.client.crm.deals.batch_api.read(batch_read_input_simple_public_object_id=DealRead(
        inputs=[DealId(id=hs.deal_id(0)), DealId(id=hs.deal_id(1))], properties=["amount"],
        properties_with_history=["amount"]))
    by_id = {r.id: r for r in reply.results}
    assert len(by_id[hs.deal_id(0)].properties_with_history["amount"]) == 1
    assert by_id[hs.deal_id(1)].properties_with_history["amount"][0].value == "99"


def test_given_property_never_set_then_empty_history(hs):
    task = hs.client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=TaskCreate(
        properties={"hs_timestamp": "2025-03-20T09:00:00Z"}))
    got = hs.client.crm.objects.tasks.basic_api.get_by_id(task_id=task.id, properties_with_history=["hs_task_body"])
    assert got.properties_with_history == {"hs_task_body": []}


def test_given_history_on_list_then_at_most_50_per_page(hs):
    ok = raw(hs, "GET", "/crm/v3/objects/deals?limit=50&propertiesWithHistory=dealname")
    assert ok.status_code == 200 and len(ok.json()["results"]) == min(50, len(hs.sb.records("deals")))
    assert all("dealname" in r["propertiesWithHistory"] for r in ok.json()["results"])
    refused = raw(hs, "GET", "/crm/v3/objects/deals?limit=51&propertiesWithHistory=dealname")
    assert refused.status_code == 400 and "at most 50" in refused.json()["message"]


def test_given_history_on_batch_read_of_more_than_50_then_400(hs):
    with pytest.raises(DealsApiException) as caught:
        hs.client.crm.deals.batch_api.read(batch_read_input_simple_public_object_id=DealRead(
            inputs=[DealId(id=i) for i in list(hs.sb.demo_ids["deals"].values())[:45] + ["1"] * 6],
            properties=[], properties_with_history=["dealname"]))
    assert caught.value.status == 400
