"""Reasons inside the CRM: a rep cannot run `status`, so every task says why it exists, the handoff
task says where to fill in each missing field, and a task AfterClose rewrites says so."""

from __future__ import annotations

import dataclasses

import pytest

from connector.actions import CreateTask, UpdateTask
from connector.mapping import builtin_mapping, load_mapping
from connector.model import Provider
from jobs.core.handoff import check
from jobs.core.planner import fingerprint, plan
from jobs.core.playbook import DEFAULT_PLAYBOOK
from tests.builders import apply_to_ledger, at, complete_fields, make_deal, with_fields

NOW = at(2026, 3, 2)


@pytest.fixture(scope="module", params=list(Provider))
def fieldmap(request):
    return load_mapping(builtin_mapping(request.param))


def run(deals, fieldmap, ledger=None, now=NOW):
    deals = list(deals)
    return plan(deals, {d.id: check(d, fieldmap) for d in deals}, ledger or {}, fieldmap, DEFAULT_PLAYBOOK, now)


def task(result, touch_point):
    return next(a for a in result.plan.actions if isinstance(a, CreateTask | UpdateTask)
                and a.spec.touch_point == touch_point)


def test_given_a_touch_point_task_then_its_body_says_why_it_exists_and_what_it_is_for(fieldmap):
    deal = make_deal(fields=complete_fields(renewal_date="2027-03-02"))
    body = task(run([deal], fieldmap), "renewal_decision").spec.body
    assert body.rstrip().endswith(
        "Why this task: Renewal decision, 30 days before the renewal date 2027-03-02 (renewal cycle 1), in the "
        "Default playbook. What it is for: Get a clear yes or no before the renewal date.")


def test_given_an_incomplete_handoff_then_the_task_names_each_missing_field_and_where_to_fill_it_in(fieldmap):
    deal = make_deal(contacts=(), fields=complete_fields(decision_criteria="tbd", customer_goal=None))
    body = task(run([deal], fieldmap), "handoff_incomplete").spec.body
    label = "Decision criteria"
    assert f"- {label}: is too short: 'tbd' has 3 characters; needs at least 10. Fill it in on the deal: " \
           f"field \"{label}\"." in body
    assert "- Customer goal: is empty. Fill it in on the deal: field \"Customer goal\"." in body
    assert "- Stakeholders: needs at least 1 stakeholder contact on the deal; it has 0. Add the contact " \
           "(with their role) to the deal." in body


def test_given_the_renewal_date_moves_then_the_rescheduled_task_says_so_and_the_note_is_not_a_change(fieldmap):
    deal = make_deal(fields=complete_fields(renewal_date="2027-03-02"))
    first = run([deal], fieldmap)
    ledger = apply_to_ledger(first.plan, {}, first.fingerprints)
    moved = with_fields(deal, renewal_date="2027-04-15", handoff_status="complete", handoff_missing=None)
    second = run([moved], fieldmap, ledger, NOW.replace(hour=13))
    update = task(second, "renewal_review")
    assert isinstance(update, UpdateTask) and update.changes == ("due_at", "content")
    assert update.spec.body.rstrip().endswith(
        "Updated by AfterClose on 2026-03-02: moved from 2026-12-02 to 2027-01-15 (90 days before the renewal "
        "date 2027-04-15 (renewal cycle 1)); its text, owner or links brought up to date with the deal.")
    assert second.fingerprints[update.key] != fingerprint(update.spec)  # the note is not part of the content
    settled = apply_to_ledger(second.plan, ledger, second.fingerprints)
    assert run([moved], fieldmap, settled, NOW.replace(hour=14)).plan.actions == ()


def test_given_only_the_due_date_moves_then_the_note_travels_in_the_body(fieldmap):
    deal = make_deal(fields=complete_fields(handoff_status="complete"))
    first = run([deal], fieldmap)
    ledger = apply_to_ledger(first.plan, {}, first.fingerprints)
    calendar = dataclasses.replace(DEFAULT_PLAYBOOK, due_hour=10)  # same text, another hour
    result = plan([deal], {deal.id: check(deal, fieldmap)}, ledger, fieldmap, calendar, NOW)
    kickoff = task(result, "kickoff")
    assert kickoff.changes == ("due_at", "body")
    assert "Updated by AfterClose on 2026-03-02: moved from 2026-03-04 09:00 to 2026-03-04 10:00" in kickoff.spec.body
