"""Creating the renewal deal: once, in its window, with the right fields; never when a renewal
deal of the customer already carries the renewal (jobs/core/renewal_deals.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.actions import CreateDeal
from connector.model import Owner
from jobs.core.customers import CustomerBook
from jobs.core.planner import plan
from jobs.core.playbook import Playbook
from jobs.core.playbook_set import PlaybookSet, Segment
from jobs.core.renewal_deals import RenewalDealRule
from tests.builders import apply_to_ledger, at, complete_fields, make_company, make_deal, reports_for
from tests.unit.test_planner_playbooks import EXPANSION, FIELDMAP, NEW_BUSINESS, RENEWAL, FieldTest

D = dt.date
RULE = RenewalDealRule(days_before=90, stage="appointmentscheduled", pipeline="renewals", deal_type="renewal")
CREATING = PlaybookSet(segments=(
    Segment(playbook=dataclasses.replace(RENEWAL, create_renewal_deal=RULE),
            when=FieldTest(field="deal_type", equals="renewal")),
    Segment(playbook=EXPANSION, when=FieldTest(field="deal_type", equals="existingbusiness")),
    Segment(playbook=dataclasses.replace(NEW_BUSINESS, create_renewal_deal=RULE)),
))


CLOSE = D(2025, 6, 2)


def deal(deal_id: str = "1", close: dt.date = CLOSE, deal_type: str | None = "newbusiness", **kw):
    fields = complete_fields(handoff_status="complete", deal_type=deal_type, renewal_date=kw.pop("renewal", None))
    return make_deal(id=deal_id, close_date=close, company=make_company(id="acme"), fields=fields, **kw)


def run(deals, ledger=None, *, now, playbooks=CREATING, book=None):
    deals = list(deals)
    return plan(deals, reports_for(deals), ledger or {}, FIELDMAP, playbooks, now, customers=book)


def created(result) -> list[CreateDeal]:
    return [a for a in result.plan.actions if isinstance(a, CreateDeal)]


def test_given_the_window_has_not_opened_then_no_renewal_deal_and_the_deal_is_revisited_when_it_opens():
    result = run([deal()], now=at(2026, 3, 3))  # renewal 2026-06-02; window opens 2026-03-04
    assert created(result) == []
    assert result.revisit["1"] == dt.datetime(2026, 3, 4, tzinfo=dt.UTC)


def test_given_the_window_is_open_then_one_renewal_deal_with_company_owner_amount_contact_and_close_date():
    result = run([deal(amount="48000")], now=at(2026, 3, 4))
    [action] = created(result)
    spec = action.spec
    assert spec.key == "ac1:hubspot:1:renewal_deal:1"
    assert (spec.from_deal_id, spec.close_date, spec.stage, spec.pipeline) == ("1", D(2026, 6, 2),
                                                                             "appointmentscheduled", "renewals")
    assert (spec.company_id, spec.contact_id, spec.owner_id, spec.amount) == ("acme", "contact-1", "owner-1", "48000")
    assert spec.fields == {"deal_type": "renewal"}
    assert spec.name == "Acme Corp - Platform 2026 - renewal 2026-06-02"
    assert "90 days before it" in action.reason


def test_given_the_renewal_deal_was_made_then_the_next_runs_plan_nothing_more_for_it():
    first = run([deal()], now=at(2026, 3, 4))
    ledger = apply_to_ledger(first.plan, {}, first.fingerprints)
    for day in (at(2026, 3, 5), at(2026, 5, 1), at(2026, 6, 2)):
        again = run([deal()], ledger, now=day)
        assert created(again) == []
        ledger = apply_to_ledger(again.plan, ledger, again.fingerprints)
        assert not any(a.key == "ac1:hubspot:1:renewal_deal:1" for a in again.plan.actions)  # never retired


def test_given_the_renewal_passed_then_the_next_cycles_renewal_deal_comes_in_its_own_window():
    result = run([deal()], now=at(2026, 6, 3))  # renewal cycle 2 on 2027-06-02
    assert created(result) == []
    later = run([deal()], now=at(2027, 3, 5))
    assert [a.key for a in created(later)] == ["ac1:hubspot:1:renewal_deal:2"]


def test_given_a_fixed_owner_and_an_amount_field_then_they_are_used():
    rule = dataclasses.replace(RULE, owner="owner-9", amount_field="arr")
    playbooks = PlaybookSet(segments=(Segment(playbook=dataclasses.replace(RENEWAL, create_renewal_deal=rule),
                                              when=FieldTest(field="deal_type", equals="renewal")),
                                      Segment(playbook=dataclasses.replace(NEW_BUSINESS, create_renewal_deal=rule))))
    d = dataclasses.replace(deal(), fields={**deal().fields, "arr": "60000"})
    [action] = created(run([d], now=at(2026, 3, 4), playbooks=playbooks))
    assert (action.spec.owner_id, action.spec.amount) == ("owner-9", "60000")


def test_given_a_deactivated_deal_owner_then_the_fallback_owner_gets_the_renewal_deal():
    fallback = dataclasses.replace(NEW_BUSINESS, create_renewal_deal=RULE, fallback_owner="owner-2")
    d = deal(owner=Owner(id="owner-1", active=False))
    [action] = created(run([d], now=at(2026, 3, 4), playbooks=PlaybookSet(segments=(Segment(playbook=fallback),))))
    assert action.spec.owner_id == "owner-2"


def test_given_a_won_renewal_deal_carries_the_renewal_then_the_earlier_deal_creates_none():
    first, renewal = deal("1"), deal("2", close=D(2026, 2, 1), deal_type="renewal")
    result = run([first, renewal], now=at(2026, 3, 4))
    assert [a.deal_id for a in created(result)] == []  # deal 2 renews on 2027-02-01: window opens in November
    assert any("carries it" in note for note in result.notes["1"])


def test_given_the_customer_book_is_incomplete_then_the_renewal_deal_waits_like_the_ladder():
    result = run([deal()], now=at(2026, 3, 4), book=CustomerBook(complete=False))
    assert created(result) == [] and "1" in result.later


def test_given_a_playbook_without_the_setting_then_no_renewal_deal():
    playbooks = PlaybookSet(segments=(Segment(playbook=NEW_BUSINESS),))
    assert created(run([deal()], now=at(2026, 3, 4), playbooks=playbooks)) == []


def test_the_created_deal_once_won_is_chosen_by_the_renewal_playbook():
    [action] = created(run([deal()], now=at(2026, 3, 4)))
    spec = action.spec
    won = make_deal(id="9", close_date=spec.close_date, company=make_company(id=spec.company_id),
                    fields=complete_fields(**spec.fields))
    assert CREATING.choose(won).playbook.renewal_deal


def test_a_touch_point_may_not_take_the_renewal_deals_key():
    from jobs.core.touch_points import TouchPointRule

    with pytest.raises(ValueError, match="reserved"):
        Playbook(touch_points=(TouchPointRule(id="renewal_deal", title="x", anchor="close", offset_days=1),))


@settings(max_examples=60, deadline=None)
@given(close=st.dates(min_value=D(2020, 1, 1), max_value=D(2026, 1, 1)),
       days=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=40),
       days_before=st.integers(min_value=0, max_value=200))
def test_property_over_days_passing_each_renewal_deal_key_is_created_at_most_once_and_within_its_window(
        close, days, days_before):
    rule = dataclasses.replace(RULE, days_before=days_before)
    playbooks = PlaybookSet(segments=(Segment(playbook=dataclasses.replace(NEW_BUSINESS, create_renewal_deal=rule)),))
    d = deal(close=close)
    now, ledger, seen = at(close.year, close.month, close.day), {}, set()
    for step in days:
        now += dt.timedelta(days=step * 7)
        result = run([d], ledger, now=now, playbooks=playbooks)
        for action in created(result):
            assert action.key not in seen
            seen.add(action.key)
            assert action.spec.close_date - dt.timedelta(days=days_before) <= now.date() <= action.spec.close_date
        ledger = apply_to_ledger(result.plan, ledger, result.fingerprints)
