"""Property definitions: every declared field of create and PATCH is applied or refused, types and
fieldTypes from the spec's enums in the guide's combinations, and the ``define_property`` helper.

Sources: PropertyCreate/PropertyUpdate in HubSpot/HubSpot-public-api-spec-collection
PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json; properties guide table of valid
type/fieldType pairs [DOC https://developers.hubspot.com/docs/api/crm/properties].
"""

from __future__ import annotations

import pytest
from hubspot.crm.properties import ApiException, OptionInput, PropertyCreate, PropertyUpdate

from tests.sandbox.hubspot_fixtures import error_json, raw


def _create(hs, object_type: str = "deals", **fields) -> dict:
    body = {"name": "health_note", "label": "Health", "type": "string", "fieldType": "text",
            "groupName": "afterclose"} | fields
    return raw(hs, "POST", f"/crm/v3/properties/{object_type}", json=body)


def _patch(hs, name: str, body: dict, object_type: str = "deals"):
    return raw(hs, "PATCH", f"/crm/v3/properties/{object_type}/{name}", json=body)


def test_given_patch_of_group_order_hidden_and_hints_then_each_applied_and_read_back(hs):
    assert _create(hs, fieldType="textarea").status_code == 201
    reply = _patch(hs, "health_note", {"groupName": "dealinformation", "displayOrder": 7, "hidden": True,
                                       "label": "Health note", "description": "Why", "formField": False,
                                       "textDisplayHint": "multi_line"})
    assert reply.status_code == 200
    got = hs.client.crm.properties.core_api.get_by_name(object_type="deals", property_name="health_note")
    assert (got.group_name, got.display_order, got.hidden) == ("dealinformation", 7, True)
    assert (got.label, got.description, got.form_field) == ("Health note", "Why", False)
    assert raw(hs, "GET", "/crm/v3/properties/deals/health_note").json()["textDisplayHint"] == "multi_line"


def test_given_patch_with_sdk_options_then_hidden_option_and_order_kept(hs):
    hs.client.crm.properties.core_api.create(object_type="deals", property_create=PropertyCreate(
        name="tier", label="Tier", type="enumeration", field_type="select", group_name="afterclose",
        options=[OptionInput(label="Gold", value="gold", hidden=False, display_order=0)]))
    updated = hs.client.crm.properties.core_api.update(object_type="deals", property_name="tier",
                                                       property_update=PropertyUpdate(options=[
        OptionInput(label="Gold", value="gold", hidden=True, display_order=1),
        OptionInput(label="Silver", value="silver", hidden=False, display_order=0)]))
    assert [(o.value, o.hidden, o.display_order) for o in updated.options] == [("gold", True, 1), ("silver", False, 0)]


@pytest.mark.parametrize("body, needle", [
    ({"hasUniqueValue": True}, "hasUniqueValue cannot be changed"),
    ({"name": "other_name"}, "Unrecognized field(s) for PropertyUpdate: name"),
    ({"fieldType": "dropdown"}, "fieldType 'dropdown' is not one of"),
    ({"fieldType": "date"}, "cannot be used with type 'string'"),
    ({"calculationFormula": "1 + 1"}, "does not compute calculated properties"),
    ({"numberDisplayHint": "roman"}, "numberDisplayHint 'roman' is not one of"),
    ({"displayOrder": "first"}, "displayOrder must be an integer"),
    ({"options": [{"label": "A", "value": "a"}]}, "missing hidden"),
])
def test_given_patch_field_that_cannot_apply_then_400_naming_it_and_definition_unchanged(hs, body, needle):
    _create(hs)
    reply = _patch(hs, "health_note", body)
    assert reply.status_code == 400 and reply.json()["category"] == "VALIDATION_ERROR"
    assert needle in reply.json()["message"]
    after = raw(hs, "GET", "/crm/v3/properties/deals/health_note").json()
    assert (after["fieldType"], after["hasUniqueValue"], after["options"]) == ("text", False, [])


def test_given_hubspot_defined_property_when_patched_then_400(hs):
    reply = _patch(hs, "dealname", {"label": "Name"})
    assert reply.status_code == 400 and "HubSpot-defined" in reply.json()["message"]


def test_given_type_change_that_fits_every_value_then_values_converted_and_searchable_as_numbers(hs):
    hs.sb.define_property("deals", "seats", type="string", field_type="text")
    hs.sb.edit("deals", hs.deal_id(0), {"seats": "12"})
    hs.sb.edit("deals", hs.deal_id(1), {"seats": "9"})
    assert _patch(hs, "seats", {"type": "number", "fieldType": "number"}).status_code == 200
    found = raw(hs, "POST", "/crm/v3/objects/deals/search", json={
        "filterGroups": [{"filters": [{"propertyName": "seats", "operator": "GT", "value": "10"}]}]}).json()
    assert [r["id"] for r in found["results"]] == [hs.deal_id(0)]  # numeric, not "9" > "10"


def test_given_type_change_a_stored_value_cannot_hold_then_400_naming_the_record(hs):
    hs.sb.define_property("deals", "seats", type="string", field_type="text")
    hs.sb.edit("deals", hs.deal_id(2), {"seats": "a dozen"})
    reply = _patch(hs, "seats", {"type": "number", "fieldType": "number"})
    assert reply.status_code == 400 and f"deals {hs.deal_id(2)}" in reply.json()["message"]
    assert raw(hs, "GET", "/crm/v3/properties/deals/seats").json()["type"] == "string"


