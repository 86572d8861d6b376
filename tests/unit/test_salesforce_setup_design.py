"""What `afterclose setup` wants in a Salesforce org, for every canonical type: the CustomField
Metadata (which the sandbox's Tooling API must accept as Salesforce would), its package file, and
the field permissions (connector/salesforce/setup_design.py, setup_package.py)."""

from __future__ import annotations

import dataclasses
from xml.etree import ElementTree as ET

import pytest

from connector.mapping import FieldSpec, FieldType, builtin_mapping, load_mapping
from connector.model import RecordKind
from connector.salesforce import setup_design as design
from connector.salesforce import setup_package
from connector.sandbox.salesforce import tooling

EXPECTED = {  # canonical type -> (Metadata type, sandbox describe type)
    FieldType.TEXT: ("LongTextArea", "textarea"),
    FieldType.NUMBER: ("Number", "double"),
    FieldType.DATE: ("Date", "date"),
    FieldType.DATETIME: ("DateTime", "datetime"),
    FieldType.BOOL: ("Checkbox", "boolean"),
    FieldType.ENUM: ("Picklist", "picklist"),
}


def _spec(type_: FieldType, **kw) -> FieldSpec:
    options = ("not_eligible", "asked") if type_ is FieldType.ENUM else ()
    return FieldSpec(canonical="my_field", record=RecordKind.DEAL, crm_name="My_Field__c", type=type_,
                     options=options, afterclose_owned=True, **kw)


@pytest.mark.parametrize("type_", list(FieldType))
def test_given_each_canonical_type_then_metadata_is_accepted_by_the_tooling_api_with_that_type(type_):
    metadata = design.field_metadata(_spec(type_))
    assert metadata["type"] == EXPECTED[type_][0]
    field = tooling.field_from_metadata("My_Field__c", metadata)
    assert field.type == EXPECTED[type_][1] and field.custom
    assert field.nillable is (type_ is not FieldType.BOOL)  # a checkbox is never null
    assert field.label == "My field"
    if type_ is FieldType.ENUM:
        assert field.picklist == ("not_eligible", "asked") and field.restricted


@pytest.mark.parametrize("type_", list(FieldType))
def test_given_each_canonical_type_then_the_package_file_carries_the_same_metadata(type_):
    item = design.FieldDesign(sobject="Account", name="My_Field__c", metadata=design.field_metadata(_spec(type_)),
                              mapping_key="fields.my_field")
    root = setup_package._xml("CustomField", setup_package.custom_field_elements(item))
    values = {child.tag: child.text for child in root}
    assert values["fullName"] == "My_Field__c" and values["type"] == EXPECTED[type_][0]
    assert root[0].tag == "fullName"  # first, as Salesforce writes it on retrieve
    if type_ is FieldType.BOOL:
        assert values["defaultValue"] == "false"
    if type_ is FieldType.TEXT:
        assert (values["length"], values["visibleLines"]) == ("32768", "3")
    if type_ is FieldType.ENUM:
        labels = [v.findtext("label") for v in root.iter("value")]
        assert labels == ["Not eligible", "Asked"]
    ET.tostring(root)  # well-formed


def test_given_task_key_then_text_255_external_id_unique_case_insensitive_on_activity():
    fieldmap = load_mapping(builtin_mapping("salesforce"))
    wanted, refused = design.own_fields(fieldmap)
    key = next(f for f in wanted if f.sobject == "Task")
    assert (key.full_name, key.table) == ("Activity.AfterClose_Key__c", "Activity") and refused == []
    assert {k: key.metadata[k] for k in ("type", "length", "externalId", "unique", "caseSensitive")} == {
        "type": "Text", "length": 255, "externalId": True, "unique": True, "caseSensitive": False}
    # the same field on two objects is two fields; the same field twice on one object is one
    names = [(f.sobject, f.name) for f in wanted]
    assert ("Account", "NPS_Score__c") in names and ("Opportunity", "NPS_Score__c") in names
    assert len(names) == len(set(names))


def test_given_owned_entry_with_a_standard_field_name_then_it_is_refused_with_what_to_do():
    fieldmap = load_mapping(builtin_mapping("salesforce"))
    fields = dict(fieldmap.fields)
    fields["deal_type"] = dataclasses.replace(fields["deal_type"], afterclose_owned=True)
    wanted, refused = design.own_fields(dataclasses.replace(fieldmap, fields=fields))
    assert [line.split(" (")[0] for line in refused] == ["Opportunity.Type"]
    assert "afterclose = false" in refused[0] and all(f.name != "Type" for f in wanted)


def test_given_builtin_mapping_then_grants_read_everything_used_and_edit_only_what_is_written():
    fieldmap = load_mapping(builtin_mapping("salesforce"))
    grants = {g.field: g.edit for g in design.wanted_grants(fieldmap)}
    assert grants["Opportunity.Decision_Criteria__c"] is False and grants["Opportunity.Handoff_Status__c"] is True
    assert grants["Task.AfterClose_Key__c"] is True and grants["Task.IsClosed"] is False
    assert grants["Opportunity.Amount"] is False and grants["Account.NPS_Score__c"] is True
    assert not any(name.startswith("Activity.") for name in grants)


def test_given_permission_sets_unreadable_for_this_user_then_setup_says_so_and_goes_on():
    from connector.errors import FatalCrmError
    from connector.salesforce import setup_org

    class Refusing:
        def query(self, soql):
            raise FatalCrmError("sObject type 'PermissionSet' is not supported.", provider="salesforce", status=400,
                                error_code="INVALID_TYPE")

    report = setup_org.OrgSetup()
    assert setup_org.permission_set(Refusing(), report) is None
    assert report.refused == ["read permission sets (INVALID_TYPE: it needs View Setup and Configuration)"]


def test_given_the_renewal_deal_key_uncommented_then_setup_makes_it_an_external_id_and_grants_what_a_create_writes():
    from tests.builders import renewal_deal_mapping

    fieldmap = renewal_deal_mapping("salesforce")
    wanted, refused = design.own_fields(fieldmap)
    key = next(f for f in wanted if f.name == "AfterClose_Renewal_Key__c")
    assert key.sobject == "Opportunity" and refused == []
    assert {k: key.metadata[k] for k in ("type", "length", "externalId", "unique", "label")} == {
        "type": "Text", "length": 255, "externalId": True, "unique": True, "label": "AfterClose renewal deal key"}
    grants = {g.field: g.edit for g in design.wanted_grants(fieldmap)}
    assert grants["Opportunity.AfterClose_Renewal_Key__c"] and grants["Opportunity.Amount"]
    assert grants["Opportunity.Type"] and grants["Opportunity.AccountId"]
    plain = {g.field: g.edit for g in design.wanted_grants(load_mapping(builtin_mapping("salesforce")))}
    assert plain["Opportunity.Amount"] is False  # without renewal deals nothing more is asked
