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
ones. Close-anchored touch points are cycle 0; occurrence n of a repeating touch point is cycle n
(jobs/core/repeats.py).

``roll_forward = False`` plans only the first renewal's ladder: the next ones come with the
customer's renewal deals. ``schedule(..., ends=day)``: a renewal deal of the same customer took
over on ``day`` (jobs/core/customers.py), so nothing due on or after it is this deal's to plan.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from connector.mapping import FieldType
from connector.model import Deal, Priority, TaskType
from jobs.core import repeats
from jobs.core.calendar import (
    MONDAY_TO_FRIDAY,
    CalendarError,
    add_business_days,
    add_months,
    due_at,
    is_workday,
    local_today,
    next_workday,
    start_of_day,
    zone_of,
)
from jobs.core.planned import DealSchedule, PlannedTouchPoint, RenewalCycle
from jobs.core.renewal_deals import TOUCH_POINT as RENEWAL_DEAL_TOUCH_POINT
from jobs.core.renewal_deals import RenewalDealRule
from jobs.core.repeats import Renewals
from jobs.core.touch_points import HANDOFF_TASK, TOUCH_POINT_ID, Anchor, Repeat, TouchPointRule
from jobs.core.values import clean_text, parse

_AVERAGE_MONTH_DAYS = 365.2425 / 12


