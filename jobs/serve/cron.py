"""Cron expressions as crontab(5) reads them, turned into APScheduler 3 triggers.

The one place a cron string becomes a trigger (the config check, ``serve``'s scheduler and its
health report all call ``crontab_trigger``). APScheduler 3's own ``CronTrigger.from_crontab``
numbers the day of week from 0 = Monday, so ``0 9 * * 1-5`` would run Tuesday to Saturday and
``7`` would be refused; it also requires both day fields to match. crontab(5) says otherwise
(man7.org/linux/man-pages/man5/crontab.5.html, cronie and Vixie cron):

- day of week: 0-7, where 0 and 7 are Sunday, or the first three letters of the name in any case
  (``MON-FRI`` works too, as in cronie); ranges do not wrap (``5-3`` is an error);
- when day of month and day of week are both restricted (neither field contains ``*``), the job
  runs when *either* matches: ``0 9 1 * 5`` is the 1st of the month and every Friday;
- ``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``, ``@hourly``
  stand for their five fields; ``@reboot`` means nothing to a scheduler that is already running.

Minutes, hours, days of month and months mean the same to both, so those fields are handed to
APScheduler as written. The day of week is expanded to the set of days it names and passed on by
name (``mon,tue``), which both readings agree on.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
"""crontab(5)'s numbering: index 0 is Sunday (and 7 is Sunday again)."""
MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
FIELDS = ("minute", "hour", "day of month", "month", "day of week")


def crontab_trigger(expression: str, timezone: str | dt.tzinfo) -> BaseTrigger:
    """The trigger for a crontab(5) expression read in ``timezone``; ValueError names the bad field."""
    zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    fields = _fields(expression)
    minute, hour, day, month, weekday = fields
    days_of_week = _weekdays(weekday)
    try:
        if "*" not in day and "*" not in weekday:
            return OrTrigger([
                CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week="*", timezone=zone),
                CronTrigger(minute=minute, hour=hour, day="*", month=month, day_of_week=days_of_week,
                            timezone=zone),
            ])
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=days_of_week,
                           timezone=zone)
    except ValueError as exc:
        raise ValueError(f"{_field_of(exc, fields)}: {exc}") from None


def _fields(expression: str) -> list[str]:
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise ValueError(f"{text!r} is not a schedule this scheduler can keep; use five fields or one of "
                             f"{', '.join(MACROS)}")
        text = MACROS[text.lower()]
    fields = text.split()
    if len(fields) != len(FIELDS):
        raise ValueError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")
    return fields


def _weekdays(field: str) -> str:
    """crontab's day-of-week field as APScheduler names (``1-5`` -> ``mon,tue,wed,thu,fri``)."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        days |= _weekday_item(item, field)
    return ",".join(DAY_NAMES[day] for day in sorted(days))


def _weekday_item(item: str, field: str) -> set[int]:
    span, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"day of week {field!r}: step {step_text!r} must be a whole number above 0")
        step = int(step_text)
    if span == "*":
        first, last = 0, 7
    elif "-" in span:
        start, _, end = span.partition("-")
        first, last = _weekday_number(start, field), _weekday_number(end, field)
        if first > last:
            raise ValueError(f"day of week {field!r}: the range {span} runs backwards (ranges do not wrap; "
                             "write it as two, e.g. 5-7,0-1)")
    elif slash:
        raise ValueError(f"day of week {field!r}: a step needs a range or * before it ({item!r})")
    else:
        first = last = _weekday_number(span, field)
    return {day % 7 for day in range(first, last + 1, step)}


def _weekday_number(text: str, field: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text.lower() in DAY_NAMES:
        return DAY_NAMES.index(text.lower())
    raise ValueError(f"day of week {field!r}: {text!r} is not a day (0-7, where 0 and 7 are Sunday, or "
                     "sun, mon, tue, wed, thu, fri, sat)")


def _field_of(exc: ValueError, fields: list[str]) -> str:
    """Which field an APScheduler error is about (it quotes the expression it could not read)."""
    for name, value in zip(FIELDS, fields, strict=True):
        if repr(value) in str(exc) or f"'{value}'" in str(exc):
            return f"{name} {value!r}"
    return "cron expression"
