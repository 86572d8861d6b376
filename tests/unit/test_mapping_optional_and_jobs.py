"""Optional write-back targets in a mapping file, and the per-job fit of a schema check
(jobs/schema_fit.py): which job a problem blocks, which optional target a job skips."""

from __future__ import annotations

import pytest

from connector.errors import ConfigError
from connector.mapping import FieldType, builtin_mapping, load_mapping, parse_mapping
from connector.port import SchemaProblem
from jobs.schema_fit import NPS, SYNC, fields_used, fit

COMPANY_TARGETS = {"company_nps_score", "company_nps_category", "company_nps_date", "company_referral_status"}


def _builtin_text(provider: str = "hubspot") -> str:
    return builtin_mapping(provider).read_text(encoding="utf-8")


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_the_built_in_mappings_mark_the_company_level_nps_and_referral_targets_optional(provider):
    fieldmap = load_mapping(builtin_mapping(provider))
    assert {name for name, spec in fieldmap.fields.items() if spec.optional} == COMPANY_TARGETS


def test_given_optional_on_a_field_afterclose_only_reads_then_one_line_names_file_key_and_what_to_do():
    text = _builtin_text().replace('label = "Customer goal"\n', 'label = "Customer goal"\noptional = true\n')
    with pytest.raises(ConfigError) as refused:
        parse_mapping(text, source="mine.toml")
    message = str(refused.value)
    assert message.startswith("mine.toml: fields.customer_goal.optional: only a write-back target")
    assert "remove optional = true" in message and "(line " in message


def test_given_an_optional_target_that_is_also_a_handoff_input_then_it_is_refused():
    text = _builtin_text().replace('label = "Customer goal"\n',
                                   'label = "Customer goal"\nwrite = true\noptional = true\n')
    with pytest.raises(ConfigError) as refused:
        parse_mapping(text, source="mine.toml")
    message = str(refused.value)
    assert "fields.customer_goal.optional: 'customer_goal' (deal field customer_goal) is a handoff input" in message
    assert "remove optional = true, or the rules that test it" in message


def test_given_two_keys_mapped_to_one_crm_field_then_one_line_says_which_and_what_to_do():
    text = _builtin_text().replace('crm = "customer_goal"', 'crm = "decision_criteria"')
    with pytest.raises(ConfigError) as refused:
        parse_mapping(text, source="mine.toml")
    message = str(refused.value)
    assert message.startswith("mine.toml: fields.customer_goal.crm: 'decision_criteria' on the deal is already "
                              "mapped by fields.decision_criteria")
    assert "point one of them at another field, or delete one" in message


# -- the per-job fit -----------------------------------------------------------------------------


def _problem(key: str, crm_field: str = "x", **kwargs) -> SchemaProblem:
    return SchemaProblem(mapping_key=key, crm_field=crm_field, problem="property does not exist", **kwargs)


def test_each_job_uses_its_own_fields():
    fieldmap = load_mapping(builtin_mapping("salesforce"))
    sync, nps = fields_used(fieldmap, SYNC), fields_used(fieldmap, NPS)
    assert {"decision_criteria", "handoff_status", "nps_score"} <= sync  # the sync job reads every deal field
    assert not COMPANY_TARGETS & sync
    assert COMPANY_TARGETS | {"nps_score", "referral_status"} <= nps and "decision_criteria" not in nps


def test_a_field_only_the_nps_job_uses_never_blocks_the_sync_job_and_an_optional_one_is_skipped_by_nps():
    fieldmap = load_mapping(builtin_mapping("salesforce"))
    problems = [_problem("fields.company_nps_score", "Account.NPS_Score__c"), _problem("task_key_field")]
    sync, nps = fit(problems, fieldmap, SYNC), fit(problems, fieldmap, NPS)
    assert [p.mapping_key for p in sync.blocking] == ["task_key_field"] and sync.skipped == ()
    assert [p.mapping_key for p in nps.blocking] == ["task_key_field"]
    assert [(s.key, s.crm_field) for s in nps.skipped] == [("company_nps_score", "Account.NPS_Score__c")]
    for job_fit in (sync, nps):  # neither job's adapter reads or writes the missing field
        assert "company_nps_score" not in job_fit.fieldmap.fields


def test_a_required_nps_field_blocks_the_nps_job_only():
    text = _builtin_text().replace("optional = true", "")
    fieldmap = parse_mapping(text)
    problems = [_problem("company_referral_status")]
    assert fit(problems, fieldmap, SYNC).ready
    assert not fit(problems, fieldmap, NPS).ready


def test_a_compatible_pair_that_differs_is_a_note_and_the_job_writes_the_value_as_the_field_holds_it():
    fieldmap = load_mapping(builtin_mapping("hubspot"))
    note = _problem("nps_date", "deals.nps_date", note=True, write_as=FieldType.DATETIME)
    found = fit([note], fieldmap, NPS)
    assert found.ready and found.notes == (note,) and found.skipped == ()
    assert found.fieldmap.spec("nps_date").write_as is FieldType.DATETIME
    assert fieldmap.spec("nps_date").write_as is None  # the loaded mapping itself is never changed
