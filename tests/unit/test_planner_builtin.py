"""The planner over the demo data set with the built-in mappings and the real handoff check."""

from __future__ import annotations

import dataclasses

import pytest

from connector.actions import ActionKind, CreateTask, Skip
from connector.mapping import NOT_RECORDED, builtin_mapping, load_mapping
from connector.model import Provider
from connector.sandbox.demo import demo_dataset
from jobs.core.handoff import check
from jobs.core.planner import plan
from jobs.core.playbook import DEFAULT_PLAYBOOK
from tests.builders import apply_record_updates, apply_to_ledger, at, deals_from_demo

NOW = at(2026, 3, 2, hour=7)
ANCHOR = NOW.date()


@pytest.fixture(scope="module", params=list(Provider))
def scenario(request):
    fieldmap = load_mapping(builtin_mapping(request.param))
    deals = deals_from_demo(demo_dataset(ANCHOR), request.param)
    reports = {deal.id: check(deal, fieldmap) for deal in deals}
    return fieldmap, deals, reports


def test_given_demo_data_then_first_run_creates_tasks_with_every_placeholder_filled(scenario):
    fieldmap, deals, reports = scenario
    result = plan(deals, reports, {}, fieldmap, DEFAULT_PLAYBOOK, NOW)
    created = [a for a in result.plan.actions if isinstance(a, CreateTask)]
    assert created
    kickoff = next(a.spec for a in created if a.spec.touch_point == "kickoff")
    assert "{" not in kickoff.subject + kickoff.body
    assert kickoff.body.count(NOT_RECORDED) <= 1  # the demo's complete deals have what a kickoff needs
    handoff_tasks = [a for a in created if a.spec.touch_point == "handoff_incomplete"]
    assert len(handoff_tasks) == sum(1 for d in deals if d.is_won and not reports[d.id].complete)


def test_given_demo_data_then_old_deals_are_not_flooded_with_overdue_tasks(scenario):
    fieldmap, deals, reports = scenario
    result = plan(deals, reports, {}, fieldmap, DEFAULT_PLAYBOOK, NOW)
    legacy = {d.id for d in deals if "Legacy Contract" in d.name}
    assert {a.deal_id for a in result.plan.actions if isinstance(a, Skip)} >= legacy
    assert all((ANCHOR - a.spec.due_date).days <= 7 for a in result.plan.actions if isinstance(a, CreateTask))


def test_given_demo_data_then_second_run_is_empty_even_with_bumped_modified_dates(scenario):
    fieldmap, deals, reports = scenario
    first = plan(deals, reports, {}, fieldmap, DEFAULT_PLAYBOOK, NOW)
    ledger = apply_to_ledger(first.plan, {}, first.fingerprints)
    after = [dataclasses.replace(d, last_modified=d.last_modified.replace(year=2026, month=3, day=2))
             for d in apply_record_updates(first.plan, deals)]
    reports = {deal.id: check(deal, fieldmap) for deal in after}
    second = plan(after, reports, ledger, fieldmap, DEFAULT_PLAYBOOK, NOW.replace(hour=8))
    assert second.plan.summary() == {kind.value: 0 for kind in ActionKind}
