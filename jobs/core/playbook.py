"""The touch-point playbook: when each check-up with a won customer is due. Pure: ``now`` is passed in.

A playbook is a list of rules, each anchored on the close date or on the renewal date, plus the
calendar they are counted in (time zone, workdays, holidays) and the hour tasks fall due.

Calendar rules (what a RevOps engineer can tell a customer in advance):

- Business-day offsets count workdays only (``workdays`` minus ``holidays``): "+2 business days"
  after a Friday close is the Tuesday. An offset of 0 business days is the anchor day, or the next
  workday when the anchor is not one.
- Calendar-day offsets count every day; a touch point that lands on a weekend or holiday moves
  *forward* to the next workday (never backward, so a task is never due before its offset says,
  and the renewal ladder keeps its order).
- A task is due at ``due_hour`` o'clock local time in the playbook's zone (an aware datetime), so a
  9:00 task in Auckland is due at 9:00 in Auckland, whatever zone the server runs in.
- On the days clocks change, one rule: a due hour the clocks skip is due the moment they jump
  (New York, spring forward: 02:00 -> 03:00 EDT), and a due hour that happens twice is due the
  first time (London, fall back: 01:00 BST, not 01:00 GMT). The due time is then held as a fixed
  UTC offset, so it names one instant and compares equal to the same instant read back from the
  state store or the CRM in UTC (a zone-aware time inside a fold never does, PEP 495).
- Adding months clamps to the month's end: 31 January + 1 month = 28/29 February, 29 February +
  12 months = 28 February. Cycle n is always computed from the first renewal date (never from
  the previous cycle), so a 31st does not drift to the 28th for good.

Renewal cycles: the first renewal date R0 is the deal's mapped renewal date, or the close date +
``contract_term_months`` when the field is empty, unparseable, or not after the close date (bad
data, which the handoff check reports to the admin). Renewals repeat every term: R0, R0 + term,
R0 + 2*term... The *current* cycle is the first whose renewal date is today or later; only its
ladder is planned, and the deal is revisited the day after that renewal date to plan the next.

Cycle numbers count contract terms since the close (1 = first renewal), rounded to the nearest
term. So a renewal date moved by weeks keeps its cycle number, and its tasks keep their keys
(they are rescheduled, not duplicated); a renewal date rolled forward by a whole term after the
customer renewed is the next cycle and gets fresh tasks instead of colliding with the completed
ones. Close-anchored touch points are cycle 0.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.mapping import FieldType
from connector.model import Deal, Priority, TaskType, require_aware
from jobs.core.values import clean_text, parse

Anchor = Literal["close", "renewal", "detected"]
"""``detected``: the day AfterClose first saw the condition (only the handoff task uses it)."""

MONDAY_TO_FRIDAY = frozenset({0, 1, 2, 3, 4})
TOUCH_POINT_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
_ANCHORS = ("close", "renewal", "detected")
_AVERAGE_MONTH_DAYS = 365.2425 / 12
_MAX_CALENDAR_SCAN_DAYS = 3 * 366
"""Bound on workday searches: a calendar with no workday in years is a config error."""


class CalendarError(ValueError):
    """The playbook's calendar has no workday where one is needed: a configuration mistake."""


@lru_cache(maxsize=64)
def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"playbook: unknown time zone {name!r} (use an IANA name like 'Europe/Berlin')") from exc



@dataclass(frozen=True, kw_only=True, slots=True)
class TouchPointRule:
    id: str
    """Stable identifier: part of every task key, so renaming it creates new tasks."""
    title: str
    anchor: Anchor
    offset_days: int
    business_days: bool = False
    type: TaskType = TaskType.TODO
    priority: Priority = Priority.NORMAL

    def __post_init__(self) -> None:
        if not TOUCH_POINT_ID.fullmatch(self.id):
            raise ValueError(
                f"touch point id {self.id!r} must be 1-40 characters of a-z, 0-9 and _, "
                "starting with a letter (it becomes part of the task key)"
            )
        if self.anchor not in _ANCHORS:
            raise ValueError(f"touch point {self.id!r}: anchor must be one of {_ANCHORS}, got {self.anchor!r}")
        if not self.title.strip():
            raise ValueError(f"touch point {self.id!r}: title must not be empty")

    def describe_offset(self) -> str:
        """'2 business days after close', '120 days before renewal', 'on the close date'."""
        anchor = {"close": "close", "renewal": "renewal", "detected": "first detection"}[self.anchor]
        if self.offset_days == 0:
            return f"on the {anchor} date"
        unit = "business day" if self.business_days else "day"
        count = abs(self.offset_days)
        plural = "" if count == 1 else "s"
        side = "after" if self.offset_days > 0 else "before"
        return f"{count} {unit}{plural} {side} {anchor}"


