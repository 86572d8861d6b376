"""The shipped mappings load, carry every default name users script against, and stay in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.mapping import (
    PLACEHOLDERS,
    FieldType,
    RuleKind,
    builtin_mapping,
    load_mapping,
    render_template,
)
from connector.mapping.compiler import _FIELD, _HANDOFF, _RULE, _TASK, _TEMPLATE, _TOP
from connector.model import Provider, RecordKind

DEAL, COMPANY = RecordKind.DEAL, RecordKind.COMPANY
TEXT, NUMBER, DATE, ENUM = FieldType.TEXT, FieldType.NUMBER, FieldType.DATE, FieldType.ENUM
NPS = ("promoter", "passive", "detractor")
REFERRAL = ("not_eligible", "eligible", "asked", "referred", "declined")

# canonical: (record, HubSpot name, Salesforce name, type, options, written back)
DEFAULTS = {
    "first_touch_channel": (DEAL, "first_touch_channel", "LeadSource", TEXT, (), False),
    "decision_criteria": (DEAL, "decision_criteria", "Decision_Criteria__c", TEXT, (), False),
    "customer_goal": (DEAL, "customer_goal", "Customer_Goal__c", TEXT, (), False),
    "success_criteria": (DEAL, "success_criteria", "Success_Criteria__c", TEXT, (), False),
    "renewal_date": (DEAL, "renewal_date", "Renewal_Date__c", DATE, (), False),
    "handoff_status": (DEAL, "handoff_status", "Handoff_Status__c", ENUM, ("complete", "incomplete"), True),
    "handoff_missing": (DEAL, "handoff_missing", "Handoff_Missing__c", TEXT, (), True),
    "nps_score": (DEAL, "nps_score", "NPS_Score__c", NUMBER, (), True),
    "nps_category": (DEAL, "nps_category", "NPS_Category__c", ENUM, NPS, True),
    "nps_date": (DEAL, "nps_date", "NPS_Date__c", DATE, (), True),
    "referral_status": (DEAL, "referral_status", "Referral_Status__c", ENUM, REFERRAL, True),
    "company_nps_score": (COMPANY, "nps_score", "NPS_Score__c", NUMBER, (), True),
    "company_nps_category": (COMPANY, "nps_category", "NPS_Category__c", ENUM, NPS, True),
    "company_nps_date": (COMPANY, "nps_date", "NPS_Date__c", DATE, (), True),
    "company_referral_status": (COMPANY, "referral_status", "Referral_Status__c", ENUM, REFERRAL, True),
    # Read only, for choosing a deal's playbook (docs/playbooks.md); Salesforce has no pipelines.
    "deal_type": (DEAL, "dealtype", "Type", TEXT, (), False),
    "pipeline": (DEAL, "pipeline", None, TEXT, (), False),
}
ONLY_ON = {"pipeline": Provider.HUBSPOT}
TOUCH_POINTS = ("kickoff", "onboarding_checkup", "value_review_30", "nps_checkin_60",
                "business_review_90", "renewal_planning", "renewal_review", "renewal_proposal",
                "renewal_decision", "handoff_incomplete", "referral_ask", "detractor_followup",
                "adoption_check", "health_check")
README = Path(__file__).resolve().parents[2] / "mappings" / "README.md"


@pytest.fixture(scope="module", params=list(Provider))
def builtin(request):
    return load_mapping(builtin_mapping(request.param))


def test_given_each_provider_then_builtin_file_loads_as_that_provider(builtin):
    assert builtin.source.endswith(f"{builtin.provider.value}.toml")


@pytest.mark.parametrize("canonical", list(DEFAULTS))
def test_builtin_files_map_every_default_name(builtin, canonical):
    record, hubspot, salesforce, type_, options, write = DEFAULTS[canonical]
    if ONLY_ON.get(canonical, builtin.provider) is not builtin.provider:
        assert not builtin.has(canonical)
        return
    spec = builtin.spec(canonical)
    crm = hubspot if builtin.provider is Provider.HUBSPOT else salesforce
    assert (spec.record, spec.crm_name, spec.type, spec.options, spec.write) == (
        record, crm, type_, options, write)


def test_builtin_files_declare_nothing_beyond_the_defaults(builtin):
    assert set(builtin.fields) == {name for name in DEFAULTS if ONLY_ON.get(name, builtin.provider) is builtin.provider}


def test_builtin_written_fields_are_afterclose_owned(builtin):
    assert all(spec.afterclose_owned for spec in builtin.fields.values() if spec.write)


def test_builtin_task_key_field_is_the_documented_name(builtin):
    expected = {Provider.HUBSPOT: "afterclose_key", Provider.SALESFORCE: "AfterClose_Key__c"}
    assert builtin.task_key_field == expected[builtin.provider]


def test_builtin_handoff_rules_are_the_documented_defaults(builtin):
    assert [(r.kind, r.field, r.value) for r in builtin.handoff_rules] == [
        (RuleKind.REQUIRED, "first_touch_channel", None),
        (RuleKind.REQUIRED, "decision_criteria", None),
        (RuleKind.MIN_LENGTH, "decision_criteria", 10),
        (RuleKind.REQUIRED, "customer_goal", None),
        (RuleKind.MIN_LENGTH, "customer_goal", 10),
        (RuleKind.REQUIRED, "success_criteria", None),
        (RuleKind.MIN_LENGTH, "success_criteria", 10),
        (RuleKind.DATE_AFTER, "renewal_date", "close_date"),
        (RuleKind.MIN_STAKEHOLDERS, None, 1),
    ]


def test_builtin_files_have_a_template_for_every_default_touch_point(builtin):
    assert set(builtin.templates) == {"default", *TOUCH_POINTS}


def test_builtin_files_differ_only_in_crm_names():
    hubspot, salesforce = (load_mapping(builtin_mapping(p)) for p in Provider)
    assert hubspot.handoff_rules == salesforce.handoff_rules
    assert dict(hubspot.templates) == dict(salesforce.templates)
    assert {n: (s.record, s.type, s.options, s.write, s.label) for n, s in hubspot.fields.items()
            if n not in ONLY_ON} == {
        n: (s.record, s.type, s.options, s.write, s.label) for n, s in salesforce.fields.items()}


@pytest.mark.parametrize("touch_point", ["default", *TOUCH_POINTS])
def test_builtin_templates_render_fully_with_every_placeholder(builtin, touch_point):
    template = builtin.template(touch_point)
    values = {name: f"<{name}>" for name in (*PLACEHOLDERS, *builtin.fields)}
    subject, body = render_template(template.subject, values), render_template(template.body, values)
    assert "{" not in subject + body and "(not recorded)" not in subject + body
    assert len(subject) <= 255 - 60  # Salesforce Task.Subject holds 255; leave room for values


@pytest.mark.parametrize("touch_point", [t for t in TOUCH_POINTS if t != "handoff_incomplete"])
def test_builtin_customer_facing_templates_carry_goal_or_stakeholders(builtin, touch_point):
    body = builtin.template(touch_point).body
    assert "{stakeholders}" in body


def test_builtin_handoff_template_lists_missing_fields_with_where_to_fill_them(builtin):
    assert "{missing_list}" in builtin.template("handoff_incomplete").body


@pytest.mark.parametrize("touch_point", ["default", *TOUCH_POINTS])
def test_builtin_templates_tell_the_rep_why_the_task_exists(builtin, touch_point):
    assert "{why}" in builtin.template(touch_point).body


def test_readme_documents_every_placeholder():
    readme = README.read_text(encoding="utf-8")
    missing = [name for name in PLACEHOLDERS if f"{{{name}}}" not in readme]
    assert missing == []


@pytest.mark.parametrize("schema", [_TOP, _TASK, _FIELD, _HANDOFF, _RULE, _TEMPLATE])
def test_readme_documents_every_key(schema):
    readme = README.read_text(encoding="utf-8")
    undocumented = [key for key in schema
                    if not re.search(rf"`\[*(?:[a-z]+\.)?{re.escape(key)}\b", readme)]
    assert undocumented == []


def test_given_unknown_provider_then_builtin_mapping_refuses():
    with pytest.raises(ConfigError, match="no built-in mapping for 'pipedrive'"):
        builtin_mapping("pipedrive")
