"""The adapter contract, continued: keys, lookups and result order, over every CRM harness."""

from __future__ import annotations

import datetime as dt

from connector.actions import CreateTask, Outcome
from connector.model import TaskSpec
from tests.streams import read_deals

UTC = dt.UTC


def _spec(h, deal) -> TaskSpec:
    return TaskSpec(
        key=f"{h.provider}:{deal.id}:value_review:2026", deal_id=deal.id, touch_point="value_review",
        subject="Value review", body="...", due_at=dt.datetime(2026, 4, 1, 9, tzinfo=UTC),
        owner_id=deal.owner.id if deal.owner else None,
        company_id=deal.company.id if deal.company else None,
        contact_id=deal.main_contact.id if deal.main_contact else None,
    )


def _active_won(h):
    return [d for p in read_deals(h.adapter, None) for d in p.deals if d.owner and d.owner.active]


def test_given_same_create_applied_twice_when_state_lost_then_one_task_and_the_same_id(harness):
    deal = _active_won(harness)[0]
    first = harness.adapter.apply([CreateTask(spec=_spec(harness, deal), reason="won")])
    second = harness.adapter.apply([CreateTask(spec=_spec(harness, deal), reason="won")])
    assert first[0].outcome is Outcome.CREATED and second[0].outcome is not Outcome.REJECTED
    assert second[0].crm_id == first[0].crm_id
    assert [t.crm_id for t in harness.tasks()] == [first[0].crm_id]


def test_given_task_just_created_when_keys_looked_up_then_found_with_its_deal(harness):
    deal = _active_won(harness)[0]
    [created] = harness.adapter.apply([CreateTask(spec=_spec(harness, deal), reason="won")])
    found = harness.adapter.find_tasks([created.action.key])
    assert found[created.action.key].crm_id == created.crm_id
    assert found[created.action.key].deal_id == deal.id


def test_given_apply_when_results_returned_then_one_per_action_in_order(harness):
    deals = _active_won(harness)[:3]
    actions = [CreateTask(spec=_spec(harness, d), reason="won") for d in deals]
    results = harness.adapter.apply(actions)
    assert [r.action for r in results] == actions
