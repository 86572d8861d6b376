"""Due hours on the days clocks change: one rule for a skipped and a repeated hour, and a task
planned on such a day reads back from the state store as unchanged (no rewrite on every run)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from connector.actions import UpdateTask
from jobs.core.ledger_view import LedgerEntry
from jobs.core.planner import plan
from jobs.core.playbook import DEFAULT_PLAYBOOK, TouchPointRule, due_at
from tests.builders import apply_to_ledger, at, make_deal, make_fieldmap, reports_for

UTC = dt.UTC
EVERY_DAY = frozenset(range(7))
FIELDMAP = make_fieldmap()


def playbook_in(zone: str, hour: int):
    rule = TouchPointRule(id="check", title="Check-in", anchor="close", offset_days=1)
    return dataclasses.replace(DEFAULT_PLAYBOOK, touch_points=(rule,), timezone=zone, due_hour=hour,
                               workdays=EVERY_DAY)


def test_given_due_hour_skipped_by_spring_forward_then_due_when_the_clocks_jump():
    # New York, 8 March 2026: 02:00 EST is followed by 03:00 EDT; 02:00 never happens.
    due = due_at(dt.date(2026, 3, 8), playbook_in("America/New_York", 2))
    assert due.astimezone(UTC) == dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert (due.date(), due.hour) == (dt.date(2026, 3, 8), 3)


def test_given_due_hour_repeated_by_fall_back_then_due_the_first_time_it_happens():
    # London, 25 October 2026: 01:00-02:00 happens twice (BST, then GMT).
    due = due_at(dt.date(2026, 10, 25), playbook_in("Europe/London", 1))
    assert due.astimezone(UTC) == dt.datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert (due.date(), due.hour) == (dt.date(2026, 10, 25), 1)


@pytest.mark.parametrize("zone, hour, close", [
    ("America/New_York", 2, dt.date(2026, 3, 7)),   # due 8 March, inside the spring-forward gap
    ("Europe/London", 1, dt.date(2026, 10, 24)),    # due 25 October, inside the fall-back fold
])
def test_given_task_due_inside_a_clock_change_when_read_back_as_utc_then_not_rewritten(zone, hour, close):
    playbook = playbook_in(zone, hour)
    deal = make_deal(close_date=close)
    now = at(2026, 3, 1) if close.month == 3 else at(2026, 10, 20)
    first = plan([deal], reports_for([deal]), {}, FIELDMAP, playbook, now)
    ledger = apply_to_ledger(first.plan, {}, first.fingerprints)
    # The state store keeps instants in UTC and hands them back labelled UTC (jobs/state/tables.py).
    stored = {deal_id: [_as_stored(e) for e in entries] for deal_id, entries in ledger.items()}
    again = plan([deal], reports_for([deal]), stored, FIELDMAP, playbook, now + dt.timedelta(hours=1))
    assert [a for a in again.plan.actions if isinstance(a, UpdateTask)] == []


def _as_stored(entry: LedgerEntry) -> LedgerEntry:
    due = entry.due_at.astimezone(UTC) if entry.due_at else None
    return dataclasses.replace(entry, due_at=due)