@dataclass(frozen=True, kw_only=True, slots=True)
class Playbook:
    touch_points: tuple[TouchPointRule, ...]
    id: str = "default"
    """Stable name, shown in the plan and in every task's "why" (jobs/core/playbook_set.py)."""
    title: str = "Default"
    timezone: str = "UTC"
    workdays: frozenset[int] = MONDAY_TO_FRIDAY
    """ISO weekday numbers as Python counts them: Monday 0 ... Sunday 6."""
    holidays: frozenset[dt.date] = frozenset()
    due_hour: int = 9
    catch_up_days: int = 7
    """A touch point first planned more than this many days overdue is skipped, not created."""
    contract_term_months: int = 12
    handoff_task: TouchPointRule = HANDOFF_TASK
    handoff: bool = True
    """False: no "complete the handoff" task for this playbook's deals (the status is still
    written back): a renewal is not a new customer."""
    owner_field: str | None = None
    """Canonical field holding a CSM owner id; None (or an empty value) -> the deal owner."""
    fallback_owner: str | None = None
    """CRM user id for the tasks of a deal whose owner is deactivated or missing. None: such tasks
    name the deal owner anyway, and the CRM refuses them (reported and retried every run)."""
    renewal_field: str = "renewal_date"
    """Canonical field holding the first renewal date."""
    roll_forward: bool = True
    """True: the renewal ladder repeats every contract term (until a renewal deal of the customer
    takes over). False: only the first renewal's ladder; later ones come with renewal deals."""
    renewal_deal: bool = False
    """This playbook is for renewal deals: such a deal carries the customer's renewals from its
    close on, and the customer's earlier deals stop planning theirs (jobs/core/customers.py)."""
    create_renewal_deal: RenewalDealRule | None = None
    """Create each deal's next renewal deal some days before its renewal (jobs/core/renewal_deals.py)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "touch_points", tuple(self.touch_points))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        self._check_rules()
        self._check_calendar()

    def _check_rules(self) -> None:
        if not TOUCH_POINT_ID.fullmatch(self.id):
            raise ValueError(f"playbook id {self.id!r} must be 1-40 characters of a-z, 0-9 and _, starting "
                             "with a letter")
        seen: set[str] = set()
        for rule in (*self.touch_points, self.handoff_task):
            if rule.id in seen:
                raise ValueError(f"playbook: touch point id {rule.id!r} is used twice")
            seen.add(rule.id)
        for rule in self.touch_points:
            if rule.id == RENEWAL_DEAL_TOUCH_POINT:
                raise ValueError(f"playbook: touch point id {rule.id!r} is reserved for the renewal deal's key")
            if rule.anchor == "detected":
                raise ValueError(f"playbook: touch point {rule.id!r}: anchor must be 'close' or 'renewal'")
            self._check_term_gap(rule)
        if self.handoff_task.anchor != "detected":
            raise ValueError("playbook: handoff_task must be anchored on 'detected'")
        if self.catch_up_days < 0:
            raise ValueError(f"playbook: catch_up_days must be 0 or more, got {self.catch_up_days}")
        if self.contract_term_months < 1:
            raise ValueError(f"playbook: contract_term_months must be 1 or more, got {self.contract_term_months}")

    def _check_term_gap(self, rule: TouchPointRule) -> None:
        repeat = rule.repeat
        if repeat is not None and repeat.until == "renewal" and \
                -repeat.until_offset_days >= self.contract_term_months * 28:
            raise ValueError(f"playbook: touch point {rule.id!r}: repeat.until_offset_days "
                             f"{repeat.until_offset_days} leaves no day of a {self.contract_term_months}-month "
                             "contract term for an occurrence")

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

    def rule(self, touch_point: str) -> TouchPointRule | None:
        return next((r for r in self.touch_points if r.id == touch_point), None)


DEFAULT_PLAYBOOK = Playbook(
    touch_points=(
        TouchPointRule(id="kickoff", title="Kickoff call", anchor="close", offset_days=2,
                       business_days=True, type=TaskType.CALL, priority=Priority.HIGH,
                       purpose="Confirm the customer's goal, agree how success will be measured, and name "
                               "who does what on both sides while the decision is fresh."),
        TouchPointRule(id="onboarding_checkup", title="Onboarding check-up", anchor="close", offset_days=14,
                       purpose="Catch small onboarding blockers before they become reasons to doubt the purchase."),
        TouchPointRule(id="value_review_30", title="30-day value review", anchor="close", offset_days=30,
                       purpose="Show the value seen so far against what they bought it for, while there is "
                               "time to correct course."),
        TouchPointRule(id="nps_checkin_60", title="NPS check-in", anchor="close", offset_days=60,
                       purpose="Ask how likely they are to recommend us, and why."),
        TouchPointRule(id="business_review_90", title="90-day business review", anchor="close", offset_days=90,
                       purpose="Review the first quarter's results with the decision makers and agree the next "
                               "quarter's plan."),
        TouchPointRule(id="renewal_planning", title="Renewal planning", anchor="renewal", offset_days=-120,
                       purpose="Spot renewal risks early: usage, champions, budget."),
        TouchPointRule(id="renewal_review", title="Renewal review", anchor="renewal", offset_days=-90,
                       purpose="Review the year with the customer and hear what they want from the next one."),
        TouchPointRule(id="renewal_proposal", title="Renewal proposal", anchor="renewal", offset_days=-60,
                       purpose="Send a renewal proposal tied to the outcomes they care about."),
        TouchPointRule(id="renewal_decision", title="Renewal decision", anchor="renewal", offset_days=-30,
                       priority=Priority.HIGH, purpose="Get a clear yes or no before the renewal date."),
    ),
)


# --- what a deal's schedule looks like -----------------------------------------------------------


def schedule(deal: Deal, playbook: Playbook, now: dt.datetime, *,
             memo: dict[tuple, object] | None = None, ends: dt.date | None = None) -> DealSchedule:
    """The touch points of ``deal`` to plan now: cycle 0 (close), the current renewal cycle, and
    the regular check-ups due next; nothing due on or after ``ends``.

    ``memo``: a dict the caller keeps for one playbook and one ``now``, shared by many deals;
    deals closed (or renewing) on the same day then share their planned dates instead of
    counting business days again (the planner keeps one per call).
    """
    today = local_today(now, playbook)
    if deal.close_date is None:
        return _unscheduled("no close date: the playbook cannot be scheduled")
    try:
        return _schedule(deal, deal.close_date, playbook, today, {} if memo is None else memo, ends)
    except CalendarError:
        raise
    except (OverflowError, ValueError) as exc:
        # A close date in year 9999 and the like: one odd record must not stop the run.
        return _unscheduled(f"dates out of range (close date {deal.close_date}): {exc}")


def _schedule(deal: Deal, close: dt.date, playbook: Playbook, today: dt.date, memo: dict[tuple, object],
              ends: dt.date | None) -> DealSchedule:
    first_renewal, from_field, notes = _first_renewal(deal, playbook)
    term = playbook.contract_term_months
    renewals = Renewals(first=first_renewal, term=term, roll_forward=playbook.roll_forward)
    renewal = current_cycle(close, first_renewal, from_field, term, today if playbook.roll_forward else close)
    planned: list[PlannedTouchPoint] = []
    visits = [renewal.renewal_date + dt.timedelta(days=1)] if playbook.roll_forward else []
    notes_out = list(notes)
    for rule in playbook.touch_points:
        if rule.repeat is not None:
            found, enters, note = _window(rule, close, renewals, playbook, today, ends, memo)
            planned += found
            visits += [enters] if enters is not None else []
            notes_out += [note] if note else []
            continue
        key = (rule.id, close) if rule.anchor == "close" else (rule.id, renewal)
        found_one = memo.get(key)
        if found_one is None:
            found_one = memo[key] = _plan_rule(rule, close, renewal, playbook)
        assert isinstance(found_one, PlannedTouchPoint)
        if ends is None or found_one.due_date < ends:
            planned.append(found_one)
    visits = [day for day in visits if ends is None or day < ends]
    revisit = start_of_day(min(visits), playbook) if visits else None
    return DealSchedule(touch_points=tuple(planned), renewal=renewal, revisit_at=revisit, notes=tuple(notes_out),
                        locate=lambda rule, cycle: _locate(rule, cycle, close, renewals, renewal, playbook, ends))


Window = tuple[list[PlannedTouchPoint], dt.date | None, str | None]
"""A repeating touch point's planned occurrences, when the next enters the horizon, and a note."""


