"""The playbook: when each touch point is due, in which renewal cycle, in which time zone."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from connector.model import Priority, TaskType
from jobs.core.playbook import (
    DEFAULT_PLAYBOOK,
    MONDAY_TO_FRIDAY,
    CalendarError,
    Playbook,
    TouchPointRule,
    add_business_days,
    add_months,
    handoff_touch_point,
    schedule,
    touch_points,
)
from tests.builders import at, complete_fields, make_deal

D = dt.date


def due_dates(deal, now, playbook=DEFAULT_PLAYBOOK) -> dict[str, dt.date]:
    return {tp.id: tp.due_date for tp in touch_points(deal, playbook, now)}


def playbook_with(*rules: TouchPointRule, **settings) -> Playbook:
    return dataclasses.replace(DEFAULT_PLAYBOOK, touch_points=rules, **settings)


def calendar_rule(days: int, anchor: str = "close") -> TouchPointRule:
    return TouchPointRule(id="check", title="Check-in", anchor=anchor, offset_days=days)


# --- the default playbook ------------------------------------------------------------------------


def test_given_monday_close_then_default_ladder_is_due_on_these_days():
    deal = make_deal(close_date=D(2026, 3, 2))
    assert due_dates(deal, at(2026, 3, 2)) == {
        "kickoff": D(2026, 3, 4),                # +2 business days
        "onboarding_checkup": D(2026, 3, 16),    # +14
        "value_review_30": D(2026, 4, 1),        # +30
        "nps_checkin_60": D(2026, 5, 1),         # +60
        "business_review_90": D(2026, 6, 1),     # +90 lands on Sunday 31 May -> Monday
        "renewal_planning": D(2026, 11, 2),      # renewal 2027-03-02 - 120 days
        "renewal_review": D(2026, 12, 2),        # -90
        "renewal_proposal": D(2027, 1, 1),       # -60
        "renewal_decision": D(2027, 2, 1),       # -30 lands on Sunday 31 Jan -> Monday
    }


def test_given_default_playbook_then_kickoff_is_a_high_priority_call_and_renewal_decision_is_high():
    rules = {rule.id: rule for rule in DEFAULT_PLAYBOOK.touch_points}
    assert (rules["kickoff"].type, rules["kickoff"].priority) == (TaskType.CALL, Priority.HIGH)
    assert rules["renewal_decision"].priority is Priority.HIGH
    assert rules["renewal_decision"].offset_days == -30


def test_given_close_then_reason_says_when_and_why():
    kickoff = touch_points(make_deal(close_date=D(2026, 3, 2)), DEFAULT_PLAYBOOK, at(2026, 3, 2))[0]
    assert kickoff.reason == "due 2026-03-04: Kickoff call, 2 business days after close 2026-03-02"


def test_given_close_anchored_touch_points_then_they_are_cycle_0_and_renewal_ones_cycle_1():
    planned = touch_points(make_deal(), DEFAULT_PLAYBOOK, at(2026, 3, 2))
    assert {tp.id: tp.cycle for tp in planned if tp.rule.anchor == "close"} == dict.fromkeys(
        ["kickoff", "onboarding_checkup", "value_review_30", "nps_checkin_60", "business_review_90"], 0)
    assert {tp.cycle for tp in planned if tp.rule.anchor == "renewal"} == {1}


# --- business days, weekends, holidays -----------------------------------------------------------


def test_given_friday_close_then_kickoff_is_tuesday():
    assert due_dates(make_deal(close_date=D(2026, 3, 6)), at(2026, 3, 6))["kickoff"] == D(2026, 3, 10)


def test_given_saturday_close_then_two_business_days_is_tuesday():
    assert add_business_days(D(2026, 3, 7), 2, DEFAULT_PLAYBOOK) == D(2026, 3, 10)


def test_given_holiday_inside_the_count_then_it_is_not_a_business_day():
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, holidays=frozenset({D(2026, 3, 3)}))
    assert due_dates(make_deal(close_date=D(2026, 3, 2)), at(2026, 3, 2), playbook)["kickoff"] == D(2026, 3, 5)


def test_given_zero_business_days_on_a_weekend_then_next_workday():
    assert add_business_days(D(2026, 3, 7), 0, DEFAULT_PLAYBOOK) == D(2026, 3, 9)


def test_given_negative_business_days_then_counted_backwards_over_the_weekend():
    assert add_business_days(D(2026, 3, 9), -1, DEFAULT_PLAYBOOK) == D(2026, 3, 6)


def test_given_calendar_offset_on_saturday_then_moved_to_monday_and_reason_says_so():
    playbook = playbook_with(calendar_rule(5))
    [planned] = touch_points(make_deal(close_date=D(2026, 3, 2)), playbook, at(2026, 3, 2))
    assert planned.due_date == D(2026, 3, 9)
    assert "Sat 2026-03-07 is not a workday" in planned.reason


def test_given_calendar_offset_on_a_holiday_then_moved_to_the_next_workday():
    playbook = playbook_with(calendar_rule(14), holidays=frozenset({D(2026, 3, 16), D(2026, 3, 17)}))
    assert due_dates(make_deal(close_date=D(2026, 3, 2)), at(2026, 3, 2), playbook)["check"] == D(2026, 3, 18)


def test_given_sunday_to_thursday_workweek_then_friday_moves_to_sunday():
    playbook = playbook_with(calendar_rule(4), workdays=frozenset({6, 0, 1, 2, 3}))
    assert due_dates(make_deal(close_date=D(2026, 3, 2)), at(2026, 3, 2), playbook)["check"] == D(2026, 3, 8)


# --- months: leap days and month ends ------------------------------------------------------------


@pytest.mark.parametrize("day, months, expected", [
    (D(2025, 1, 31), 1, D(2025, 2, 28)),
    (D(2024, 1, 31), 1, D(2024, 2, 29)),
    (D(2024, 2, 29), 12, D(2025, 2, 28)),
    (D(2024, 2, 29), 48, D(2028, 2, 29)),
    (D(2025, 12, 15), 1, D(2026, 1, 15)),
    (D(2026, 3, 31), -1, D(2026, 2, 28)),
])
def test_add_months_clamps_to_the_end_of_shorter_months(day, months, expected):
    assert add_months(day, months) == expected


def test_given_leap_day_close_then_renewal_is_28_february_next_year():
    result = schedule(make_deal(close_date=D(2024, 2, 29)), DEFAULT_PLAYBOOK, at(2024, 3, 1))
    assert result.renewal.renewal_date == D(2025, 2, 28)
    assert result.renewal.number == 1


def test_given_month_end_renewal_and_monthly_term_then_later_cycles_do_not_drift_to_the_28th():
    deal = make_deal(close_date=D(2024, 12, 31), fields=complete_fields(renewal_date="2025-01-31"))
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, contract_term_months=1)
    assert schedule(deal, playbook, at(2025, 2, 1)).renewal.renewal_date == D(2025, 2, 28)
    assert schedule(deal, playbook, at(2025, 3, 1)).renewal.renewal_date == D(2025, 3, 31)


# --- renewal dates and cycles --------------------------------------------------------------------


def test_given_no_renewal_date_then_close_plus_term_is_the_renewal():
    result = schedule(make_deal(close_date=D(2026, 3, 2)), DEFAULT_PLAYBOOK, at(2026, 3, 2))
    assert result.renewal.renewal_date == D(2027, 3, 2)
    assert result.notes == ()


def test_given_mapped_renewal_date_then_the_ladder_counts_back_from_it():
    deal = make_deal(close_date=D(2026, 3, 2), fields=complete_fields(renewal_date="2027-01-31"))
    result = schedule(deal, DEFAULT_PLAYBOOK, at(2026, 3, 2))
    assert result.renewal.renewal_date == D(2027, 1, 31)
    assert due_dates(deal, at(2026, 3, 2))["renewal_decision"] == D(2027, 1, 1)


def test_given_renewal_date_before_close_then_close_plus_term_is_used_and_noted():
    deal = make_deal(close_date=D(2026, 3, 2), fields=complete_fields(renewal_date="2026-01-31"))
    result = schedule(deal, DEFAULT_PLAYBOOK, at(2026, 3, 2))
    assert result.renewal.renewal_date == D(2027, 3, 2)
    assert result.notes == ("renewal date 2026-01-31 is not after the close date 2026-03-02: "
                            "renewals counted from close date 2026-03-02 + 12 months",)


def test_given_unparseable_renewal_date_then_close_plus_term_is_used_and_noted():
    deal = make_deal(close_date=D(2026, 3, 2), fields=complete_fields(renewal_date="next spring"))
    result = schedule(deal, DEFAULT_PLAYBOOK, at(2026, 3, 2))
    assert result.renewal.renewal_date == D(2027, 3, 2)
    assert "'next spring' is not a date" in result.notes[0]


def test_given_hubspot_epoch_ms_renewal_date_then_it_is_read_as_a_date():
    midnight_utc_ms = str(int(dt.datetime(2027, 1, 31, tzinfo=dt.UTC).timestamp() * 1000))
    deal = make_deal(fields=complete_fields(renewal_date=midnight_utc_ms))
    assert schedule(deal, DEFAULT_PLAYBOOK, at(2026, 3, 2)).renewal.renewal_date == D(2027, 1, 31)


def test_given_deal_closed_years_ago_then_the_current_cycle_is_planned_and_revisited_after_it():
    deal = make_deal(close_date=D(2023, 1, 10))
    result = schedule(deal, DEFAULT_PLAYBOOK, at(2026, 3, 2))
    assert (result.renewal.number, result.renewal.renewal_date) == (4, D(2027, 1, 10))
    assert result.renewal.source == "close date 2023-01-10 + 48 months"
    assert {tp.cycle for tp in result.touch_points if tp.rule.anchor == "renewal"} == {4}
    assert result.revisit_at == at(2027, 1, 11, hour=0)


def test_given_renewal_is_today_then_it_is_still_the_current_cycle():
    deal = make_deal(close_date=D(2025, 3, 2))
    assert schedule(deal, DEFAULT_PLAYBOOK, at(2026, 3, 2, hour=23)).renewal.number == 1


def test_given_the_day_after_renewal_then_the_next_cycle_is_planned():
    deal = make_deal(close_date=D(2025, 3, 2))
    result = schedule(deal, DEFAULT_PLAYBOOK, at(2026, 3, 3, hour=0))
    assert (result.renewal.number, result.renewal.renewal_date) == (2, D(2027, 3, 2))


def test_given_36_month_term_then_renewals_are_three_years_apart():
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, contract_term_months=36)
    deal = make_deal(close_date=D(2026, 3, 2))
    assert schedule(deal, playbook, at(2026, 3, 2)).renewal.renewal_date == D(2029, 3, 2)
    later = schedule(deal, playbook, at(2029, 3, 3))
    assert (later.renewal.number, later.renewal.renewal_date) == (2, D(2032, 3, 2))


def test_given_renewal_date_moved_by_weeks_then_the_cycle_number_stays():
    close = D(2025, 3, 2)
    before = schedule(make_deal(close_date=close, fields=complete_fields(renewal_date="2026-03-02")),
                      DEFAULT_PLAYBOOK, at(2025, 6, 1))
    moved = schedule(make_deal(close_date=close, fields=complete_fields(renewal_date="2026-04-20")),
                     DEFAULT_PLAYBOOK, at(2025, 6, 1))
    assert before.renewal.number == moved.renewal.number == 1


def test_given_renewal_date_rolled_forward_a_year_after_renewing_then_it_is_the_next_cycle():
    close = D(2025, 3, 2)
    rolled = make_deal(close_date=close, fields=complete_fields(renewal_date="2027-03-02"))
    assert schedule(rolled, DEFAULT_PLAYBOOK, at(2026, 3, 10)).renewal.number == 2
    later = schedule(rolled, DEFAULT_PLAYBOOK, at(2027, 3, 10)).renewal
    assert (later.number, later.source) == (3, "the deal's renewal date 2027-03-02 + 12 months")


def test_given_no_close_date_then_nothing_is_scheduled_and_that_is_noted():
    result = schedule(make_deal(close_date=None), DEFAULT_PLAYBOOK, at(2026, 3, 2))
    assert result.touch_points == () and result.revisit_at is None
    assert result.notes == ("no close date: the playbook cannot be scheduled",)


def test_given_close_date_at_the_end_of_the_calendar_then_noted_not_raised():
    result = schedule(make_deal(close_date=D(9999, 12, 1)), DEFAULT_PLAYBOOK, at(2026, 3, 2))
    assert result.touch_points == ()
    assert "dates out of range" in result.notes[0]


# --- time zones ----------------------------------------------------------------------------------


def test_given_los_angeles_playbook_then_due_is_9am_pacific():
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, timezone="America/Los_Angeles")
    kickoff = touch_points(make_deal(close_date=D(2026, 3, 2)), playbook, at(2026, 3, 2))[0]
    assert kickoff.due_at == at(2026, 3, 4, hour=9, tz="America/Los_Angeles")
    assert kickoff.due_at.astimezone(dt.UTC) == at(2026, 3, 4, hour=17)  # PST, UTC-8


def test_given_los_angeles_after_dst_starts_then_9am_is_16_utc():
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, timezone="America/Los_Angeles")
    kickoff = touch_points(make_deal(close_date=D(2026, 3, 6)), playbook, at(2026, 3, 6))[0]
    assert kickoff.due_at.astimezone(dt.UTC) == at(2026, 3, 10, hour=16)  # PDT, UTC-7


def test_given_auckland_due_hour_then_due_is_the_evening_before_in_utc():
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, timezone="Pacific/Auckland", due_hour=8)
    kickoff = touch_points(make_deal(close_date=D(2026, 3, 2)), playbook, at(2026, 3, 2))[0]
    assert kickoff.due_at == at(2026, 3, 4, hour=8, tz="Pacific/Auckland")
    assert kickoff.due_at.astimezone(dt.UTC) == at(2026, 3, 3, hour=19)  # NZDT, UTC+13


def test_given_late_evening_utc_then_today_is_the_next_day_in_auckland():
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, timezone="Pacific/Auckland")
    handoff = handoff_touch_point(playbook, at(2026, 3, 5, hour=20))  # Friday 6 March 09:00 in Auckland
    assert handoff.anchor_date == D(2026, 3, 6)
    assert handoff.due_date == D(2026, 3, 9)


def test_given_naive_now_then_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        touch_points(make_deal(), DEFAULT_PLAYBOOK, dt.datetime(2026, 3, 2, 12))


# --- configuration mistakes ----------------------------------------------------------------------


@pytest.mark.parametrize("settings, message", [
    (dict(timezone="Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
    (dict(due_hour=24), "due_hour must be 0-23"),
    (dict(workdays=frozenset()), "workdays must be a non-empty set"),
    (dict(workdays=frozenset({7})), "workdays must be a non-empty set"),
    (dict(catch_up_days=-1), "catch_up_days must be 0 or more"),
    (dict(contract_term_months=0), "contract_term_months must be 1 or more"),
    (dict(touch_points=(calendar_rule(1), calendar_rule(2))), "'check' is used twice"),
])
def test_given_bad_playbook_setting_then_the_error_names_it(settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        dataclasses.replace(DEFAULT_PLAYBOOK, **settings)


@pytest.mark.parametrize("rule_id", ["Kickoff", "kick-off", "", "1st_call", "x" * 41])
def test_given_touch_point_id_unfit_for_a_key_then_refused(rule_id):
    with pytest.raises(ValueError, match="touch point id"):
        TouchPointRule(id=rule_id, title="x", anchor="close", offset_days=1)


def test_given_holidays_covering_every_workday_for_years_then_a_config_error_not_a_per_deal_note():
    years = frozenset(D(2026, 1, 1) + dt.timedelta(days=n) for n in range(4 * 366))
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, holidays=years)
    with pytest.raises(CalendarError, match="no workday"):
        add_business_days(D(2026, 1, 1), 0, playbook)
    with pytest.raises(CalendarError, match="check holidays"):
        schedule(make_deal(close_date=D(2026, 1, 5)), playbook, at(2026, 1, 5))


@pytest.mark.parametrize("rule, text", [
    (TouchPointRule(id="a", title="A", anchor="close", offset_days=2, business_days=True),
     "2 business days after close"),
    (TouchPointRule(id="a", title="A", anchor="renewal", offset_days=-120), "120 days before renewal"),
    (TouchPointRule(id="a", title="A", anchor="close", offset_days=1), "1 day after close"),
    (TouchPointRule(id="a", title="A", anchor="close", offset_days=0), "on the close date"),
])
def test_offsets_are_described_in_words(rule, text):
    assert rule.describe_offset() == text


def test_default_workdays_are_monday_to_friday():
    assert DEFAULT_PLAYBOOK.workdays == MONDAY_TO_FRIDAY == frozenset(range(5))
