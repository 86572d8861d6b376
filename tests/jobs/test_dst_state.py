"""A task due inside a clock change, recorded in the real state store (instants kept in UTC) and
read back: the next plan sees it unchanged, so no run rewrites it (issue: 18-26 updates per run)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from connector.actions import ActionResult, CreateTask, Outcome, UpdateTask
from jobs.core.planner import plan
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.state import open_store
from tests.builders import at, make_deal, reports_for
from tests.unit.test_playbook_dst import FIELDMAP, playbook_in


@pytest.mark.parametrize("zone, hour, close, now", [
    ("America/New_York", 2, dt.date(2026, 3, 7), at(2026, 3, 1)),
    ("Europe/London", 1, dt.date(2026, 10, 24), at(2026, 10, 20)),
])
def test_given_tasks_due_inside_a_clock_change_when_read_back_from_the_state_store_then_nothing_is_rewritten(
        tmp_path, zone, hour, close, now):
    rules = (*playbook_in(zone, hour).touch_points, *DEFAULT_PLAYBOOK.touch_points)  # "check" falls due in it
    playbook = dataclasses.replace(playbook_in(zone, hour), touch_points=rules)
    deal = make_deal(close_date=close)
    first = plan([deal], reports_for([deal]), {}, FIELDMAP, playbook, now)
    with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        run_id = store.start_run("hubspot:dst", "sync")
        results = [ActionResult(action=a, outcome=Outcome.CREATED, crm_id=f"t-{n}")
                   for n, a in enumerate(first.plan.actions) if isinstance(a, CreateTask)]
        store.record_results("hubspot:dst", run_id, results, first.fingerprints)
        assert any(a.spec.due_date == close + dt.timedelta(days=1) for a in first.plan.actions
                   if isinstance(a, CreateTask))
        ledger = store.ledger_for_deals("hubspot:dst", [deal.id])
    again = plan([deal], reports_for([deal]), ledger, FIELDMAP, playbook, now + dt.timedelta(hours=1))
    assert [a for a in again.plan.actions if isinstance(a, UpdateTask)] == []