HANDOFF_TASK = TouchPointRule(
    id="handoff_incomplete",
    title="Complete the handoff",
    anchor="detected",
    offset_days=1,
    business_days=True,
    type=TaskType.TODO,
    priority=Priority.HIGH,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Playbook:
    touch_points: tuple[TouchPointRule, ...]
    timezone: str = "UTC"
    workdays: frozenset[int] = MONDAY_TO_FRIDAY
    """ISO weekday numbers as Python counts them: Monday 0 ... Sunday 6."""
    holidays: frozenset[dt.date] = frozenset()
    due_hour: int = 9
    catch_up_days: int = 7
    """A touch point first planned more than this many days overdue is skipped, not created."""
    contract_term_months: int = 12
    handoff_task: TouchPointRule = HANDOFF_TASK
    owner_field: str | None = None
    """Canonical field holding a CSM owner id; None (or an empty value) -> the deal owner."""
    fallback_owner: str | None = None
    """CRM user id for the tasks of a deal whose owner is deactivated or missing. None: such tasks
    name the deal owner anyway, and the CRM refuses them (reported and retried every run)."""
    renewal_field: str = "renewal_date"
    """Canonical field holding the first renewal date."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "touch_points", tuple(self.touch_points))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        self._check_rules()
        self._check_calendar()

    def _check_rules(self) -> None:
        seen: set[str] = set()
        for rule in (*self.touch_points, self.handoff_task):
            if rule.id in seen:
                raise ValueError(f"playbook: touch point id {rule.id!r} is used twice")
            seen.add(rule.id)
        for rule in self.touch_points:
            if rule.anchor == "detected":
                raise ValueError(f"playbook: touch point {rule.id!r}: anchor must be 'close' or 'renewal'")
        if self.handoff_task.anchor != "detected":
            raise ValueError("playbook: handoff_task must be anchored on 'detected'")
        if self.catch_up_days < 0:
            raise ValueError(f"playbook: catch_up_days must be 0 or more, got {self.catch_up_days}")
        if self.contract_term_months < 1:
            raise ValueError(f"playbook: contract_term_months must be 1 or more, got {self.contract_term_months}")

    def _check_calendar(self) -> None:
        zone_of(self.timezone)
        if not 0 <= self.due_hour <= 23:
            raise ValueError(f"playbook: due_hour must be 0-23, got {self.due_hour}")
        if not self.workdays or not self.workdays <= set(range(7)):
            raise ValueError(
                f"playbook: workdays must be a non-empty set of 0 (Monday) to 6 (Sunday), got {sorted(self.workdays)}"
            )

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.timezone)


DEFAULT_PLAYBOOK = Playbook(
    touch_points=(
        TouchPointRule(id="kickoff", title="Kickoff call", anchor="close", offset_days=2,
                       business_days=True, type=TaskType.CALL, priority=Priority.HIGH),
        TouchPointRule(id="onboarding_checkup", title="Onboarding check-up", anchor="close", offset_days=14),
        TouchPointRule(id="value_review_30", title="30-day value review", anchor="close", offset_days=30),
        TouchPointRule(id="nps_checkin_60", title="NPS check-in", anchor="close", offset_days=60),
        TouchPointRule(id="business_review_90", title="90-day business review", anchor="close", offset_days=90),
        TouchPointRule(id="renewal_planning", title="Renewal planning", anchor="renewal", offset_days=-120),
        TouchPointRule(id="renewal_review", title="Renewal review", anchor="renewal", offset_days=-90),
        TouchPointRule(id="renewal_proposal", title="Renewal proposal", anchor="renewal", offset_days=-60),
        TouchPointRule(id="renewal_decision", title="Renewal decision", anchor="renewal", offset_days=-30,
                       priority=Priority.HIGH),
    ),
)


# --- calendar arithmetic -------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` shifted by whole months, clamped to the last day of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def is_workday(day: dt.date, playbook: Playbook) -> bool:
    return day.weekday() in playbook.workdays and day not in playbook.holidays


def next_workday(day: dt.date, playbook: Playbook) -> dt.date:
    """``day`` itself when it is a workday, else the first workday after it."""
    for step in range(_MAX_CALENDAR_SCAN_DAYS):
        candidate = day + dt.timedelta(days=step)
        if is_workday(candidate, playbook):
            return candidate
    raise CalendarError(f"playbook: no workday within {_MAX_CALENDAR_SCAN_DAYS} days of {day} (check holidays)")


def add_business_days(day: dt.date, count: int, playbook: Playbook) -> dt.date:
    """Count ``count`` workdays forward (or backward when negative) from ``day``."""
    if count == 0:
        return next_workday(day, playbook)
    step = dt.timedelta(days=1 if count > 0 else -1)
    remaining, current = abs(count), day
    for _ in range(_MAX_CALENDAR_SCAN_DAYS + remaining):
        current += step
        if is_workday(current, playbook):
            remaining -= 1
            if remaining == 0:
                return current
    raise CalendarError(f"playbook: cannot count {count} business days from {day} (check holidays)")


def local_today(now: dt.datetime, playbook: Playbook) -> dt.date:
    require_aware("now", now)
    return now.astimezone(playbook.zone).date()


def due_at(day: dt.date, playbook: Playbook) -> dt.datetime:
    """``due_hour`` o'clock on ``day`` in the playbook's zone, as one instant (module doc: a
    skipped hour is due when the clocks jump, a repeated one the first time)."""
    wall = dt.datetime.combine(day, dt.time(playbook.due_hour), tzinfo=playbook.zone)  # fold=0
    local = wall.astimezone(dt.timezone.utc).astimezone(playbook.zone)
    offset = local.utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return local.replace(tzinfo=dt.timezone(offset))


def start_of_day(day: dt.date, playbook: Playbook) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=playbook.zone)


# --- what a deal's schedule looks like -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class PlannedTouchPoint:
    rule: TouchPointRule
    cycle: int
    due_at: dt.datetime
    anchor_date: dt.date
    reason: str
    """Why it is due then: 'due 2026-03-04: Kickoff call, 2 business days after close 2026-03-02'."""

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def due_date(self) -> dt.date:
        return self.due_at.date()


@dataclass(frozen=True, kw_only=True, slots=True)
class RenewalCycle:
    number: int
    renewal_date: dt.date
    source: str
    """How the renewal date was found, for a reader of the plan: "close date 2026-03-02 + 12 months",
    "the deal's renewal date 2027-01-31 + 24 months"."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DealSchedule:
    touch_points: tuple[PlannedTouchPoint, ...]
    renewal: RenewalCycle | None
    revisit_at: dt.datetime | None
    """When to look at the deal again to plan the next renewal cycle (None: nothing to revisit)."""
    notes: tuple[str, ...] = ()
    """Data problems the schedule worked around, for the dry-run output."""


def schedule(deal: Deal, playbook: Playbook, now: dt.datetime, *,
             memo: dict[tuple, PlannedTouchPoint] | None = None) -> DealSchedule:
    """The touch points of ``deal`` to plan now: cycle 0 (close) and the current renewal cycle.

    ``memo``: a dict the caller keeps for one playbook and one ``now``, shared by many deals;
    deals closed (or renewing) on the same day then share their planned dates instead of
    counting business days again (the planner keeps one per call).
    """
    today = local_today(now, playbook)
    if deal.close_date is None:
        return _unscheduled("no close date: the playbook cannot be scheduled")
    try:
        return _schedule(deal, deal.close_date, playbook, today, {} if memo is None else memo)
    except CalendarError:
        raise
    except (OverflowError, ValueError) as exc:
        # A close date in year 9999 and the like: one odd record must not stop the run.
        return _unscheduled(f"dates out of range (close date {deal.close_date}): {exc}")


def _schedule(deal: Deal, close: dt.date, playbook: Playbook, today: dt.date,
              memo: dict[tuple, PlannedTouchPoint]) -> DealSchedule:
    first_renewal, from_field, notes = _first_renewal(deal, playbook)
    renewal = current_cycle(close, first_renewal, from_field, playbook.contract_term_months, today)
    planned = []
    for rule in playbook.touch_points:
        key = (rule.id, close) if rule.anchor == "close" else (rule.id, renewal)
        found = memo.get(key)
        if found is None:
            found = memo[key] = _plan_rule(rule, close, renewal, playbook)
        planned.append(found)
    revisit = start_of_day(renewal.renewal_date + dt.timedelta(days=1), playbook)
    return DealSchedule(touch_points=tuple(planned), renewal=renewal, revisit_at=revisit, notes=notes)


def _unscheduled(note: str) -> DealSchedule:
    return DealSchedule(touch_points=(), renewal=None, revisit_at=None, notes=(note,))


def touch_points(deal: Deal, playbook: Playbook, now: dt.datetime) -> list[PlannedTouchPoint]:
    return list(schedule(deal, playbook, now).touch_points)


def handoff_touch_point(playbook: Playbook, now: dt.datetime) -> PlannedTouchPoint:
    """The incomplete-handoff task as if first detected today."""
    rule = playbook.handoff_task
    today = local_today(now, playbook)
    return _planned(rule, 0, today, _offset_day(rule, today, playbook), playbook)


def _first_renewal(deal: Deal, playbook: Playbook) -> tuple[dt.date, bool, tuple[str, ...]]:
    """(first renewal date, whether it came from the deal's field, notes on bad data)."""
    assert deal.close_date is not None
    term = playbook.contract_term_months
    fallback = add_months(deal.close_date, term)
    instead = f"renewals counted from close date {deal.close_date} + {term} months"
    raw = deal.value(playbook.renewal_field)
    if clean_text(raw) is None:
        return fallback, False, ()
    parsed = parse(FieldType.DATE, raw)
    if not isinstance(parsed, dt.date):
        return fallback, False, (f"renewal date {raw!r} is not a date: {instead}",)
    if parsed <= deal.close_date:
        return fallback, False, (f"renewal date {parsed} is not after the close date {deal.close_date}: {instead}",)
    return parsed, True, ()


def current_cycle(close: dt.date, first_renewal: dt.date, from_field: bool, term: int,
                  today: dt.date) -> RenewalCycle:
    """The first renewal cycle whose renewal date is today or later."""
    k = max(0, math.floor((today - first_renewal).days / (term * _AVERAGE_MONTH_DAYS)))
    while add_months(first_renewal, k * term) < today:
        k += 1
    while k > 0 and add_months(first_renewal, (k - 1) * term) >= today:
        k -= 1
    if from_field:
        origin, months = f"the deal's renewal date {first_renewal}", k * term
    else:
        origin, months = f"close date {close}", (k + 1) * term
    return RenewalCycle(
        number=_first_cycle_number(close, first_renewal, term) + k,
        renewal_date=add_months(first_renewal, k * term),
        source=f"{origin} + {months} months" if months else origin,
    )


def _first_cycle_number(close: dt.date, first_renewal: dt.date, term: int) -> int:
    """Contract terms from the close to the first renewal, to the nearest term (at least 1)."""
    terms = (first_renewal - close).days / (term * _AVERAGE_MONTH_DAYS)
    return max(1, math.floor(terms + 0.5))


def _plan_rule(rule: TouchPointRule, close: dt.date, renewal: RenewalCycle, playbook: Playbook) -> PlannedTouchPoint:
    if rule.anchor == "close":
        return _planned(rule, 0, close, _offset_day(rule, close, playbook), playbook)
    detail = f"renewal cycle {renewal.number}: {renewal.source}"
    return _planned(rule, renewal.number, renewal.renewal_date,
                    _offset_day(rule, renewal.renewal_date, playbook), playbook, detail=detail)


def _offset_day(rule: TouchPointRule, anchor: dt.date, playbook: Playbook) -> tuple[dt.date, dt.date]:
    """(the day the offset lands on, the due day after moving off non-workdays)."""
    if rule.business_days:
        day = add_business_days(anchor, rule.offset_days, playbook)
        return day, day
    raw = anchor + dt.timedelta(days=rule.offset_days)
    return raw, next_workday(raw, playbook)


def _planned(rule: TouchPointRule, cycle: int, anchor: dt.date, days: tuple[dt.date, dt.date],
             playbook: Playbook, *, detail: str = "") -> PlannedTouchPoint:
    raw, due = days
    details = [detail] if detail else []
    if raw != due:
        details.append(f"{raw:%a} {raw} is not a workday")
    reason = f"due {due}: {rule.title}, {rule.describe_offset()} {anchor}"
    if details:
        reason += f" ({'; '.join(details)})"
    return PlannedTouchPoint(rule=rule, cycle=cycle, due_at=due_at(due, playbook), anchor_date=anchor,
                             reason=reason)


__all__ = [
    "DEFAULT_PLAYBOOK", "HANDOFF_TASK", "MONDAY_TO_FRIDAY", "CalendarError", "DealSchedule", "PlannedTouchPoint",
    "Playbook", "RenewalCycle", "TouchPointRule", "add_business_days", "add_months", "current_cycle", "due_at",
    "handoff_touch_point", "is_workday", "local_today", "next_workday", "schedule", "touch_points",
]