@pytest.mark.parametrize("type_, field_type", [
    ("phone_number", "phonenumber"), ("string", "html"), ("string", "phonenumber"), ("bool", "booleancheckbox"),
    ("datetime", "date"), ("date", "date"), ("number", "number"), ("string", "file"),
])
def test_given_every_spec_type_when_created_then_201_and_read_back(hs, type_, field_type):
    options = [{"label": "Yes", "value": "true", "hidden": False}, {"label": "No", "value": "false", "hidden": False}]
    reply = _create(hs, "contacts", type=type_, fieldType=field_type, **({"options": options} if type_ == "bool" else {}))
    assert reply.status_code == 201, reply.text
    got = hs.client.crm.properties.core_api.get_by_name(object_type="contacts", property_name="health_note")
    assert (got.type, got.field_type) == (type_, field_type)


def test_given_phone_number_property_then_values_written_and_read_as_text(hs):
    _create(hs, "contacts", type="phone_number", fieldType="phonenumber")
    contact = hs.sb.records("contacts")[0]["id"]
    from hubspot.crm.contacts import SimplePublicObjectInput
    updated = hs.client.crm.contacts.basic_api.update(contact_id=contact, simple_public_object_input=SimplePublicObjectInput(
        properties={"health_note": "+1 617 555 0100"}))
    assert updated.properties["health_note"] == "+1 617 555 0100"


@pytest.mark.parametrize("fields, needle", [
    ({"fieldType": "dropdown"}, "fieldType 'dropdown' is not one of"),
    ({"type": "currency"}, "type 'currency' is not one of"),
    ({"type": "enumeration", "fieldType": "text", "options": []}, "cannot be used with type 'enumeration'"),
    ({"type": "enumeration", "fieldType": "select"}, "need at least one option"),
    ({"fieldType": "calculation_equation"}, "does not compute calculated properties"),
    ({"externalOptions": True}, "referencedObjectType OWNER"),
    ({"colour": "red"}, "Unrecognized field(s) for PropertyCreate: colour"),
    ({"hidden": "yes"}, "hidden must be true or false"),
])
def test_given_create_outside_the_spec_then_400_and_nothing_created(hs, fields, needle):
    reply = _create(hs, **fields)
    assert reply.status_code == 400 and needle in reply.json()["message"]
    assert raw(hs, "GET", "/crm/v3/properties/deals/health_note").status_code == 404


def test_given_owner_referencing_property_then_values_checked_against_owners(hs):
    reply = _create(hs, type="enumeration", fieldType="select", externalOptions=True, referencedObjectType="OWNER",
                    name="csm_owner")
    assert reply.status_code == 201 and reply.json()["referencedObjectType"] == "OWNER"
    from hubspot.crm.deals import ApiException as DealsApiException
    from hubspot.crm.deals import SimplePublicObjectInput as DealInput
    ok = hs.client.crm.deals.basic_api.update(deal_id=hs.deal_id(0), simple_public_object_input=DealInput(
        properties={"csm_owner": hs.owner_id(1)}))
    assert ok.properties["csm_owner"] == hs.owner_id(1)
    with pytest.raises(DealsApiException) as caught:
        hs.client.crm.deals.basic_api.update(deal_id=hs.deal_id(0), simple_public_object_input=DealInput(
            properties={"csm_owner": "12345"}))
    assert error_json(caught.value)["errors"][0]["code"] == "INVALID_OWNER_ID"


def test_given_define_property_helper_then_any_object_gets_the_property_as_an_admin_left_it(hs):
    hs.sb.define_property("deals", name="referral_status", type="string", field_type="text")
    hs.sb.define_property("companies", "tier", type="enumeration", field_type="radio",
                          options=(("Gold", "gold"), ("Silver", "silver")), group_name="companyinformation")
    deal_prop = hs.client.crm.properties.core_api.get_by_name(object_type="deals", property_name="referral_status")
    assert (deal_prop.type, deal_prop.field_type) == ("string", "text")
    tier = hs.client.crm.properties.core_api.get_by_name(object_type="companies", property_name="tier")
    assert [o.value for o in tier.options] == ["gold", "silver"] and tier.group_name == "companyinformation"
    from hubspot.crm.deals import SimplePublicObjectInput as DealInput
    written = hs.client.crm.deals.basic_api.update(deal_id=hs.deal_id(0), simple_public_object_input=DealInput(
        properties={"referral_status": "whatever the admin allows"}))
    assert written.properties["referral_status"] == "whatever the admin allows"


def test_given_define_property_with_impossible_definition_then_value_error_naming_it(hs):
    with pytest.raises(ValueError, match="deals.x: fieldType 'select' cannot be used with type 'string'"):
        hs.sb.define_property("deals", "x", type="string", field_type="select")
    hs.sb.edit("deals", hs.deal_id(0), {"customer_goal": "grow"})
    with pytest.raises(ValueError, match="cannot change customer_goal from string to number"):
        hs.sb.define_property("deals", "customer_goal", type="number", field_type="number")


def test_given_unique_property_when_type_change_would_merge_two_values_then_400_and_values_kept(hs):
    made = hs.client.crm.properties.core_api.create(object_type="deals", property_create=PropertyCreate(
        name="contract_ref", label="Contract", type="string", field_type="text", group_name="afterclose",
        has_unique_value=True))
    assert made.has_unique_value is True
    hs.sb.edit("deals", hs.deal_id(0), {"contract_ref": "7"})
    hs.sb.edit("deals", hs.deal_id(1), {"contract_ref": "7.0"})
    with pytest.raises(ApiException) as caught:
        hs.client.crm.properties.core_api.update(object_type="deals", property_name="contract_ref",
                                                 property_update=PropertyUpdate(type="number", field_type="number"))
    assert caught.value.status == 400 and "both hold '7'" in error_json(caught.value)["message"]
    values = {r["id"]: r["properties"].get("contract_ref") for r in hs.sb.records("deals")}
    assert (values[hs.deal_id(0)], values[hs.deal_id(1)]) == ("7", "7.0")
