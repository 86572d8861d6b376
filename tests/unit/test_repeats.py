"""Regular check-ups: which occurrences are planned, their keys, the horizon, and the ends."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.actions import CloseTask, CreateTask, Skip, UpdateTask
from jobs.core import repeats
from jobs.core.ledger_view import EntryStatus
from jobs.core.planner import plan
from jobs.core.playbook import DEFAULT_PLAYBOOK, Repeat, TouchPointRule, schedule, upcoming
from tests.builders import apply_to_ledger, at, complete_fields, make_deal, make_fieldmap, reports_for

D = dt.date
FIELDMAP = make_fieldmap()
CLOSE = D(2026, 3, 2)  # a Monday; the first renewal is 2027-03-02


def check_up(**repeat) -> TouchPointRule:
    settings = dict(every=3, unit="months", until="renewal", until_offset_days=-60) | repeat
    return TouchPointRule(id="health_check", title="Health check", anchor="close", offset_days=90,
                          repeat=Repeat(**settings))


def playbook(rule: TouchPointRule, **settings):
    return dataclasses.replace(DEFAULT_PLAYBOOK, touch_points=(rule,), **settings)


def planned(rule, now, deal=None, **settings):
    result = schedule(deal or make_deal(close_date=CLOSE), playbook(rule, **settings), now)
    return [(tp.cycle, tp.due_date) for tp in result.touch_points], result


def run(deal, ledger, now, rule, **settings):
    deals = [deal]
    result = plan(deals, reports_for(deals), ledger, FIELDMAP, playbook(rule, **settings), now)
    return result, apply_to_ledger(result.plan, ledger, result.fingerprints)


def test_given_quarterly_check_up_until_60_days_before_renewal_then_three_in_the_first_year_keyed_by_occurrence():
    occurrences, result = planned(check_up(), at(2026, 3, 2))
    # 31 May is a Sunday -> Monday; the fourth (28 Feb 2027 -> 1 Mar) falls in the 60 days before the renewal.
    assert occurrences == [(1, D(2026, 6, 1)), (2, D(2026, 8, 31)), (3, D(2026, 11, 30))]
    assert result.touch_points[1].reason == ("due 2026-08-31: Health check #2, 90 days after close 2026-03-02, then "
                                             "every 3 months until 60 days before each renewal")


def test_given_the_second_contract_year_then_the_series_carries_on_after_the_renewal_with_the_next_numbers():
    occurrences, _ = planned(check_up(), at(2027, 4, 1))
    assert occurrences == [(5, D(2027, 5, 31)), (6, D(2027, 8, 31)), (7, D(2027, 11, 30))]


def test_given_a_horizon_then_only_occurrences_due_within_it_are_planned_and_revisited_when_the_next_enters():
    rule = check_up(horizon_days=45)
    occurrences, result = planned(rule, at(2026, 3, 2))
    assert occurrences == [] and result.revisit_at.date() == D(2026, 4, 17)  # 1 June - 45 days
    occurrences, result = planned(rule, at(2026, 4, 17))
    assert occurrences == [(1, D(2026, 6, 1))] and result.revisit_at.date() == D(2026, 7, 17)


def test_given_a_customer_of_five_years_with_a_monthly_check_up_then_only_the_latest_and_the_next_are_planned():
    rule = TouchPointRule(id="monthly", title="Monthly check-in", anchor="close", offset_days=30,
                          repeat=Repeat(every=1, unit="months", horizon_days=30))
    deal = make_deal(close_date=D(2021, 3, 2))
    occurrences, _ = planned(rule, at(2026, 3, 10), deal)
    assert occurrences == [(60, D(2026, 3, 2)), (61, D(2026, 4, 1))]
    result, _ = run(deal, {}, at(2026, 3, 10), rule)
    assert [type(a) for a in result.plan.actions if a.key.endswith((":60", ":61"))] == [Skip, CreateTask]


def test_given_a_repeat_ending_after_the_close_then_nothing_after_that_day():
    rule = TouchPointRule(id="onboarding_weekly", title="Weekly onboarding call", anchor="close", offset_days=7,
                          repeat=Repeat(every=7, unit="days", until="close", until_offset_days=35))
    occurrences, _ = planned(rule, at(2026, 3, 2))
    assert occurrences == [(n, CLOSE + dt.timedelta(days=7 * n)) for n in range(1, 6)]
    assert planned(rule, at(2026, 4, 8))[0] == [(5, D(2026, 4, 6))]  # the last one, two days overdue
    assert planned(rule, at(2026, 6, 1))[0] == []


def test_given_renewals_that_do_not_roll_forward_then_the_series_ends_with_the_first_renewal():
    occurrences, _ = planned(check_up(), at(2027, 4, 1), roll_forward=False)
    assert occurrences == []


def test_given_a_renewal_deal_takes_over_then_no_occurrence_on_or_after_its_close():
    result = schedule(make_deal(close_date=CLOSE), playbook(check_up()), at(2026, 3, 2), ends=D(2026, 8, 31))
    assert [(tp.cycle, tp.due_date) for tp in result.touch_points] == [(1, D(2026, 6, 1))]


def test_plan_lists_the_next_check_ups_of_each_repeating_touch_point():
    assert upcoming(make_deal(close_date=CLOSE), playbook(check_up()), at(2026, 7, 1)) == {
        "health_check": (D(2026, 8, 31), D(2026, 11, 30), D(2027, 5, 31))}


@pytest.mark.parametrize("repeat, message", [
    (dict(every=3, unit="months"), "a repeat needs an end"),
    (dict(every=0, until="renewal"), "repeat.every must be 1 or more"),
    (dict(every=1, unit="weeks", until="renewal"), "repeat.unit must be 'days' or 'months'"),
    (dict(every=1, until="close", until_offset_days=10), "ends 10 days after the close, before its first"),
])
def test_given_a_repeat_that_cannot_work_then_refused_naming_the_touch_point(repeat, message):
    with pytest.raises(ValueError, match=f"touch point 'health_check': .*{message}"):
        TouchPointRule(id="health_check", title="Health check", anchor="close", offset_days=90, repeat=Repeat(**repeat))


def test_given_a_repeat_from_the_renewal_then_refused_it_starts_from_the_close():
    with pytest.raises(ValueError, match="starts from the close"):
        TouchPointRule(id="x", title="X", anchor="renewal", offset_days=-200,
                       repeat=Repeat(every=1, until="renewal", until_offset_days=-30))


def test_given_a_gap_before_renewal_longer_than_the_term_then_refused():
    with pytest.raises(ValueError, match="leaves no day of a 12-month contract term"):
        playbook(check_up(until_offset_days=-400))


# --- keys stay put when dates move ---------------------------------------------------------------


def test_given_the_close_date_moves_then_each_open_occurrence_is_rescheduled_under_its_own_key():
    deal = make_deal(close_date=CLOSE, fields=complete_fields(handoff_status="complete"))
    _, ledger = run(deal, {}, at(2026, 3, 2), check_up())
    moved = dataclasses.replace(deal, close_date=CLOSE + dt.timedelta(days=9))
    result, _ = run(moved, ledger, at(2026, 3, 3), check_up())
    updates = {a.key: a.spec.due_date for a in result.plan.actions if isinstance(a, UpdateTask)}
    assert {key.rsplit(":", 1)[1] for key in updates} == {"1", "2", "3"}
    assert not [a for a in result.plan.actions if isinstance(a, CreateTask)]
    assert updates["ac1:hubspot:1001:health_check:1"] == D(2026, 6, 9)


def test_given_the_renewal_moves_so_an_occurrence_falls_before_it_then_that_task_is_noted_then_closed():
    deal = make_deal(close_date=CLOSE, fields=complete_fields(handoff_status="complete", renewal_date="2027-03-02"))
    _, ledger = run(deal, {}, at(2026, 3, 2), check_up())
    earlier = make_deal(close_date=CLOSE, fields=complete_fields(handoff_status="complete", renewal_date="2027-01-15"))
    first, ledger = run(earlier, ledger, at(2026, 3, 3), check_up())
    [note] = [a for a in first.plan.actions if isinstance(a, UpdateTask) and a.key.endswith(":health_check:3")]
    assert note.changes == ("content",) and note.reason.startswith("say why, then close it on the next run")
    assert "AfterClose is closing this task: within 60 days before the renewal on 2027-01-15" in note.spec.body
    second, ledger = run(earlier, ledger, at(2026, 3, 3, hour=13), check_up())
    assert [(type(a), a.key) for a in second.plan.actions] == [(CloseTask, note.key)]
    assert {e.key: e.status for e in ledger["1001"]}[note.key] is EntryStatus.COMPLETED
    assert run(earlier, ledger, at(2026, 3, 3, hour=14), check_up())[0].plan.actions == ()


# --- the property: keys stay with their occurrence, whatever moves -------------------------------

repeats_ = st.builds(
    lambda every, unit, until, offset, horizon: Repeat(every=every, unit=unit, until=until, until_offset_days=offset,
                                                       horizon_days=horizon if horizon or until is None else None),
    st.integers(1, 4), st.sampled_from(["months", "days"]), st.sampled_from([None, "renewal"]),
    st.integers(-90, -10), st.sampled_from([None, 20, 60, 120]),
).filter(lambda r: r.until is not None or r.horizon_days is not None)


@settings(max_examples=120, deadline=None)
@given(repeats_, st.dates(D(2023, 1, 1), D(2026, 6, 1)), st.sampled_from([None, 300, 365, 500]),
       st.lists(st.tuples(st.integers(-20, 20), st.integers(-30, 30), st.integers(0, 120)), min_size=1, max_size=4))
def test_keys_of_check_ups_stay_with_their_occurrence_across_runs_and_moved_anchors(repeat, close, renewal_in, moves):
    if repeat.unit == "days":
        repeat = dataclasses.replace(repeat, every=repeat.every * 14)
    rule = TouchPointRule(id="check_up", title="Check-up", anchor="close", offset_days=30, repeat=repeat)
    now = at(2026, 6, 1)
    renewal = close + dt.timedelta(days=renewal_in) if renewal_in else None
    ledger: dict = {}
    for close_shift, renewal_shift, days in [(0, 0, 0), *moves]:
        close += dt.timedelta(days=close_shift)
        renewal = renewal + dt.timedelta(days=renewal_shift) if renewal else None
        now += dt.timedelta(days=days)
        deal = make_deal(close_date=close, fields=complete_fields(
            handoff_status="complete", renewal_date=renewal.isoformat() if renewal else None))
        before = {e.key: e.status for entries in ledger.values() for e in entries}
        result, ledger = run(deal, ledger, now, rule)
        for action in result.plan.actions:
            if isinstance(action, CreateTask):
                assert before.get(action.key, EntryStatus.SKIPPED) is EntryStatus.SKIPPED  # never a second task
            if isinstance(action, UpdateTask | CloseTask):
                assert before[action.key] is EntryStatus.OPEN
            if isinstance(action, CreateTask | UpdateTask) and "AfterClose is closing" not in action.spec.body:
                number = int(action.key.rsplit(":", 1)[1]) - 1
                assert action.spec.due_date == repeats.occurrence(rule, close, number, DEFAULT_PLAYBOOK).due
            if isinstance(action, CreateTask) and repeat.horizon_days is not None:
                assert action.spec.due_date <= now.date() + dt.timedelta(days=repeat.horizon_days)
