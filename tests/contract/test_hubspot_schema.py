"""The property check against a live (sandbox) portal, and ``setup`` of AfterClose's own properties."""

from __future__ import annotations

import dataclasses

from connector.mapping import FieldSpec, FieldType
from connector.model import RecordKind
from tests.contract.hubspot_harness import hubspot_fieldmap, hubspot_harness

PROPERTIES_DEALS = "GET /crm/v3/properties/deals"


def _problems(h) -> dict[str, str]:
    return {f"{p.mapping_key} -> {p.crm_field}": p.problem for p in h.adapter.check_schema()}


def test_given_matching_portal_when_checked_then_no_problems_and_one_read_per_object_type():
    with hubspot_harness() as h:
        assert h.adapter.check_schema() == []
        assert h.adapter.check_schema() == []  # cached for the run
        calls = h.sandbox.controls.snapshot()
        assert calls == {PROPERTIES_DEALS: 1, "GET /crm/v3/properties/tasks": 1}


def test_given_mapped_property_deleted_when_checked_then_problem_names_mapping_key_and_property():
    with hubspot_harness() as h:
        h.sandbox.delete_property("deals", "decision_criteria")
        [problem] = h.adapter.check_schema()
        assert (problem.mapping_key, problem.crm_field) == ("decision_criteria", "deals.decision_criteria")
        assert "does not exist" in problem.problem


def test_given_mapped_property_renamed_when_checked_then_problem_suggests_the_new_name():
    with hubspot_harness() as h:
        h.sandbox.rename_property("deals", "customer_goal", "customer_goals")
        [problem] = h.adapter.check_schema()
        assert str(problem).startswith("customer_goal -> deals.customer_goal:")
        assert "did you mean customer_goals?" in problem.problem


def test_given_enumeration_without_a_value_afterclose_writes_when_checked_then_missing_option_named():
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        h.sandbox.define_property("deals", "referral_status", type="enumeration", field_type="select",
                                  options=(("Eligible", "eligible"), ("Asked", "asked")))
        problems = _problems(h)
        message = problems["referral_status -> deals.referral_status"]
        assert "not_eligible" in message and "referred" in message and "declined" in message


def test_given_number_mapped_onto_text_and_date_onto_datetime_when_checked_then_type_mismatch():
    fieldmap = hubspot_fieldmap()
    fields = dict(fieldmap.fields)
    fields["nps_score"] = dataclasses.replace(fields["nps_score"], crm_name="handoff_missing")
    fields["close_day"] = FieldSpec(canonical="close_day", record=RecordKind.DEAL, crm_name="closedate",
                                    type=FieldType.DATE)
    with hubspot_harness(fieldmap=dataclasses.replace(fieldmap, fields=fields)) as h:
        problems = _problems(h)
        assert "mapped as number but the property's type is string" in problems["nps_score -> deals.handoff_missing"]
        assert "mapped as date but the property's type is datetime" in problems["close_day -> deals.closedate"]


def test_given_write_back_onto_calculated_property_when_checked_then_read_only_problem():
    fieldmap = hubspot_fieldmap(handoff_status="hs_is_closed_won")
    fields = dict(fieldmap.fields)
    fields["handoff_status"] = dataclasses.replace(fields["handoff_status"], type=FieldType.BOOL, options=())
    with hubspot_harness(fieldmap=dataclasses.replace(fieldmap, fields=fields)) as h:
        assert "read-only" in _problems(h)["handoff_status -> deals.hs_is_closed_won"]


def test_given_task_key_missing_or_not_unique_when_checked_then_task_key_problem():
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        problems = _problems(h)
        assert "does not exist" in problems["task_key_field -> tasks.afterclose_key"]
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        h.sandbox.define_property("tasks", "afterclose_key", has_unique_value=False)
        assert "unique" in _problems(h)["task_key_field -> tasks.afterclose_key"]


def test_given_fresh_portal_when_setup_twice_then_properties_created_once_and_schema_fits():
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        assert h.adapter.check_schema() != []
        first = h.adapter.setup()
        created = [line for line in first if line.startswith("created deals.") or line.startswith("created tasks.")]
        assert len(created) == 7
        assert "created tasks.afterclose_key (string, unique)" in first
        second = h.adapter.setup()
        assert all(line.startswith("exists") for line in second), second
        assert h.adapter.check_schema() == []
        labels = h.sandbox.controls.snapshot()
        assert labels["POST /crm/v3/properties/deals"] == 6 and labels["POST /crm/v3/properties/tasks"] == 1


def test_given_own_enum_lacking_an_option_when_setup_then_option_added_keeping_the_others():
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        h.sandbox.define_property("deals", "nps_category", type="enumeration", field_type="select",
                                  options=(("Promoter", "promoter"), ("Custom", "custom")))
        report = h.adapter.setup()
        assert "added option(s) passive, detractor to deals.nps_category" in report
        assert h.adapter.check_schema() == []
        live = h.sandbox.backend.store.schema["deals"]["nps_category"].options
        assert [value for _label, value in live] == ["promoter", "custom", "passive", "detractor"]


def test_given_existing_non_unique_task_key_when_setup_then_instructions_instead_of_a_change():
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        h.sandbox.define_property("tasks", "afterclose_key", has_unique_value=False)
        report = h.adapter.setup()
        assert any(line.startswith("cannot fix tasks.afterclose_key") for line in report)
