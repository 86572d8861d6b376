"""handoff.check: what a rep is told is missing, in rule order, with a score; never an exception."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest

from connector.mapping import (
    FieldMap,
    FieldSpec,
    FieldType,
    HandoffRule,
    RuleKind,
    TaskTemplate,
    builtin_mapping,
    load_mapping,
)
from connector.model import Contact, Deal, Provider, RecordKind
from jobs.core.handoff import STAKEHOLDERS, Finding, check

UTC = dt.UTC
CLOSE = dt.date(2025, 3, 1)
COMPLETE = {
    "first_touch_channel": "Partner",
    "decision_criteria": "Total cost over three years and SSO",
    "customer_goal": "Cut support cost per ticket by a third",
    "success_criteria": "Ticket backlog halved within one quarter",
    "renewal_date": "2026-03-01",
}
JANE = Contact(id="c1", name="Jane Roe", role="Decision Maker", email="jane@acme.test")


@pytest.fixture(scope="module")
def fieldmap() -> FieldMap:
    return load_mapping(builtin_mapping(Provider.SALESFORCE))


def deal(*, contacts=(JANE,), close_date=CLOSE, **fields) -> Deal:
    return Deal(provider=Provider.SALESFORCE, id="006A", name="Acme renewal", stage="Closed Won",
                is_won=True, close_date=close_date,
                last_modified=dt.datetime(2025, 3, 2, tzinfo=UTC), contacts=contacts,
                fields={**COMPLETE, **fields})


def custom_map(*rules: HandoffRule, fields: tuple[FieldSpec, ...] = ()) -> FieldMap:
    specs = {f.canonical: f for f in fields}
    return FieldMap(provider=Provider.SALESFORCE, source="test", fields=specs, handoff_rules=rules,
                    templates={"default": TaskTemplate(subject="s", body="b")},
                    task_key_field="AfterClose_Key__c")


def text_field(name: str, type_: FieldType = FieldType.TEXT, options=()) -> FieldSpec:
    return FieldSpec(canonical=name, record=RecordKind.DEAL, crm_name=f"{name}__c", type=type_,
                     options=options, label=name.title())


def reasons(report) -> list[tuple[str, str]]:
    return [(f.field, f.reason) for f in report.findings]


# --- complete ----------------------------------------------------------------------------

def test_given_complete_deal_then_complete_with_score_100(fieldmap):
    report = check(deal(), fieldmap)
    assert (report.complete, report.findings, report.score, report.deal_id) == (True, (), 100, "006A")


# --- required ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
def test_given_required_field_empty_then_one_finding_is_empty(fieldmap, raw):
    report = check(deal(decision_criteria=raw), fieldmap)
    assert reasons(report) == [("decision_criteria", "is empty")]
    assert report.findings[0].label == "Decision criteria"
    assert not report.complete


def test_given_field_absent_from_deal_then_treated_as_empty(fieldmap):
    fields = {k: v for k, v in COMPLETE.items() if k != "customer_goal"}
    report = check(dataclasses.replace(deal(), fields=fields), fieldmap)
    assert reasons(report) == [("customer_goal", "is empty")]


def test_given_required_number_field_holding_text_then_reason_says_not_a_number():
    spec = text_field("seats", FieldType.NUMBER)
    report = check(deal(seats="about 40"), custom_map(
        HandoffRule(kind=RuleKind.REQUIRED, field="seats"), fields=(spec,)))
    assert report.findings[0].reason == "is not a number: 'about 40'"


def test_given_required_enum_outside_options_then_finding():
    spec = text_field("tier", FieldType.ENUM, ("gold", "silver"))
    report = check(deal(tier="bronze"), custom_map(
        HandoffRule(kind=RuleKind.REQUIRED, field="tier"), fields=(spec,)))
    assert "not one of: gold, silver" in report.findings[0].reason


# --- min length --------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["n/a", "tbd", "TBD      ", "see notes"])
def test_given_placeholder_answer_then_too_short(fieldmap, raw):
    report = check(deal(customer_goal=raw), fieldmap)
    assert [f.field for f in report.findings] == ["customer_goal"]
    assert report.findings[0].reason.startswith("is too short")
    assert "needs at least 10" in report.findings[0].reason


@pytest.mark.parametrize("raw", ["-", "----------", "..........", "??????????", "\u200b" * 20, "\x00" * 12])
def test_given_ten_characters_without_words_then_finding(fieldmap, raw):
    report = check(deal(customer_goal=raw), fieldmap)
    assert report.findings[0].reason.startswith("has no letters or digits")


def test_given_invisible_padding_then_not_counted(fieldmap):
    report = check(deal(customer_goal="n/a" + "\u200b" * 20 + "\u00a0" * 5), fieldmap)
    assert report.findings[0].reason.startswith("is too short")
    assert "has 3 characters" in report.findings[0].reason


def test_given_decomposed_accents_then_counted_as_readers_see_them(fieldmap):
    nine_letters = "e\u0301" * 9  # 18 code points, 9 characters once composed
    assert "has 9 characters" in check(deal(customer_goal=nine_letters), fieldmap).findings[0].reason


@pytest.mark.parametrize("raw", ["Größeren Marktanteil in DACH", "市場シェアを拡大する目標です", "Grow 🚀 share by 15%"])
def test_given_unicode_text_long_enough_then_passes(fieldmap, raw):
    assert check(deal(customer_goal=raw), fieldmap).complete


def test_given_100k_character_text_then_passes_quickly(fieldmap):
    started = time.perf_counter()
    report = check(deal(customer_goal="Grow share. " * 9_000), fieldmap)
    assert report.complete
    assert time.perf_counter() - started < 1.0


def test_given_long_bad_value_then_reason_quotes_it_shortened(fieldmap):
    report = check(deal(renewal_date="x" * 100_000), fieldmap)
    assert len(report.findings[0].reason) < 120


def test_given_min_length_alone_on_empty_field_then_passes():
    spec = text_field("notes")
    fmap = custom_map(HandoffRule(kind=RuleKind.MIN_LENGTH, field="notes", value=10), fields=(spec,))
    assert check(deal(notes=None), fmap).complete


# --- allowed values ----------------------------------------------------------------------

def test_given_value_outside_allowed_values_then_finding_lists_them():
    spec = text_field("channel")
    fmap = custom_map(HandoffRule(kind=RuleKind.ALLOWED_VALUES, field="channel",
                                  value=("Web", "Partner")), fields=(spec,))
    assert reasons(check(deal(channel="Fax"), fmap)) == [("channel", "is 'Fax', not one of: Web, Partner")]
    assert check(deal(channel=" Partner "), fmap).complete
    assert check(deal(channel="partner"), fmap).findings  # picklists are exact
    assert check(deal(channel=None), fmap).complete


# --- date order --------------------------------------------------------------------------

@pytest.mark.parametrize("renewal", ["2025-02-01", "2025-03-01"])
def test_given_renewal_not_after_close_then_finding_names_both_dates(fieldmap, renewal):
    report = check(deal(renewal_date=renewal), fieldmap)
    assert reasons(report) == [
        ("renewal_date", f"must be after the close date (2025-03-01); it is {renewal}")]


@pytest.mark.parametrize("renewal", [None, "", "2025-03-02", "2026-03-01T00:00:00Z", "1772323200000"])
def test_given_renewal_after_close_or_not_recorded_then_passes(fieldmap, renewal):
    assert check(deal(renewal_date=renewal), fieldmap).complete


@pytest.mark.parametrize(("raw", "reason"), [
    ("next spring", "is not a date (expected YYYY-MM-DD): 'next spring'"),
    ("2026-02-30", "is not a valid date: '2026-02-30'"),
])
def test_given_unreadable_renewal_date_then_finding_not_exception(fieldmap, raw, reason):
    assert reasons(check(deal(renewal_date=raw), fieldmap)) == [("renewal_date", reason)]


def test_given_no_close_date_then_date_order_not_judged(fieldmap):
    assert check(deal(close_date=None, renewal_date="2001-01-01"), fieldmap).complete


def test_given_date_after_other_field_then_compared_with_that_field():
    start, end = text_field("start_date", FieldType.DATE), text_field("end_date", FieldType.DATETIME)
    fmap = custom_map(HandoffRule(kind=RuleKind.DATE_AFTER, field="end_date", value="start_date",
                                  label="End"), fields=(start, end))
    assert check(deal(start_date="2025-05-01", end_date="2025-06-01T12:00:00Z"), fmap).complete
    assert reasons(check(deal(start_date="2025-05-01", end_date="2025-04-01"), fmap)) == [
        ("end_date", "must be after the start_date (2025-05-01); it is 2025-04-01")]
    assert reasons(check(deal(start_date="soon", end_date="2025-04-01"), fmap)) == [
        ("end_date", "cannot be checked: Start_Date is not a date (expected YYYY-MM-DD): 'soon'")]
    assert check(deal(start_date=None, end_date="2025-04-01"), fmap).complete


# --- stakeholders ------------------------------------------------------------------------

def test_given_no_contacts_then_stakeholder_finding(fieldmap):
    report = check(deal(contacts=()), fieldmap)
    assert [(f.field, f.label, f.reason) for f in report.findings] == [
        (STAKEHOLDERS, "Stakeholders", "needs at least 1 stakeholder contact on the deal; it has 0")]


def test_given_same_contact_twice_then_counted_once():
    fmap = custom_map(HandoffRule(kind=RuleKind.MIN_STAKEHOLDERS, value=2))
    assert not check(deal(contacts=(JANE, JANE)), fmap).complete
    assert check(deal(contacts=(JANE, Contact(id="c2"))), fmap).complete


@pytest.mark.parametrize("role", ["Decision Maker", "decision maker", " Evaluator; Decision Maker "])
def test_given_contact_with_required_role_then_passes(role):
    fmap = custom_map(HandoffRule(kind=RuleKind.STAKEHOLDER_ROLE, value="Decision Maker"))
    assert check(deal(contacts=(Contact(id="c", role=role),)), fmap).complete


def test_given_no_contact_with_required_role_then_reason_lists_roles_present():
    fmap = custom_map(HandoffRule(kind=RuleKind.STAKEHOLDER_ROLE, value="Economic Buyer"))
    contacts = (Contact(id="a", role="Evaluator"), Contact(id="b"), Contact(id="c", role="Evaluator"))
    report = check(deal(contacts=contacts), fmap)
    assert [(f.label, f.reason) for f in report.findings] == [
        ("Stakeholder: Economic Buyer",
         "needs a contact with the role 'Economic Buyer'; roles on the deal: Evaluator")]


# --- score, order, determinism -----------------------------------------------------------

@pytest.mark.parametrize(("changes", "failed"), [
    ({}, 0),
    ({"customer_goal": "n/a"}, 1),
    ({"customer_goal": None, "decision_criteria": "tbd", "renewal_date": "2020-01-01"}, 3),
    ({"first_touch_channel": None, "decision_criteria": None, "customer_goal": None,
      "success_criteria": None, "renewal_date": "2020-01-01", "contacts": ()}, 6),
])
def test_score_is_share_of_rules_passed_rounded_down(fieldmap, changes, failed):
    report = check(deal(**changes), fieldmap)
    total = len(fieldmap.handoff_rules)
    assert len(report.findings) == failed
    assert report.score == (total - failed) * 100 // total


def test_given_every_rule_failing_then_score_0():
    spec = text_field("goal")
    fmap = custom_map(HandoffRule(kind=RuleKind.REQUIRED, field="goal"),
                      HandoffRule(kind=RuleKind.MIN_STAKEHOLDERS, value=1), fields=(spec,))
    assert check(deal(goal=None, contacts=()), fmap).score == 0


def test_given_one_of_many_rules_failing_then_score_below_100():
    specs = tuple(text_field(f"f{i}") for i in range(200))
    rules = tuple(HandoffRule(kind=RuleKind.REQUIRED, field=s.canonical) for s in specs)
    values = {s.canonical: "filled" for s in specs} | {"f7": None}
    assert check(deal(**values), custom_map(*rules, fields=specs)).score == 99


def test_given_no_rules_then_complete_with_score_100():
    assert check(deal(), custom_map()).score == 100


def test_findings_follow_rule_order_not_field_order(fieldmap):
    report = check(deal(contacts=(), renewal_date="2020-01-01", success_criteria="x",
                        first_touch_channel=None), fieldmap)
    assert [f.field for f in report.findings] == [
        "first_touch_channel", "success_criteria", "renewal_date", STAKEHOLDERS]


def test_same_deal_checked_twice_gives_equal_reports(fieldmap):
    one = deal(customer_goal="n/a", contacts=())
    assert check(one, fieldmap) == check(one, fieldmap)


def test_missing_labels_name_each_field_once(fieldmap):
    report = check(deal(decision_criteria="", customer_goal="tbd", contacts=()), fieldmap)
    assert report.missing_labels == ("Decision criteria", "Customer goal", "Stakeholders")


def test_finding_reads_as_label_and_reason():
    assert str(Finding(field="x", label="Customer goal", reason="is empty")) == "Customer goal: is empty"


def test_given_hand_built_rule_on_unknown_field_then_skipped_not_raised():
    report = check(deal(), custom_map(HandoffRule(kind=RuleKind.REQUIRED, field="nowhere")))
    assert report.complete
