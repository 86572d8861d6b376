"""SOQL date literals and date functions.

Date literals [DOC: https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-dateformats.md]:
each is a range of whole days starting at 00:00:00, relative to today; ``=`` matches inside the
range, ``<`` before its start, ``>`` after its end. The first day of the week comes from the
user's locale (en_US: Sunday). Ranges used here, with ``n`` the literal's number:

- TODAY, YESTERDAY, TOMORROW; LAST_WEEK, THIS_WEEK, NEXT_WEEK; LAST_MONTH, THIS_MONTH, NEXT_MONTH;
- LAST_90_DAYS and LAST_N_DAYS:n include today and the n (90) days before it; NEXT_90_DAYS and
  NEXT_N_DAYS:n start tomorrow; N_DAYS_AGO:n is the one day n days ago;
- LAST_N_WEEKS/MONTHS/QUARTERS/YEARS:n are the n whole periods before the current one, NEXT_N_...:n
  the n after it, N_..._AGO:n the single period n periods back;
- THIS/LAST/NEXT_QUARTER and _YEAR; every FISCAL form the same over the org's fiscal year (standard
  fiscal year: calendar quarters shifted to the start month; January by default, so fiscal =
  calendar).

Time zones [STRICT]: "today" is the clock's instant in the integration user's time zone (date
literals follow the running user's time zone [2ND: tyoshikawa1 blog "実行ユーザのタイムゾーン";
the SOQL guide: "dateTime field values are stored as UTC"]); on a dateTime field a literal covers
local midnight to local midnight. Date *functions* see dateTime values in UTC unless the field is
wrapped in ``convertTimezone()``, which turns it into the user's time zone
[DOC: soql_sosl "convertTimezone()"; 2ND: chunwuglobal.com 2013 "DAY_ONLY() takes Datetime as GMT"].

Date functions [DOC: soql_sosl "Date Functions"]: CALENDAR_MONTH/QUARTER/YEAR, DAY_IN_MONTH,
DAY_IN_WEEK (1 = Sunday), DAY_IN_YEAR, DAY_ONLY (dateTime only), FISCAL_MONTH/QUARTER/YEAR,
HOUR_IN_DAY (dateTime only), WEEK_IN_MONTH (days 1-7 are week 1), WEEK_IN_YEAR (1 January to
7 January is week 1).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

DAY = dt.timedelta(days=1)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

PLAIN_LITERALS = {
    "TODAY", "YESTERDAY", "TOMORROW", "LAST_WEEK", "THIS_WEEK", "NEXT_WEEK", "LAST_MONTH", "THIS_MONTH",
    "NEXT_MONTH", "LAST_90_DAYS", "NEXT_90_DAYS", "THIS_QUARTER", "LAST_QUARTER", "NEXT_QUARTER",
    "THIS_YEAR", "LAST_YEAR", "NEXT_YEAR", "THIS_FISCAL_QUARTER", "LAST_FISCAL_QUARTER",
    "NEXT_FISCAL_QUARTER", "THIS_FISCAL_YEAR", "LAST_FISCAL_YEAR", "NEXT_FISCAL_YEAR",
}
N_LITERALS = {
    "LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO", "LAST_N_WEEKS", "NEXT_N_WEEKS", "N_WEEKS_AGO",
    "LAST_N_MONTHS", "NEXT_N_MONTHS", "N_MONTHS_AGO", "LAST_N_QUARTERS", "NEXT_N_QUARTERS", "N_QUARTERS_AGO",
    "LAST_N_YEARS", "NEXT_N_YEARS", "N_YEARS_AGO", "LAST_N_FISCAL_QUARTERS", "NEXT_N_FISCAL_QUARTERS",
    "N_FISCAL_QUARTERS_AGO", "LAST_N_FISCAL_YEARS", "NEXT_N_FISCAL_YEARS", "N_FISCAL_YEARS_AGO",
}
FUNCTIONS = {
    "CALENDAR_MONTH", "CALENDAR_QUARTER", "CALENDAR_YEAR", "DAY_IN_MONTH", "DAY_IN_WEEK", "DAY_IN_YEAR",
    "DAY_ONLY", "FISCAL_MONTH", "FISCAL_QUARTER", "FISCAL_YEAR", "HOUR_IN_DAY", "WEEK_IN_MONTH", "WEEK_IN_YEAR",
}
DATETIME_ONLY = {"DAY_ONLY", "HOUR_IN_DAY"}


@dataclass(frozen=True, kw_only=True)
class DateContext:
    today: dt.date
    zone: ZoneInfo
    week_start: int = 6
    """0 = Monday ... 6 = Sunday (en_US)."""
    fiscal_start_month: int = 1


# ------------------------------------------------------------------ periods
def _add_months(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(first: dt.date, months: int) -> dt.date:
    last = _add_months(first, months)
    return last.replace(day=calendar.monthrange(last.year, last.month)[1])


def _week_start(ctx: DateContext) -> dt.date:
    return ctx.today - (ctx.today.weekday() - ctx.week_start) % 7 * DAY


def _quarter_start(ctx: DateContext, fiscal: bool) -> dt.date:
    start_month = ctx.fiscal_start_month if fiscal else 1
    offset = (ctx.today.month - start_month) % 3
    return _add_months(ctx.today.replace(day=1), -offset)


def _year_start(ctx: DateContext, fiscal: bool) -> dt.date:
    start_month = ctx.fiscal_start_month if fiscal else 1
    offset = (ctx.today.month - start_month) % 12
    return _add_months(ctx.today.replace(day=1), -offset)


def _periods(unit: str, ctx: DateContext, first: int, count: int) -> tuple[dt.date, dt.date]:
    """``count`` whole periods starting ``first`` periods from the current one (0 = current)."""
    if unit == "DAYS":
        return ctx.today + first * DAY, ctx.today + (first + count) * DAY - DAY
    if unit == "WEEKS":
        start = _week_start(ctx) + 7 * first * DAY
        return start, start + 7 * count * DAY - DAY
    months = {"MONTHS": 1, "QUARTERS": 3, "YEARS": 12}[unit.replace("FISCAL_", "")]
    fiscal = unit.startswith("FISCAL_")
    anchor = {1: ctx.today.replace(day=1), 3: _quarter_start(ctx, fiscal), 12: _year_start(ctx, fiscal)}[months]
    return _add_months(anchor, first * months), _month_end(anchor, (first + count) * months - 1)


_SINGLE = {"TODAY": ("DAYS", 0), "YESTERDAY": ("DAYS", -1), "TOMORROW": ("DAYS", 1)}


def literal_range(name: str, n: int | None, ctx: DateContext) -> tuple[dt.date, dt.date]:
    """The inclusive day range of a date literal."""
    if name in _SINGLE:
        unit, first = _SINGLE[name]
        return _periods(unit, ctx, first, 1)
    if name == "LAST_90_DAYS":
        return ctx.today - 90 * DAY, ctx.today
    if name == "NEXT_90_DAYS":
        return _periods("DAYS", ctx, 1, 90)
    if name == "LAST_N_DAYS":
        return ctx.today - n * DAY, ctx.today
    if name == "NEXT_N_DAYS":
        return _periods("DAYS", ctx, 1, n)
    if name == "N_DAYS_AGO":
        return _periods("DAYS", ctx, -n, 1)
    for prefix, first in (("THIS_", 0), ("LAST_", -1), ("NEXT_", 1)):
        if name.startswith(prefix) and "_N_" not in name:
            return _periods(name[len(prefix):] + "S", ctx, first, 1)
    if name.startswith("LAST_N_"):
        return _periods(name[len("LAST_N_"):], ctx, -n, n)
    if name.startswith("NEXT_N_"):
        return _periods(name[len("NEXT_N_"):], ctx, 1, n)
    if name.startswith("N_") and name.endswith("_AGO"):
        return _periods(name[2:-4], ctx, -n, 1)
    raise ValueError(f"not a date literal: {name}")


def local_bounds(start: dt.date, end: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight of ``start``, local midnight after ``end``) as UTC instants."""
    low = dt.datetime.combine(start, dt.time(), zone)
    high = dt.datetime.combine(end + DAY, dt.time(), zone)
    return low.astimezone(dt.UTC), high.astimezone(dt.UTC)


