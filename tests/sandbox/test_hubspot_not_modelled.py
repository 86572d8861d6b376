"""What the HubSpot sandbox does not model answers so, and the list in docs/hubspot-api-notes.md
("Not modelled") stays true: each endpoint HubSpot serves and the sandbox does not is a 404
OBJECT_NOT_FOUND that says "not supported by this sandbox", each object type HubSpot has and the
sandbox does not is a 400 saying the same, and a search filter on associations is refused by name.
None of them is answered with a made-up success. Paths are the SDK's (hubspot-api-client 12).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sandbox.hubspot_fixtures import raw

NOTES = Path(__file__).parents[2] / "docs" / "hubspot-api-notes.md"

UNSERVED = [
    ("POST", "/crm/v3/objects/contacts/merge", {"primaryObjectId": "1", "objectIdToMerge": "2"}),
    ("POST", "/crm/v3/objects/deals/merge", {"primaryObjectId": "1", "objectIdToMerge": "2"}),
    ("POST", "/crm/v3/objects/contacts/gdpr-delete", {"objectId": "1"}),
    ("GET", "/crm-object-schemas/v3/schemas", None),
    ("GET", "/crm/v4/objects/deals/1/associations/contacts", None),
    ("PUT", "/crm/v4/objects/deals/1/associations/default/contacts/2", None),
    ("GET", "/crm/v4/associations/deals/contacts/labels", None),
    ("POST", "/crm/v3/associations/deals/contacts/batch/read", {"inputs": [{"id": "1"}]}),
    ("POST", "/crm/v3/properties/deals/batch/read", {"inputs": [{"name": "dealname"}], "archived": False}),
    ("PATCH", "/crm/v3/properties/deals/groups/dealinformation", {"label": "Deal information"}),
    ("DELETE", "/crm/v3/properties/deals/groups/dealinformation", None),
    ("POST", "/crm/v3/pipelines/deals", {"label": "New", "displayOrder": 2, "stages": []}),
    ("PATCH", "/crm/v3/pipelines/deals/default", {"label": "Renamed"}),
    ("GET", "/crm/v3/pipelines/deals/default/audit", None),
    ("GET", "/crm/v3/imports/", None),
    ("POST", "/crm/v3/exports/export/async", {"exportType": "VIEW"}),
    ("POST", "/crm/v3/lists/", {"name": "Customers", "objectTypeId": "0-1", "processingType": "MANUAL"}),
    ("GET", "/webhooks/v3/1/subscriptions", None),
    ("GET", "/files/v3/files", None),
    ("POST", "/oauth/v1/token", None),
    ("GET", "/oauth/v1/access-tokens/some-token", None),
]


@pytest.mark.parametrize("method, path, body", UNSERVED, ids=[f"{m} {p}" for m, p, _ in UNSERVED])
def test_given_an_endpoint_the_sandbox_does_not_serve_then_404_saying_so(hs, method, path, body):
    reply = raw(hs, method, path, json=body)
    assert reply.status_code == 404
    assert reply.json()["category"] == "OBJECT_NOT_FOUND"
    assert "not supported by this sandbox" in reply.json()["message"]


@pytest.mark.parametrize("object_type", ["tickets", "notes", "calls", "emails", "meetings", "line_items",
                                         "products", "quotes", "0-5", "2-4000123"])
def test_given_an_object_type_the_sandbox_does_not_model_then_400_saying_so(hs, object_type):
    reply = raw(hs, "GET", f"/crm/v3/objects/{object_type}")
    assert reply.status_code == 400
    assert reply.json()["message"].startswith(f"object type {object_type} is not supported by this sandbox")


def test_given_a_name_that_is_no_object_type_then_hubspots_own_answer(hs):
    reply = raw(hs, "GET", "/crm/v3/objects/widgets")
    assert (reply.status_code, reply.json()["message"]) == (400, "Unable to infer object type from: widgets")


def test_given_a_search_filter_on_associations_then_refused_by_name(hs):
    contact = hs.sb.demo_ids["contacts"][0]
    reply = raw(hs, "POST", "/crm/v3/objects/deals/search", json={
        "filterGroups": [{"filters": [{"propertyName": "associations.contact", "operator": "EQ", "value": contact}]}]})
    assert reply.status_code == 400
    assert "associations (associations.contact) is not supported by this sandbox" in reply.json()["message"]


def test_given_the_notes_then_their_not_modelled_list_names_each_endpoint_tested_here():
    text = NOTES.read_text(encoding="utf-8")
    section = text.split("## Not modelled", 1)[1].split("\n## ", 1)[0]
    for fragment in ("/merge", "gdpr-delete", "/crm-object-schemas/v3/schemas", "/crm/v4/objects/",
                     "/labels", "/crm/v3/associations/", "/crm/v3/properties/{objectType}/batch/",
                     "groups/{groupName}", "/crm/v3/pipelines/", "/audit", "/crm/v3/imports/",
                     "/crm/v3/exports/", "/crm/v3/lists/", "/webhooks/v3/", "/files/v3/", "/oauth/v1/token",
                     "/oauth/v1/access-tokens/", "associations.{type}", "MISSING_SCOPES"):
        assert fragment in section, fragment
