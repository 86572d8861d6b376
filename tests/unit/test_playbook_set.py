"""Several playbooks: each deal gets exactly one, the first whose condition holds."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.core.conditions import ALWAYS, AllOf, AnyOf, FieldTest, evaluate
from jobs.core.playbook import DEFAULT_PLAYBOOK, Playbook
from jobs.core.playbook_set import PlaybookSet, Segment
from tests.builders import complete_fields, make_deal


def playbook(ident: str, **settings) -> Playbook:
    return dataclasses.replace(DEFAULT_PLAYBOOK, id=ident, title=ident.title(), **settings)


RENEWAL = Segment(playbook=playbook("renewal", renewal_deal=True), when=FieldTest(field="deal_type", equals="renewal"))
ENTERPRISE = Segment(playbook=playbook("enterprise"), when=FieldTest(field="amount", at_least=Decimal(50000)))
DEFAULT = Segment(playbook=playbook("smb"))
SET = PlaybookSet(segments=(RENEWAL, ENTERPRISE, DEFAULT))


def test_given_a_deal_matching_two_playbooks_then_the_first_in_order_wins_and_says_why():
    big_renewal = make_deal(amount="90000", fields=complete_fields(deal_type="Renewal"))
    choice = SET.choose(big_renewal)
    assert (choice.id, choice.because) == ("renewal", "deal_type is 'Renewal': renewal")


def test_given_a_deal_matching_no_condition_then_the_default_takes_it():
    choice = SET.choose(make_deal(amount="1200"))
    assert (choice.id, choice.because) == ("smb", "no other playbook's condition holds")
    assert SET.has_renewal_deals and SET.calendar.id == "renewal"


@pytest.mark.parametrize("segments, message", [
    ((ENTERPRISE, Segment(playbook=playbook("enterprise"))), "the id 'enterprise' is used by two playbooks"),
    ((DEFAULT, ENTERPRISE), r"has no `when`, so it takes every deal and the playbooks after it \(enterprise\)"),
    ((RENEWAL, ENTERPRISE), "is the last playbook but has a `when`"),
    ((ENTERPRISE, Segment(playbook=playbook("smb", timezone="Europe/Berlin"))), "timezone differs"),
    ((), "at least one playbook"),
])
def test_given_a_set_that_could_leave_a_deal_without_a_playbook_or_ambiguous_then_refused(segments, message):
    with pytest.raises(ValueError, match=message):
        PlaybookSet(segments=segments)


def test_a_single_playbook_is_a_set_of_one_that_says_so():
    choice = PlaybookSet.of(DEFAULT_PLAYBOOK).choose(make_deal())
    assert (choice.playbook, choice.because) == (DEFAULT_PLAYBOOK, "the only playbook")


# --- properties ------------------------------------------------------------------------------------

FACT_VALUES = {"deal_type": ["renewal", "newbusiness", "Existing Customer - Upgrade", None, ""],
               "amount": ["0", "999.5", "50000", "250000", "n/a", None],
               "pipeline": ["default", "75310246", None]}
tests_ = st.one_of(
    st.builds(lambda f, v: FieldTest(field=f, equals=v), st.sampled_from(["deal_type", "pipeline"]),
              st.sampled_from(["renewal", "default", "newbusiness"])),
    st.builds(lambda v: FieldTest(field="deal_type", one_of=tuple(v)),
              st.lists(st.sampled_from(["renewal", "Existing Customer - Upgrade"]), min_size=1, max_size=2)),
    st.builds(lambda lo: FieldTest(field="amount", at_least=Decimal(lo)), st.sampled_from([0, 1000, 50000])),
    st.builds(lambda e: FieldTest(field="pipeline", empty=e), st.booleans()),
)
conditions = st.recursive(tests_, lambda inner: st.one_of(
    st.builds(lambda parts: AllOf(parts=tuple(parts)), st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda parts: AnyOf(parts=tuple(parts)), st.lists(inner, min_size=1, max_size=3))), max_leaves=6)


@st.composite
def playbook_sets(draw) -> PlaybookSet:
    whens = draw(st.lists(conditions, max_size=4))
    segments = [Segment(playbook=playbook(f"p{n}"), when=when) for n, when in enumerate(whens)]
    return PlaybookSet(segments=(*segments, Segment(playbook=playbook("fallback"), when=ALWAYS)))


@st.composite
def any_deal(draw):
    fields = {name: draw(st.sampled_from(values)) for name, values in FACT_VALUES.items() if name != "amount"}
    return make_deal(amount=draw(st.sampled_from(FACT_VALUES["amount"])), fields=complete_fields(**fields))


@given(playbook_sets(), st.lists(any_deal(), min_size=1, max_size=8))
def test_every_deal_gets_exactly_one_playbook_the_first_whose_condition_holds(playbook_set, deals):
    for deal in deals:
        chosen = playbook_set.choose(deal)
        holding = [s.playbook.id for s in playbook_set.segments if evaluate(s.when, deal).holds]
        assert chosen.id == holding[0]  # the fallback always holds, so there is always one
        assert playbook_set.choose(deal) == chosen  # and the same one every time
