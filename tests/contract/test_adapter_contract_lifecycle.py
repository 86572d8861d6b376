"""The adapter contract, continued: a task's and a deal's lifecycle, over every CRM harness."""

from __future__ import annotations

import dataclasses

from connector.actions import CloseTask, CreateTask, Outcome, UpdateRecord, UpdateTask
from connector.model import RecordKind, RecordUpdate
from tests.contract.test_adapter_contract import active_won_deal, all_deals, task_spec
from tests.streams import handled_by, read_deals


def test_given_won_deal_lost_before_afterclose_handled_it_then_it_is_not_pulled(harness):
    pages = list(read_deals(harness.adapter, None))
    deal = active_won_deal(harness)
    harness.mark_lost(deal.id)
    assert all_deals(read_deals(harness.adapter, pages[-1].cursor, handled=handled_by(pages))) == []


def test_given_task_known_only_by_key_then_reschedule_and_close_reach_the_same_task(harness):
    deal = active_won_deal(harness)
    spec = task_spec(harness, deal, touch_point="onboarding_checkup")
    created = harness.adapter.apply([CreateTask(spec=spec, reason="t")])[0]
    moved = task_spec(harness, deal, touch_point="onboarding_checkup", days=20)
    updated = harness.adapter.apply([UpdateTask(spec=moved, crm_id=None, changes=("due",), reason="t")])[0]
    closed = harness.adapter.apply([CloseTask(key=spec.key, deal_id=deal.id, crm_id=None, reason="t")])[0]
    assert (updated.outcome, closed.outcome) == (Outcome.UPDATED, Outcome.CLOSED)
    tasks = [t for t in harness.tasks() if t.key == spec.key]
    assert [(t.crm_id, t.due_date, t.status) for t in tasks] == [(created.crm_id, moved.due_date, "completed")]


def test_given_close_for_a_key_the_crm_never_had_then_not_rejected_and_nothing_created(harness):
    deal = active_won_deal(harness)
    key = f"ac1:{harness.provider}:{deal.id}:never_created:0"
    result = harness.adapter.apply([CloseTask(key=key, deal_id=deal.id, crm_id=None, reason="t")])[0]
    assert result.outcome is Outcome.UNCHANGED
    assert key not in {t.key for t in harness.tasks()}


def test_given_write_back_of_none_then_the_field_is_cleared(harness):
    deal = active_won_deal(harness)
    write = lambda value: harness.adapter.apply([UpdateRecord(update=RecordUpdate(  # noqa: E731
        kind=RecordKind.DEAL, record_id=deal.id, values={"handoff_missing": value}), deal_id=deal.id, reason="t")])
    assert write("Decision criteria")[0].outcome is Outcome.UPDATED
    assert write(None)[0].outcome is Outcome.UPDATED
    assert harness.field(deal.id, "handoff_missing") is None


def test_given_reschedule_with_new_text_then_both_reach_the_crm_and_a_task_a_rep_completed_stays_completed(harness):
    deal = active_won_deal(harness)
    open_spec = task_spec(harness, deal, touch_point="onboarding_checkup")
    done_spec = task_spec(harness, deal, touch_point="value_review_30")
    created = harness.adapter.apply([CreateTask(spec=s, reason="t") for s in (open_spec, done_spec)])
    harness.complete_task(created[1].crm_id)  # a rep finished this one in the CRM
    moved = [dataclasses.replace(task_spec(harness, deal, touch_point=s.touch_point, days=40),
                                 subject=f"Renewal moved: {s.subject}") for s in (open_spec, done_spec)]
    results = harness.adapter.apply([UpdateTask(spec=s, crm_id=r.crm_id, changes=("due_at", "content"), reason="t")
                                     for s, r in zip(moved, created, strict=True)])
    assert [r.outcome for r in results] == [Outcome.UPDATED, Outcome.UPDATED]
    in_crm = {t.key: (t.subject, t.due_date, t.status) for t in harness.tasks()}
    assert in_crm[open_spec.key] == (moved[0].subject, moved[0].due_date, "open")
    assert in_crm[done_spec.key] == (moved[1].subject, moved[1].due_date, "completed")
