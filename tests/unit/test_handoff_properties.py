"""Whatever the CRM holds, handoff.check returns a consistent report and never raises."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

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
from jobs.core.handoff import check

UTC = dt.UTC
BUILTIN = load_mapping(builtin_mapping(Provider.HUBSPOT))
NAMES = ("goal", "start", "end", "seats", "tier", "flag")

raw_values = st.none() | st.text() | st.sampled_from(
    ("n/a", "2025-01-01", "2025-02-30", "1769817600000", "9" * 15, "1,5", "5.0", "True", "\u200b" * 12,
     "2013-05-20T20:49:32.000+0000", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"))
contacts = st.lists(st.builds(Contact, id=st.text(max_size=3), name=st.none() | st.text(),
                              role=st.none() | st.text() | st.sampled_from(("Decision Maker", "a;b"))),
                    max_size=4)


def deals(field_names):
    return st.builds(
        Deal, provider=st.just(Provider.HUBSPOT), id=st.text(max_size=5), name=st.text(max_size=5),
        stage=st.just("closedwon"), is_won=st.booleans(), close_date=st.none() | st.dates(),
        last_modified=st.just(dt.datetime(2025, 1, 1, tzinfo=UTC)), contacts=contacts.map(tuple),
        fields=st.dictionaries(st.sampled_from(field_names), raw_values))


specs = st.builds(FieldSpec, canonical=st.sampled_from(NAMES), record=st.just(RecordKind.DEAL),
                  crm_name=st.just("X__c"), type=st.sampled_from(list(FieldType)),
                  options=st.lists(st.text(max_size=4), max_size=3).map(tuple))
rules = st.builds(HandoffRule, kind=st.sampled_from(list(RuleKind)),
                  field=st.none() | st.sampled_from((*NAMES, "close_date", "nowhere")),
                  value=st.none() | st.integers(-3, 20) | st.text(max_size=6)
                  | st.sampled_from(NAMES) | st.lists(st.text(max_size=4), max_size=3).map(tuple),
                  label=st.none() | st.text(max_size=6))


@st.composite
def hand_built_maps(draw) -> FieldMap:
    fields = {spec.canonical: spec for spec in draw(st.lists(specs, max_size=6))}
    return FieldMap(provider=Provider.HUBSPOT, source="hypothesis", fields=fields,
                    handoff_rules=tuple(draw(st.lists(rules, max_size=8))),
                    templates={"default": TaskTemplate(subject="s", body="b")}, task_key_field="k")


def assert_consistent(report, fieldmap: FieldMap, deal: Deal) -> None:
    assert 0 <= report.score <= 100
    assert report.complete == (not report.findings)
    assert len(report.findings) <= len(fieldmap.handoff_rules)
    assert (report.score == 100) == report.complete
    assert report.deal_id == deal.id
    assert all(finding.reason and finding.label for finding in report.findings)
    assert check(deal, fieldmap) == report  # deterministic


@given(deals(tuple(BUILTIN.fields)))
def test_arbitrary_raw_values_never_make_check_raise(deal):
    assert_consistent(check(deal, BUILTIN), BUILTIN, deal)


@given(hand_built_maps(), deals(NAMES))
def test_arbitrary_rules_and_types_never_make_check_raise(fieldmap, deal):
    assert_consistent(check(deal, fieldmap), fieldmap, deal)
