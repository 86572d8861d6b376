"""Regular check-ups: the occurrences of a repeating touch point, and which of them to plan now. Pure.

Occurrence ``n`` (0 = the first) falls ``n * every`` days or months after the first one (the
touch point's own offset after the close, counted from the day the offset lands on, so a 31st
stays the 31st where the month has one), moved forward off non-workdays like every due date.
Its task key carries cycle ``n + 1``: the number depends on the close date and the repeat only,
so a moved renewal date never renumbers an occurrence, and a moved close date reschedules each
one under its own key.

An occurrence is *wanted* unless it falls after the series' end (``until``), inside the window
before its own term's renewal date (``until = "renewal"``), or on or after ``ends`` (the day a
renewal deal of the customer takes over, jobs/core/customers.py). Of the wanted ones, the plan
holds the latest already due (the catch-up rule decides whether it is still worth a task) and
the coming ones up to the horizon, or, without a horizon, up to the end of the current term.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from jobs.core.calendar import Calendar, add_business_days, add_months, due_at, next_workday
from jobs.core.planned import PlannedTouchPoint
from jobs.core.touch_points import MAX_OCCURRENCES, Repeat, TouchPointRule

MAX_PLANNED = 100
"""Occurrences planned at once per touch point: a guard against a repeat of every day for years
with no horizon; the plan notes it when it applies."""
_MAX_LOOKED = 1000
"""Occurrences looked at to list the next few (most fall in a gap before a renewal at worst)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Renewals:
    """A deal's renewal dates: ``first``, then every ``term`` months when they roll forward."""

    first: dt.date
    term: int
    roll_forward: bool

    def on_or_after(self, day: dt.date) -> dt.date | None:
        """The renewal date that ends the term ``day`` falls in (None: no renewal after it)."""
        if day <= self.first:
            return self.first
        if not self.roll_forward:
            return None
        months = (day.year - self.first.year) * 12 + day.month - self.first.month
        k = max(0, months // self.term - 1)
        while add_months(self.first, k * self.term) < day:
            k += 1
        return add_months(self.first, k * self.term)


@dataclass(frozen=True, kw_only=True, slots=True)
class Occurrence:
    number: int
    """0 for the first; the task key's cycle is ``number + 1``."""
    raw: dt.date
    """The day the repeat lands on, before moving off a non-workday."""
    due: dt.date

    @property
    def cycle(self) -> int:
        return self.number + 1


@dataclass(frozen=True, kw_only=True, slots=True)
class Window:
    planned: tuple[Occurrence, ...]
    next_enters: dt.date | None
    """The day the next occurrence after the window enters the horizon (None: nothing ahead, or
    it follows the next renewal, which the deal is revisited for anyway)."""
    note: str | None = None


def occurrence(rule: TouchPointRule, close: dt.date, number: int, cal: Calendar) -> Occurrence:
    repeat = _repeat_of(rule)
    first = add_business_days(close, rule.offset_days, cal) if rule.business_days \
        else close + dt.timedelta(days=rule.offset_days)
    if repeat.unit == "days":
        raw = first + dt.timedelta(days=number * repeat.every)
    else:
        raw = add_months(first, number * repeat.every)
    return Occurrence(number=number, raw=raw, due=next_workday(raw, cal))


def why_not(rule: TouchPointRule, due: dt.date, close: dt.date, renewals: Renewals,
            ends: dt.date | None) -> str | None:
    """Why the occurrence due on ``due`` is not wanted, in words; None when it is."""
    repeat = _repeat_of(rule)
    if ends is not None and due >= ends:
        return f"due on or after {ends}, when the customer's renewal deal took over"
    if repeat.until == "close":
        end = close + dt.timedelta(days=repeat.until_offset_days)
        return f"after the repeat's end on {end}" if due > end else None
    if repeat.until == "renewal":
        renewal = renewals.on_or_after(due)
        if renewal is None:
            return f"after the renewal on {renewals.first}, which does not roll forward"
        end = renewal + dt.timedelta(days=repeat.until_offset_days)
        if due > end:
            return f"within {abs(repeat.until_offset_days)} days before the renewal on {renewal}"
    return None


def window(rule: TouchPointRule, close: dt.date, renewals: Renewals, cal: Calendar, *,
           today: dt.date, ends: dt.date | None) -> Window:
    """The occurrences to plan today: the latest one already due, then those ahead up to the
    horizon or (without one) the end of the current term."""
    repeat = _repeat_of(rule)
    upper = _upper_bound(repeat, close, renewals, today, ends)
    planned: list[Occurrence] = []
    note = None
    for item in _from_latest_due(rule, close, cal, today):
        if item.number >= MAX_OCCURRENCES or _ended_for_good(rule, item.due, close, renewals):
            break
        if item.due > upper:
            return Window(planned=tuple(planned), next_enters=_enters(item, repeat, rule, close, renewals, ends))
        if len(planned) == MAX_PLANNED:
            note = (f"{rule.id}: only the next {MAX_PLANNED} occurrences are planned at once; "
                    "give the repeat a horizon (repeat.horizon_days)")
            return Window(planned=tuple(planned), next_enters=None, note=note)
        if why_not(rule, item.due, close, renewals, ends) is None:
            planned.append(item)
    return Window(planned=tuple(planned), next_enters=None)


def upcoming(rule: TouchPointRule, close: dt.date, renewals: Renewals, cal: Calendar, *,
             today: dt.date, ends: dt.date | None, count: int = 3) -> tuple[Occurrence, ...]:
    """The next ``count`` wanted occurrences due after today (for ``afterclose plan``)."""
    found: list[Occurrence] = []
    for looked, item in enumerate(_from_latest_due(rule, close, cal, today)):
        if (item.number >= MAX_OCCURRENCES or len(found) == count or looked > _MAX_LOOKED
                or (ends is not None and item.due >= ends)):
            break
        if item.due > today and why_not(rule, item.due, close, renewals, ends) is None:
            found.append(item)
        elif _ended_for_good(rule, item.due, close, renewals):
            break
    return tuple(found)


def planned(rule: TouchPointRule, close: dt.date, item: Occurrence, cal: Calendar) -> PlannedTouchPoint:
    """The occurrence as a planned touch point (cycle ``number + 1``)."""
    assert rule.repeat is not None
    first = f"{rule.describe_offset()} {close}"
    details = [f"{item.raw:%a} {item.raw} is not a workday"] if item.raw != item.due else []
    reason = f"due {item.due}: {rule.title} #{item.cycle}, {first}, then {rule.repeat.describe()}"
    if details:
        reason += f" ({'; '.join(details)})"
    counted = (f"occurrence {item.cycle} of a check-up {rule.repeat.describe()}, the first "
               f"{rule.describe_offset().replace('close', 'the close date')} {close}")
    return PlannedTouchPoint(rule=rule, cycle=item.cycle, due_at=due_at(item.due, cal), anchor_date=close,
                             reason=reason, counted_from=counted)


# --- internals -------------------------------------------------------------------------------


def _repeat_of(rule: TouchPointRule) -> Repeat:
    if rule.repeat is None:
        raise ValueError(f"touch point {rule.id!r} does not repeat")
    return rule.repeat


def _from_latest_due(rule: TouchPointRule, close: dt.date, cal: Calendar, today: dt.date) -> Iterator[Occurrence]:
    """Occurrences from the latest one due on or before today (or the first), onwards."""
    number = _estimate(rule, close, today)
    while number > 0 and occurrence(rule, close, number, cal).due > today:
        number -= 1
    while occurrence(rule, close, number + 1, cal).due <= today:
        number += 1
    while True:
        yield occurrence(rule, close, number, cal)
        number += 1


def _estimate(rule: TouchPointRule, close: dt.date, today: dt.date) -> int:
    """A close guess of the latest occurrence due by today, so long series are not walked."""
    repeat = _repeat_of(rule)
    first = close + dt.timedelta(days=rule.offset_days)
    if today <= first:
        return 0
    if repeat.unit == "days":
        return (today - first).days // repeat.every
    months = (today.year - first.year) * 12 + today.month - first.month
    return max(0, months // repeat.every)


def _upper_bound(repeat: Repeat, close: dt.date, renewals: Renewals, today: dt.date,
                 ends: dt.date | None) -> dt.date:
    bounds = [dt.date.max]
    if repeat.horizon_days is not None:
        bounds.append(today + dt.timedelta(days=repeat.horizon_days))
    elif repeat.until == "close":
        bounds.append(close + dt.timedelta(days=repeat.until_offset_days))
    elif repeat.until == "renewal":
        renewal = renewals.on_or_after(today)
        bounds.append(renewal if renewal is not None else renewals.first)  # the rest of this term
    if ends is not None:
        bounds.append(ends - dt.timedelta(days=1))
    return min(bounds)


def _enters(item: Occurrence, repeat: Repeat, rule: TouchPointRule, close: dt.date, renewals: Renewals,
            ends: dt.date | None) -> dt.date | None:
    """When the first occurrence past the window enters it (horizon only: a term-bounded window
    moves on at the next renewal, which revisits the deal anyway)."""
    if repeat.horizon_days is None or item.number >= MAX_OCCURRENCES:
        return None
    if (ends is not None and item.due >= ends) or _ended_for_good(rule, item.due, close, renewals):
        return None
    return item.due - dt.timedelta(days=repeat.horizon_days)


def _ended_for_good(rule: TouchPointRule, due: dt.date, close: dt.date, renewals: Renewals) -> bool:
    """No occurrence on or after ``due`` can be wanted again (the gap before a renewal is not an end)."""
    repeat = _repeat_of(rule)
    if repeat.until == "close":
        return due > close + dt.timedelta(days=repeat.until_offset_days)
    if repeat.until == "renewal":
        return renewals.on_or_after(due) is None
    return False
