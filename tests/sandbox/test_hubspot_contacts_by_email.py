"""Contacts looked up by email (``idProperty=email``), and what idProperty may name otherwise.

Sources (docs/hubspot-api-notes.md "Looking records up by idProperty"): contacts spec GET/PATCH
"identified by ID or email/unique property value"; hubspot-api-python#50 (batch read by email);
hubspot-api-nodejs#548 (batch update by email: "Unable to perform update/upsert by non-unique 0-1
property"); segmentio/action-destinations#3957 (the same message for hs_object_id).
"""

from __future__ import annotations

import pytest
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
)
from hubspot.crm.contacts.exceptions import NotFoundException
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.deals import BatchReadInputSimplePublicObjectId as DealRead
from hubspot.crm.deals import SimplePublicObjectId as DealId

from tests.sandbox.hubspot_fixtures import error_json


def _a_contact(hs) -> dict:
    return hs.sb.records("contacts")[0]


def test_given_email_in_other_case_when_get_by_id_property_email_then_that_contact(hs):
    contact = _a_contact(hs)
    shouted = contact["properties"]["email"].upper()
    got = hs.client.crm.contacts.basic_api.get_by_id(contact_id=shouted, id_property="email",
                                                     properties=["email", "firstname"])
    assert got.id == contact["id"]
    assert got.properties["firstname"] == contact["properties"]["firstname"]


def test_given_unknown_email_when_get_by_id_property_email_then_404(hs):
    with pytest.raises(NotFoundException):
        hs.client.crm.contacts.basic_api.get_by_id(contact_id="nobody@nowhere.example", id_property="email")


def test_given_email_when_patch_by_id_property_email_then_contact_updated(hs):
    contact = _a_contact(hs)
    updated = hs.client.crm.contacts.basic_api.update(
        contact_id=contact["properties"]["email"].title(), id_property="email",
        simple_public_object_input=SimplePublicObjectInput(properties={"lastname": "Renamed"}))
    assert updated.id == contact["id"] and updated.properties["lastname"] == "Renamed"
    assert hs.sb.records("contacts")[0]["properties"]["lastname"] == "Renamed"


def test_given_emails_when_batch_read_by_email_then_found_regardless_of_case_and_missing_reported(hs):
    first, second = hs.sb.records("contacts")[:2]
    body = BatchReadInputSimplePublicObjectId(
        id_property="email", properties=["email"], properties_with_history=[],
        inputs=[SimplePublicObjectId(id=first["properties"]["email"].upper()),
                SimplePublicObjectId(id=second["properties"]["email"]),
                SimplePublicObjectId(id="ghost@nowhere.example")])
    reply = hs.client.crm.contacts.batch_api.read(batch_read_input_simple_public_object_id=body)
    assert sorted(r.id for r in reply.results) == sorted([first["id"], second["id"]])
    assert reply.errors[0].category == "OBJECT_NOT_FOUND"
    assert reply.errors[0].context["ids"] == ["ghost@nowhere.example"]


def test_given_email_when_batch_update_by_email_then_400_non_unique_and_nothing_changed(hs):
    contact = _a_contact(hs)
    body = BatchInputSimplePublicObjectBatchInput(inputs=[SimplePublicObjectBatchInput(
        id=contact["properties"]["email"], id_property="email", properties={"lastname": "Nope"})])
    with pytest.raises(ContactsApiException) as caught:
        hs.client.crm.contacts.batch_api.update(batch_input_simple_public_object_batch_input=body)
    assert caught.value.status == 400
    error = error_json(caught.value)
    assert error["category"] == "VALIDATION_ERROR"
    assert error["message"].startswith("Unable to perform update/upsert by non-unique 0-1 property email")
    assert hs.sb.records("contacts")[0]["properties"]["lastname"] == contact["properties"]["lastname"]


def test_given_email_when_batch_upsert_by_email_then_400_and_no_contact_created(hs):
    before = len(hs.sb.records("contacts"))
    body = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[SimplePublicObjectBatchInputUpsert(
        id="new.person@example.com", id_property="email", properties={"firstname": "New"})])
    with pytest.raises(ContactsApiException) as caught:
        hs.client.crm.contacts.batch_api.upsert(batch_input_simple_public_object_batch_input_upsert=body)
    assert caught.value.status == 400 and "non-unique 0-1 property email" in error_json(caught.value)["message"]
    assert len(hs.sb.records("contacts")) == before


def test_given_non_unique_deal_property_when_batch_read_by_it_then_400_naming_it(hs):
    body = DealRead(id_property="dealname", properties=["dealname"], properties_with_history=[],
                    inputs=[DealId(id="Acme Corp - Platform 2026")])
    with pytest.raises(DealsApiException) as caught:
        hs.client.crm.deals.batch_api.read(batch_read_input_simple_public_object_id=body)
    error = error_json(caught.value)
    assert caught.value.status == 400 and error["category"] == "VALIDATION_ERROR"
    assert "non-unique 0-3 property dealname" in error["message"]
    assert error["context"]["propertyName"] == ["dealname"]


def test_given_hs_object_id_when_batch_update_by_it_then_message_names_the_portal(hs_factory):
    rig = hs_factory(portal_id=424242)
    from hubspot.crm.deals import BatchInputSimplePublicObjectBatchInput as DealUpdates
    from hubspot.crm.deals import SimplePublicObjectBatchInput as DealUpdate
    body = DealUpdates(inputs=[DealUpdate(id=rig.deal_id(0), id_property="hs_object_id", properties={"amount": "1"})])
    with pytest.raises(DealsApiException) as caught:
        rig.client.crm.deals.batch_api.update(batch_input_simple_public_object_batch_input=body)
    assert error_json(caught.value)["message"] == (
        "Unable to perform update/upsert by non-unique 0-3 property hs_object_id in portal ID 424242")
