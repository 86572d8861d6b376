"""The property check against a live (sandbox) portal, and ``setup`` of AfterClose's own properties."""

from __future__ import annotations

import dataclasses

import pytest

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


def test_given_number_written_to_text_and_date_read_from_datetime_when_checked_then_compatible_with_notes():
    fieldmap = hubspot_fieldmap()
    fields = dict(fieldmap.fields)
    fields["nps_score"] = dataclasses.replace(fields["nps_score"], crm_name="handoff_missing")
    fields["handoff_missing"] = dataclasses.replace(fields["handoff_missing"], crm_name="description")
    fields["close_day"] = FieldSpec(canonical="close_day", record=RecordKind.DEAL, crm_name="closedate",
                                    type=FieldType.DATE)
    with hubspot_harness(fieldmap=dataclasses.replace(fieldmap, fields=fields)) as h:
        found = {p.mapping_key: p for p in h.adapter.check_schema()}
        assert set(found) == {"nps_score", "close_day"} and all(p.note for p in found.values())
        assert found["nps_score"].write_as is FieldType.TEXT and "written as their text" in found["nps_score"].problem
        assert found["close_day"].write_as is None and "day in UTC" in found["close_day"].problem


def test_given_types_that_cannot_hold_the_value_when_checked_then_refusal_names_key_field_and_both_types():
    fieldmap = hubspot_fieldmap()
    fields = dict(fieldmap.fields)
    fields["nps_score"] = dataclasses.replace(fields["nps_score"], crm_name="tier")
    fields["renewal_date"] = dataclasses.replace(fields["renewal_date"], crm_name="dealname")
    with hubspot_harness(fieldmap=dataclasses.replace(fieldmap, fields=fields)) as h:
        h.sandbox.define_property("deals", "tier", type="enumeration", field_type="select",
                                  options=(("Gold", "gold"), ("Silver", "silver")))
        problems = _problems(h)
        assert problems["nps_score -> deals.tier"].startswith("mapped as number, the property is enumeration:")
        assert problems["renewal_date -> deals.dealname"].startswith("mapped as date, the property is string:")


def test_given_referral_status_pre_created_as_single_line_text_when_checked_then_it_fits_with_a_note():
    """Issue 16: an admin created ``referral_status`` as text before AfterClose came; every value
    AfterClose writes is valid text."""
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        h.sandbox.define_property("deals", "referral_status", type="string", field_type="text")
        setup = h.adapter.setup()
        assert any(line.startswith("exists deals.referral_status (the string field takes this enum value")
                   for line in setup), setup
        found = {p.mapping_key: p for p in h.adapter.check_schema()}
        assert found["referral_status"].note and found["referral_status"].write_as is FieldType.TEXT
        assert [p for p in found.values() if not p.note] == []


def test_given_an_enumeration_afterclose_does_not_own_lacking_options_then_setup_leaves_it_and_check_says_what_to_do():
    fieldmap = hubspot_fieldmap()
    fields = dict(fieldmap.fields)
    fields["referral_status"] = dataclasses.replace(fields["referral_status"], afterclose_owned=False)
    with hubspot_harness(fieldmap=dataclasses.replace(fieldmap, fields=fields),
                         sandbox_options={"afterclose_properties": False}) as h:
        h.sandbox.define_property("deals", "referral_status", type="enumeration", field_type="select",
                                  options=(("Eligible", "eligible"),))
        h.adapter.setup()
        problem = _problems(h)["referral_status -> deals.referral_status"]
        assert "lacks option(s) AfterClose writes: not_eligible, asked, referred, declined" in problem
        assert "not AfterClose's own field" in problem and "add them in the CRM" in problem
        live = h.sandbox.backend.store.schema["deals"]["referral_status"]
        assert [o.value for o in live.options] == ["eligible"]  # AfterClose left the admin's field alone


def test_given_write_back_onto_calculated_property_when_checked_then_read_only_problem():
    fieldmap = hubspot_fieldmap(handoff_status="hs_is_closed_won")
    fields = dict(fieldmap.fields)
    fields["handoff_status"] = dataclasses.replace(fields["handoff_status"], type=FieldType.BOOL, options=())
    with hubspot_harness(fieldmap=dataclasses.replace(fieldmap, fields=fields)) as h:
        assert "read-only" in _problems(h)["handoff_status -> deals.hs_is_closed_won"]


def test_given_task_key_missing_or_of_another_type_when_checked_then_problem_names_the_property_and_the_fix():
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        problem = _problems(h)["task_key_field -> tasks.afterclose_key"]
        assert "does not exist" in problem and "afterclose setup" in problem
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        h.sandbox.define_property("tasks", "afterclose_key", type="number", field_type="number")
        problem = _problems(h)["task_key_field -> tasks.afterclose_key"]
        assert "is number" in problem and "delete it" in problem


@pytest.mark.parametrize("mode", ["refuse", "ignore", "grant"])
def test_given_a_task_key_with_or_without_unique_values_when_checked_then_no_problem_and_the_mode_said(mode):
    with hubspot_harness(mode=mode) as h:
        assert h.adapter.check_schema() == []
        said = h.adapter.task_key_mode()
    assert said.startswith("unique task keys" if mode == "grant" else "non-unique task keys"), said