# ---------------------------------------------------------------- functions
def _fiscal(day: dt.date, start_month: int) -> tuple[int, int]:
    """(fiscal year, fiscal month 1-12); the year is named after the month it ends in."""
    month = (day.month - start_month) % 12 + 1
    year = day.year if start_month == 1 or day.month < start_month else day.year + 1
    return year, month


def apply(name: str, value, ctx: DateContext, *, is_datetime: bool, convert: bool):
    """The value of ``name(field)`` for one record (None stays None)."""
    if value is None:
        return None
    if is_datetime:
        moment = value.astimezone(ctx.zone if convert else dt.UTC)
        if name == "HOUR_IN_DAY":
            return moment.hour
        day = moment.date()
    else:
        day = value
    if name == "DAY_ONLY":
        return day
    fiscal_year, fiscal_month = _fiscal(day, ctx.fiscal_start_month)
    return {
        "CALENDAR_MONTH": lambda: day.month, "CALENDAR_QUARTER": lambda: (day.month - 1) // 3 + 1,
        "CALENDAR_YEAR": lambda: day.year, "DAY_IN_MONTH": lambda: day.day,
        "DAY_IN_WEEK": lambda: (day.weekday() + 1) % 7 + 1, "DAY_IN_YEAR": lambda: day.timetuple().tm_yday,
        "FISCAL_MONTH": lambda: fiscal_month, "FISCAL_QUARTER": lambda: (fiscal_month - 1) // 3 + 1,
        "FISCAL_YEAR": lambda: fiscal_year, "WEEK_IN_MONTH": lambda: (day.day - 1) // 7 + 1,
        "WEEK_IN_YEAR": lambda: (day.timetuple().tm_yday - 1) // 7 + 1,
    }[name]()