def _window(rule: TouchPointRule, close: dt.date, renewals: Renewals, playbook: Playbook, today: dt.date,
            ends: dt.date | None, memo: dict[tuple, object]) -> Window:
    key = ("repeat", rule.id, close, renewals, ends)
    cached = memo.get(key)
    if cached is None:
        window = repeats.window(rule, close, renewals, playbook, today=today, ends=ends)
        cached = memo[key] = ([repeats.planned(rule, close, item, playbook) for item in window.planned],
                              window.next_enters, window.note)
    return cached  # type: ignore[return-value]


def _locate(rule: TouchPointRule, cycle: int, close: dt.date, renewals: Renewals, renewal: RenewalCycle,
            playbook: Playbook, ends: dt.date | None) -> PlannedTouchPoint | str:
    if rule.repeat is not None:
        if cycle < 1:
            return f"{rule.title} repeats now; its earlier one-off task is not part of the series"
        item = repeats.occurrence(rule, close, cycle - 1, playbook)
        why = repeats.why_not(rule, item.due, close, renewals, ends)
        return why if why is not None else repeats.planned(rule, close, item, playbook)
    if ends is not None:
        return f"due on or after {ends}, when the customer's renewal deal took over"
    if rule.anchor == "renewal" and cycle != renewal.number:
        return (f"it belongs to renewal cycle {cycle}; the current renewal is cycle {renewal.number} "
                f"on {renewal.renewal_date}")
    return f"{rule.title} is not planned for cycle {cycle}"


def _unscheduled(note: str) -> DealSchedule:
    return DealSchedule(touch_points=(), renewal=None, revisit_at=None, notes=(note,))


def touch_points(deal: Deal, playbook: Playbook, now: dt.datetime) -> list[PlannedTouchPoint]:
    return list(schedule(deal, playbook, now).touch_points)


def handoff_touch_point(playbook: Playbook, now: dt.datetime) -> PlannedTouchPoint:
    """The incomplete-handoff task as if first detected today."""
    rule = playbook.handoff_task
    today = local_today(now, playbook)
    return _planned(rule, 0, today, _offset_day(rule, today, playbook), playbook)


def handoff_touch_point_due(playbook: Playbook, due: dt.datetime) -> PlannedTouchPoint | None:
    """The incomplete-handoff task that became due at ``due``, as planned on its day of first
    detection: the latest workday whose offset lands on that due day (several days can lead to
    one due day across a weekend; runs happen on workdays), else the latest such day. Its text
    then names the same day on every run (and after a lost store), not the day the run happens;
    None when no day fits (the playbook's offset or calendar changed since)."""
    rule = playbook.handoff_task
    # A CRM that keeps due dates, not times, reports the day as midnight UTC (connector.model).
    date_only = due.utcoffset() == dt.timedelta(0) and due.time() == dt.time(0)
    due_day = due.date() if date_only else due.astimezone(playbook.zone).date()
    days = [due_day - dt.timedelta(days=back) for back in range(abs(rule.offset_days) + 14, -1, -1)]
    fitting = [day for day in days if _offset_day(rule, day, playbook)[1] == due_day]
    if not fitting:
        return None
    day = next((d for d in reversed(fitting) if is_workday(d, playbook)), fitting[-1])
    return _planned(rule, 0, day, _offset_day(rule, day, playbook), playbook)


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
                             reason=reason, counted_from=_counted_from(rule, anchor, cycle))


def _counted_from(rule: TouchPointRule, anchor: dt.date, cycle: int) -> str:
    if rule.anchor == "close":
        return f"{rule.describe_offset().replace('close', 'the close date')} {anchor}"
    if rule.anchor == "renewal":
        return f"{rule.describe_offset().replace('renewal', 'the renewal date')} {anchor} (renewal cycle {cycle})"
    return f"{rule.describe_offset()} ({anchor})"


def upcoming(deal: Deal, playbook: Playbook, now: dt.datetime, *, ends: dt.date | None = None,
             count: int = 3) -> dict[str, tuple[dt.date, ...]]:
    """Each repeating touch point's next due dates after today (``afterclose plan`` shows them)."""
    if deal.close_date is None or not any(rule.repeat for rule in playbook.touch_points):
        return {}
    first_renewal, _, _ = _first_renewal(deal, playbook)
    renewals = Renewals(first=first_renewal, term=playbook.contract_term_months, roll_forward=playbook.roll_forward)
    today = local_today(now, playbook)
    return {rule.id: tuple(o.due for o in repeats.upcoming(rule, deal.close_date, renewals, playbook, today=today,
                                                            ends=ends, count=count))
            for rule in playbook.touch_points if rule.repeat is not None}


__all__ = [
    "DEFAULT_PLAYBOOK", "HANDOFF_TASK", "MONDAY_TO_FRIDAY", "Anchor", "CalendarError", "DealSchedule",
    "PlannedTouchPoint", "Playbook", "RenewalCycle", "Repeat", "TouchPointRule", "add_business_days", "add_months",
    "current_cycle", "due_at", "handoff_touch_point", "is_workday", "local_today", "next_workday", "schedule",
    "start_of_day", "touch_points", "upcoming",
]