def test_given_a_granting_portal_and_the_setting_non_unique_then_the_non_unique_mode_is_used():
    with hubspot_harness(mode="grant", settings={"task_key_mode": "non_unique"}) as h:
        said = h.adapter.task_key_mode()
    assert said.startswith("non-unique task keys") and 'task_key_mode = "non_unique"' in said


def test_given_key_property_deleted_between_runs_when_run_then_stopped_before_any_write_naming_it(tmp_path):
    import datetime as dt

    from connector.errors import SchemaError
    from jobs.core.playbook import DEFAULT_PLAYBOOK
    from jobs.state import open_store
    from jobs.sync import SyncJob, run_sync

    with hubspot_harness() as h, open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        h.sandbox.delete_property("tasks", "afterclose_key")
        job = SyncJob(scope="hubspot:t", adapter=h.adapter, store=store, fieldmap=h.adapter.fieldmap,
                      playbook=DEFAULT_PLAYBOOK, clock=lambda: dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
        with pytest.raises(SchemaError) as stopped:
            run_sync(job)
        writes = [label for label in h.sandbox.controls.snapshot() if "batch/create" in label or "batch/update" in label]
    assert "tasks.afterclose_key" in str(stopped.value) and "afterclose setup" in str(stopped.value)
    assert writes == []


@pytest.mark.parametrize("mode, key_line, task_property_posts, said", [
    ("grant", "created tasks.afterclose_key (unique values)", 1, "unique task keys"),
    ("refuse", "created tasks.afterclose_key (plain text)", 2, "non-unique task keys"),
    ("ignore", "created tasks.afterclose_key (plain text) (created with unique values, but the portal reads it "
               "back without)", 1, "non-unique task keys"),
])
def test_given_fresh_portal_when_setup_twice_then_properties_created_once_and_the_mode_said(
        mode, key_line, task_property_posts, said):
    with hubspot_harness(mode=mode, sandbox_options={"afterclose_properties": False}) as h:
        assert h.adapter.check_schema() != []
        first = h.adapter.setup()
        created = [line for line in first if line.startswith(("created deals.", "created tasks."))]
        assert len(created) == 7
        assert key_line in first
        assert first[-1].startswith(f"task keys: {said}")
        if mode == "refuse":
            assert any(line.startswith("HubSpot refused unique values on tasks.afterclose_key") for line in first)
        second = h.adapter.setup()
        assert all(line.startswith("exists") for line in second[:-1]), second
        assert second[-1].startswith(f"task keys: {said}")
        assert h.adapter.check_schema() == []
        labels = h.sandbox.controls.snapshot()
        assert labels["POST /crm/v3/properties/deals"] == 6
        assert labels["POST /crm/v3/properties/tasks"] == task_property_posts


def test_given_own_enum_lacking_an_option_when_setup_then_option_added_keeping_the_others():
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        h.sandbox.define_property("deals", "nps_category", type="enumeration", field_type="select",
                                  options=(("Promoter", "promoter"), ("Custom", "custom")))
        report = h.adapter.setup()
        assert "added option(s) passive, detractor to deals.nps_category" in report
        assert h.adapter.check_schema() == []
        live = h.sandbox.backend.store.schema["deals"]["nps_category"].options
        assert [value for _label, value in live] == ["promoter", "custom", "passive", "detractor"]


def test_given_existing_non_unique_task_key_when_setup_then_kept_and_the_non_unique_mode_said():
    with hubspot_harness(mode="grant", sandbox_options={"afterclose_properties": False}) as h:
        h.sandbox.define_property("tasks", "afterclose_key", has_unique_value=False)
        report = h.adapter.setup()
    assert "exists tasks.afterclose_key (plain text)" in report
    assert report[-1].startswith("task keys: non-unique task keys")


def test_given_task_key_of_another_type_when_setup_then_instructions_instead_of_a_change():
    with hubspot_harness(sandbox_options={"afterclose_properties": False}) as h:
        h.sandbox.define_property("tasks", "afterclose_key", type="number", field_type="number")
        report = h.adapter.setup()
        assert "is number" in _problems(h)["task_key_field -> tasks.afterclose_key"]
    assert any(line.startswith("cannot fix tasks.afterclose_key: it exists as number") for line in report)
    assert report[-1].startswith("task keys: none until tasks.afterclose_key is fixed")


def test_the_live_properties_are_listed_with_type_options_and_ownership_for_the_field_picker():
    from connector.mapping.compat import CrmKind, verdict, writes_values
    from connector.port import SupportsFieldList

    with hubspot_harness() as h:
        assert isinstance(h.adapter, SupportsFieldList)
        h.sandbox.define_property("deals", "referral_note", type="string", field_type="text", label="Referral note")
        fields = {f.name: f for f in h.adapter.crm_fields(RecordKind.DEAL)}
        assert fields["referral_note"].kind is CrmKind.TEXT and fields["referral_note"].label == "Referral note"
        assert fields["handoff_status"].own and fields["handoff_status"].options == ("complete", "incomplete")
        assert not fields["dealname"].own
        spec = hubspot_fieldmap().spec("referral_status")
        fitting = {name for name, f in fields.items()
                   if verdict(spec.type, writes_values(spec.type, spec.options), f).fits and f.writable}
        assert {"referral_status", "referral_note", "description"} <= fitting
        assert "amount" not in fitting and "closedate" not in fitting
