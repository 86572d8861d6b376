"""Calendar arithmetic for playbooks: workdays, business-day offsets, months, due times. Pure.

Every function takes the playbook (anything with its calendar: ``timezone``/``zone``,
``workdays``, ``holidays``, ``due_hour``); the rules are written down in jobs/core/playbook.py.
"""

from __future__ import annotations

import calendar
import datetime as dt
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.model import require_aware

MONDAY_TO_FRIDAY = frozenset({0, 1, 2, 3, 4})
MAX_CALENDAR_SCAN_DAYS = 3 * 366
"""Bound on workday searches: a calendar with no workday in years is a config error."""


class CalendarError(ValueError):
    """The playbook's calendar has no workday where one is needed: a configuration mistake."""


class Calendar(Protocol):
    @property
    def zone(self) -> ZoneInfo: ...
    @property
    def workdays(self) -> frozenset[int]: ...
    @property
    def holidays(self) -> frozenset[dt.date]: ...
    @property
    def due_hour(self) -> int: ...


@lru_cache(maxsize=64)
def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"playbook: unknown time zone {name!r} (use an IANA name like 'Europe/Berlin')") from exc


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` shifted by whole months, clamped to the last day of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def is_workday(day: dt.date, cal: Calendar) -> bool:
    return day.weekday() in cal.workdays and day not in cal.holidays


def next_workday(day: dt.date, cal: Calendar) -> dt.date:
    """``day`` itself when it is a workday, else the first workday after it."""
    for step in range(MAX_CALENDAR_SCAN_DAYS):
        candidate = day + dt.timedelta(days=step)
        if is_workday(candidate, cal):
            return candidate
    raise CalendarError(f"playbook: no workday within {MAX_CALENDAR_SCAN_DAYS} days of {day} (check holidays)")


def add_business_days(day: dt.date, count: int, cal: Calendar) -> dt.date:
    """Count ``count`` workdays forward (or backward when negative) from ``day``."""
    if count == 0:
        return next_workday(day, cal)
    step = dt.timedelta(days=1 if count > 0 else -1)
    remaining, current = abs(count), day
    for _ in range(MAX_CALENDAR_SCAN_DAYS + remaining):
        current += step
        if is_workday(current, cal):
            remaining -= 1
            if remaining == 0:
                return current
    raise CalendarError(f"playbook: cannot count {count} business days from {day} (check holidays)")


def local_today(now: dt.datetime, cal: Calendar) -> dt.date:
    require_aware("now", now)
    return now.astimezone(cal.zone).date()


def due_at(day: dt.date, cal: Calendar) -> dt.datetime:
    """``due_hour`` o'clock on ``day`` in the playbook's zone, as one instant (playbook.py: a
    skipped hour is due when the clocks jump, a repeated one the first time)."""
    return _instant(day, cal.due_hour, cal.zone)


@lru_cache(maxsize=4096)
def _instant(day: dt.date, hour: int, zone: ZoneInfo) -> dt.datetime:
    """Deals closed on one day share their due days: the zone arithmetic is done once per day."""
    wall = dt.datetime.combine(day, dt.time(hour), tzinfo=zone)  # fold=0
    local = wall.astimezone(dt.UTC).astimezone(zone)
    offset = local.utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return local.replace(tzinfo=dt.timezone(offset))


def start_of_day(day: dt.date, cal: Calendar) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=cal.zone)
