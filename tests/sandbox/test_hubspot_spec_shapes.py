"""Replies shaped as HubSpot's published specs say (HubSpot/HubSpot-public-api-spec-collection):
account info, the owners path without a slash, pipeline stage writePermissions, 207 error entries,
v4 association paging. See docs/hubspot-api-notes.md for each source.
"""

from __future__ import annotations

import datetime as dt

from hubspot.crm.objects.tasks import (
    AssociationSpec,
    BatchInputSimplePublicObjectBatchInputForCreate,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectBatchInputForCreate,
)

from tests.sandbox.hubspot_fixtures import raw

PORTAL_KEYS = {"portalId", "accountType", "timeZone", "companyCurrency", "additionalCurrencies", "utcOffset",
               "utcOffsetMilliseconds", "uiDomain", "dataHostingLocation"}


def test_given_sdk_clients_of_this_suite_then_client_side_validation_is_on(hs):
    # The suite's promise: every reply is checked against the SDK's generated models.
    for api in (hs.client.crm.deals.basic_api, hs.client.crm.objects.tasks.batch_api,
                hs.client.crm.associations.v4.batch_api, hs.client.crm.pipelines.pipelines_api):
        assert api.api_client.configuration.client_side_validation is True


def test_given_two_sandboxes_with_other_portal_ids_when_account_details_read_then_each_its_own(hs_factory):
    # accountInfo.json PortalInformationResponse: every field required, portalId int32
    first, second = hs_factory(demo=False, portal_id=111), hs_factory(demo=False)
    mine, default = raw(first, "GET", "/account-info/v3/details"), raw(second, "GET", "/account-info/v3/details")
    assert mine.status_code == default.status_code == 200
    assert set(mine.json()) == PORTAL_KEYS
    assert mine.json()["portalId"] == 111 and default.json()["portalId"] == second.sb.portal_id != 111
    assert mine.json()["accountType"] in {"STANDARD", "DEVELOPER_TEST", "SANDBOX", "APP_DEVELOPER"}
    assert mine.json()["utcOffsetMilliseconds"] == 0 and mine.json()["utcOffset"] == "+00:00"


def test_given_calls_made_when_daily_usage_read_then_counted_against_the_daily_limit(hs_factory):
    # accountInfo.json CollectionResponseApiUsage; the daily limit is the sandbox's daily_limit
    rig = hs_factory(demo=False, daily_limit=1_000)
    for _ in range(3):
        rig.client.crm.pipelines.pipelines_api.get_all(object_type="deals")
    reply = raw(rig, "GET", "/account-info/v3/api-usage/daily/private-apps")
    [usage] = reply.json()["results"]
    assert usage["name"] == "private-apps-api-calls-daily" and usage["fetchStatus"] == "SUCCESS"
    assert usage["usageLimit"] == 1_000 and usage["currentUsage"] == 4  # three reads and this one
    resets = dt.datetime.fromisoformat(usage["resetsAt"].replace("Z", "+00:00"))
    assert resets.time() == dt.time(0) and resets > dt.datetime.now(dt.UTC)


def test_given_wrong_token_when_account_details_read_then_401(hs):
    reply = raw(hs, "GET", "/account-info/v3/details", token="wrong")
    assert reply.status_code == 401 and reply.json()["category"] == "INVALID_AUTHENTICATION"


def test_given_owners_path_without_slash_then_same_owners_as_the_sdk_path(hs):
    # crmOwners.json lists GET /crm/v3/owners; the Python SDK calls /crm/v3/owners/
    plain, slashed = raw(hs, "GET", "/crm/v3/owners?limit=100"), raw(hs, "GET", "/crm/v3/owners/?limit=100")
    assert plain.status_code == 200 and plain.json() == slashed.json()
    assert len(plain.json()["results"]) == 5
    assert hs.sb.controls.snapshot()["GET /crm/v3/owners"] == 1


def test_given_pipeline_stages_then_write_permissions_from_the_spec_enum(hs):
    # pipelines.json PipelineStage.writePermissions: CRM_PERMISSIONS_ENFORCEMENT | INTERNAL_ONLY | READ_ONLY
    reply = raw(hs, "GET", "/crm/v3/pipelines/deals").json()
    permissions = {s["writePermissions"] for p in reply["results"] for s in p["stages"]}
    assert permissions == {"CRM_PERMISSIONS_ENFORCEMENT"}


def test_given_per_input_error_in_207_then_standard_error_has_every_required_field(hs):
    # StandardError requires status, category, message, context, errors, links
    body = {"inputs": [{"properties": {"hs_timestamp": "2025-03-20T09:00:00Z"}, "objectWriteTraceId": "a"},
                       {"properties": {"hs_task_priority": "URGENT"}, "objectWriteTraceId": "b"}]}
    reply = raw(hs, "POST", "/crm/v3/objects/tasks/batch/create", json=body)
    assert reply.status_code == 207
    [error] = reply.json()["errors"]
    assert {"status", "category", "message", "context", "errors", "links"} <= set(error)
    assert all("message" in detail for detail in error["errors"])


def test_given_more_than_a_page_of_associations_when_v4_read_then_paging_next_without_link(hs):
    # associations v4 spec NextPage: after required, link optional (never null)
    deal = hs.deal_id(0)
    link = PublicAssociationsForObject(to=PublicObjectId(id=deal), types=[
        AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=216)])
    for _ in range(6):
        inputs = [SimplePublicObjectBatchInputForCreate(properties={"hs_timestamp": "2025-03-20T09:00:00Z"},
                                                        associations=[link]) for _ in range(100)]
        hs.client.crm.objects.tasks.batch_api.create(
            batch_input_simple_public_object_batch_input_for_create=BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=inputs))
    first = raw(hs, "POST", "/crm/v4/associations/deals/tasks/batch/read", json={"inputs": [{"id": deal}]}).json()
    [page] = first["results"]
    assert len(page["to"]) == 500 and set(page["paging"]["next"]) == {"after"}
    rest = raw(hs, "POST", "/crm/v4/associations/deals/tasks/batch/read",
               json={"inputs": [{"id": deal, "after": page["paging"]["next"]["after"]}]}).json()
    assert len(rest["results"][0]["to"]) == 100 and "paging" not in rest["results"][0]
