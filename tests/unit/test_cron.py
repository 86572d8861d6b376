"""Cron expressions mean what crontab(5) says they mean: day of week 0 and 7 are Sunday, 1 is
Monday, names (MON-FRI) work, and when both day of month and day of week are restricted the job
runs when either matches. Checked over the next firings from a fixed Sunday."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from jobs.config import Settings, SettingsError
from jobs.serve.cron import crontab_trigger

UTC = dt.UTC
START = dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # a Sunday


def firings(expression: str, count: int = 8, start: dt.datetime = START, zone: str = "UTC") -> list[str]:
    trigger = crontab_trigger(expression, zone)
    out, previous, now = [], None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        out.append(fire.strftime("%a %d %H:%M"))
        previous, now = fire, fire + dt.timedelta(seconds=1)
    return out


# (expression, the first firings from Sunday 1 March 2026 00:00 UTC), from crontab(5)'s rules.
TABLE = [
    ("0 9 * * 1-5", ["Mon 02 09:00", "Tue 03 09:00", "Wed 04 09:00", "Thu 05 09:00", "Fri 06 09:00",
                     "Mon 09 09:00"]),
    ("0 9 * * MON-FRI", ["Mon 02 09:00", "Tue 03 09:00", "Wed 04 09:00", "Thu 05 09:00", "Fri 06 09:00",
                         "Mon 09 09:00"]),
    ("0 9 * * 0", ["Sun 01 09:00", "Sun 08 09:00", "Sun 15 09:00"]),
    ("0 9 * * 7", ["Sun 01 09:00", "Sun 08 09:00", "Sun 15 09:00"]),
    ("0 9 * * sun", ["Sun 01 09:00", "Sun 08 09:00", "Sun 15 09:00"]),
    ("0 9 * * 1", ["Mon 02 09:00", "Mon 09 09:00"]),
    ("0 9 * * 6", ["Sat 07 09:00", "Sat 14 09:00"]),
    ("30 6 * * 5-7", ["Sun 01 06:30", "Fri 06 06:30", "Sat 07 06:30", "Sun 08 06:30"]),
    ("0 9 * * 0-2", ["Sun 01 09:00", "Mon 02 09:00", "Tue 03 09:00", "Sun 08 09:00"]),
    ("0 9 * * */2", ["Sun 01 09:00", "Tue 03 09:00", "Thu 05 09:00", "Sat 07 09:00", "Sun 08 09:00"]),
    ("0 9 * * 1-5/2", ["Mon 02 09:00", "Wed 04 09:00", "Fri 06 09:00", "Mon 09 09:00"]),
    ("0 9 * * mon,Wed,FRI", ["Mon 02 09:00", "Wed 04 09:00", "Fri 06 09:00", "Mon 09 09:00"]),
    # Both day fields restricted: either one matching is enough (the 1st, and every Friday).
    ("0 9 1,15 * 5", ["Sun 01 09:00", "Fri 06 09:00", "Fri 13 09:00", "Sun 15 09:00", "Fri 20 09:00"]),
    # A day field with "*" in it is not restricted: both must match (days 1, 11, 21, 31 that are Saturdays).
    ("0 9 */10 * 6", ["Sat 21 09:00", "Sat 11 09:00"]),
    ("*/15 * * * *", ["Sun 01 00:00", "Sun 01 00:15", "Sun 01 00:30"]),
    ("@daily", ["Sun 01 00:00", "Mon 02 00:00", "Tue 03 00:00"]),
    ("@weekly", ["Sun 01 00:00", "Sun 08 00:00"]),
    ("@hourly", ["Sun 01 00:00", "Sun 01 01:00"]),
]


@pytest.mark.parametrize(("expression", "expected"), TABLE, ids=[e for e, _ in TABLE])
def test_given_crontab_expression_then_next_firings_follow_crontab5(expression, expected):
    assert firings(expression, len(expected)) == expected


def test_given_a_zone_then_weekdays_are_that_zones_days():
    # 09:00 on weekdays in Auckland: Monday 09:00 there is Sunday 20:00 UTC.
    trigger = crontab_trigger("0 9 * * 1-5", "Pacific/Auckland")
    fire = trigger.get_next_fire_time(None, START)
    assert fire.astimezone(ZoneInfo("Pacific/Auckland")).strftime("%a %H:%M") == "Mon 09:00"


@pytest.mark.parametrize(("expression", "names"), [
    ("0 9 * * 8", "day of week"), ("0 9 * * 5-3", "day of week"), ("0 9 * * funday", "day of week"),
    ("61 * * * *", "minute"), ("0 9 * *", "5 fields"), ("@reboot", "@reboot"), ("0 9 * * 1/2", "day of week"),
])
def test_given_a_bad_expression_then_refused_naming_the_field(expression, names):
    with pytest.raises(ValueError, match=names):
        crontab_trigger(expression, "UTC")


def test_given_sunday_as_7_in_the_config_then_accepted_and_serve_uses_the_same_reading():
    settings = Settings.from_mapping({"crm": {"provider": "hubspot"}, "hubspot": {"access_token": "pat-x-123456"},
                                      "schedule": {"sync": "0 9 * * 7", "nps": "0 6 * * MON-FRI"}})
    assert settings.schedule.sync == "0 9 * * 7"
    with pytest.raises(SettingsError, match="schedule.sync"):
        Settings.from_mapping({"crm": {"provider": "hubspot"}, "hubspot": {"access_token": "pat-x-123456"},
                               "schedule": {"sync": "0 9 * * 8"}})
