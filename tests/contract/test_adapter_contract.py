"""One contract, every adapter: the neutral behaviours the sync job relies on.

Runs against the in-memory CRM (connector/fake/) and the HubSpot and Salesforce adapters, each
driving its real SDK against its sandbox; all three hold the demo data set, in pages small
enough that it spans several (see tests/contract/conftest.py).
"""

from __future__ import annotations

import datetime as dt

from connector.actions import CloseTask, CreateTask, Outcome, UpdateRecord, UpdateTask
from connector.model import Priority, RecordKind, RecordUpdate, TaskSpec, TaskType
from tests.streams import handled_by, read_deals, read_deals_by_id

UTC = dt.UTC


def all_deals(pages):
    return [deal for page in pages for deal in page.deals]


def task_spec(h, deal, touch_point="kickoff", days=3, owner_id=None, key=None) -> TaskSpec:
    due = dt.datetime(2026, 3, 2, 9, tzinfo=UTC) + dt.timedelta(days=days)
    return TaskSpec(
        key=key or f"ac1:{h.provider}:{deal.id}:{touch_point}:0", deal_id=deal.id, touch_point=touch_point,
        subject=f"Kickoff call: {deal.name}", body="Goal: grow share.\nStakeholders: Maria (Decision Maker)",
        due_at=due, owner_id=owner_id or (deal.owner.id if deal.owner else None), priority=Priority.HIGH,
        type=TaskType.CALL, company_id=deal.company.id if deal.company else None,
        contact_id=deal.main_contact.id if deal.main_contact else None,
    )


def active_won_deal(h, name_prefix=""):
    for deal in all_deals(read_deals(h.adapter, None)):
        if deal.owner and deal.owner.active and deal.company and deal.contacts and deal.name.startswith(name_prefix):
            return deal
    raise AssertionError("demo data has no won deal with an active owner, a company and contacts")


def test_given_demo_crm_when_pulling_from_start_then_every_won_deal_arrives_once_in_cursor_order(harness):
    pages = list(read_deals(harness.adapter, None))
    deals = all_deals(pages)
    assert {d.id for d in deals} == harness.won_deal_ids()
    assert len(deals) == len({d.id for d in deals})
    assert all(d.is_won for d in deals)
    positions = [(d.last_modified, d.id) for d in deals]
    assert positions == sorted(positions)
    cursors = [(p.cursor.modified, p.cursor.deal_id) for p in pages if p.cursor]
    assert cursors == sorted(cursors)


def test_given_won_deal_then_owner_company_contacts_and_mapped_fields_come_with_it(harness):
    deal = active_won_deal(harness)
    assert deal.owner.email and deal.owner.name
    assert deal.company.name
    assert deal.main_contact is not None and deal.main_contact.email
    assert deal.close_date is not None
    assert deal.value("decision_criteria") and deal.value("customer_goal")
    assert deal.last_modified.tzinfo is not None


def test_given_cursor_of_any_page_when_resuming_then_nothing_lost_and_nothing_repeated(harness):
    pages = list(read_deals(harness.adapter, None))
    everything = [d.id for d in all_deals(pages)]
    assert len(pages) > 2, "the demo data must span several pages here (tests/contract/conftest.py)"
    for n, page in enumerate(pages[:-1]):
        read = [d.id for d in all_deals(pages[: n + 1])]
        rest = [d.id for d in all_deals(read_deals(harness.adapter, page.cursor, handled=handled_by(pages[: n + 1])))]
        assert rest == everything[len(read):]
        assert set(rest).isdisjoint(read) and set(rest) | set(read) == set(everything)


def test_given_user_edit_after_last_cursor_then_only_that_deal_is_pulled_again(harness):
    pages = list(read_deals(harness.adapter, None))
    last = pages[-1].cursor
    deal = active_won_deal(harness)
    harness.set_field(deal.id, "customer_goal", "Halve onboarding time for their own clients")
    again = all_deals(read_deals(harness.adapter, last, handled=handled_by(pages)))
    assert [d.id for d in again] == [deal.id]
    assert again[0].value("customer_goal") == "Halve onboarding time for their own clients"


def test_given_handled_deal_marked_lost_then_it_comes_back_as_no_longer_won(harness):
    deal = active_won_deal(harness)
    results = harness.adapter.apply([UpdateRecord(
        update=RecordUpdate(kind=RecordKind.DEAL, record_id=deal.id, values={"handoff_status": "complete"}),
        deal_id=deal.id, reason="test")])
    assert results[0].outcome is Outcome.UPDATED
    cursor = list(read_deals(harness.adapter, None))[-1].cursor
    harness.mark_lost(deal.id)
    again = all_deals(read_deals(harness.adapter, cursor))
    assert [(d.id, d.is_won) for d in again] == [(deal.id, False)]


def test_given_same_create_applied_twice_then_crm_holds_one_task_with_all_links(harness):
    deal = active_won_deal(harness)
    spec = task_spec(harness, deal)
    first = harness.adapter.apply([CreateTask(spec=spec, reason="test")])
    second = harness.adapter.apply([CreateTask(spec=spec, reason="test")])
    assert first[0].outcome is Outcome.CREATED and first[0].crm_id
    assert second[0].outcome is not Outcome.REJECTED
    tasks = [t for t in harness.tasks() if t.key == spec.key]
    assert len(tasks) == 1
    task = tasks[0]
    assert task.crm_id == first[0].crm_id
    assert (task.deal_id, task.company_id, task.contact_id) == (deal.id, spec.company_id, spec.contact_id)
    assert task.owner_id == spec.owner_id and task.due_date == spec.due_date and task.status == "open"


def test_given_a_task_with_the_key_exists_when_created_again_with_another_due_date_then_that_task_follows_the_plan(
        harness):
    """A replay after a crash between the CRM write and the state write sends the create again,
    perhaps after a rep moved the renewal date: the CRM must not keep the old due date, nor make a
    second task."""
    deal = active_won_deal(harness)
    spec = task_spec(harness, deal, touch_point="renewal_review")
    created = harness.adapter.apply([CreateTask(spec=spec, reason="test")])[0]
    moved = task_spec(harness, deal, touch_point="renewal_review", days=40)
    again = harness.adapter.apply([CreateTask(spec=moved, reason="replay")])[0]
    assert again.outcome is Outcome.UPDATED, again
    tasks = [t for t in harness.tasks() if t.key == spec.key]
    assert [(t.crm_id, t.due_date, t.status) for t in tasks] == [(created.crm_id, moved.due_date, "open")]


def test_given_existing_task_when_rescheduled_then_same_task_moves(harness):
    deal = active_won_deal(harness)
    spec = task_spec(harness, deal, touch_point="renewal_review")
    created = harness.adapter.apply([CreateTask(spec=spec, reason="test")])[0]
    moved = task_spec(harness, deal, touch_point="renewal_review", days=40)
    result = harness.adapter.apply([UpdateTask(spec=moved, crm_id=created.crm_id, changes=("due",), reason="t")])[0]
    assert result.outcome is Outcome.UPDATED
    tasks = [t for t in harness.tasks() if t.key == spec.key]
    assert [t.due_date for t in tasks] == [moved.due_date]


def test_given_open_task_when_closed_then_it_is_completed_in_crm(harness):
    deal = active_won_deal(harness)
    spec = task_spec(harness, deal, touch_point="handoff_incomplete")
    created = harness.adapter.apply([CreateTask(spec=spec, reason="test")])[0]
    result = harness.adapter.apply([CloseTask(key=spec.key, deal_id=deal.id, crm_id=created.crm_id, reason="t")])[0]
    assert result.outcome is Outcome.CLOSED
    assert [t.status for t in harness.tasks() if t.key == spec.key] == ["completed"]


def test_given_write_back_then_value_is_on_the_deal(harness):
    deal = active_won_deal(harness)
    update = RecordUpdate(kind=RecordKind.DEAL, record_id=deal.id,
                          values={"handoff_status": "incomplete", "handoff_missing": "Decision criteria; Customer goal"})
    result = harness.adapter.apply([UpdateRecord(update=update, deal_id=deal.id, reason="test")])[0]
    assert result.outcome is Outcome.UPDATED
    assert harness.field(deal.id, "handoff_status") == "incomplete"
    assert harness.field(deal.id, "handoff_missing") == "Decision criteria; Customer goal"


def test_given_inactive_owner_in_batch_then_only_that_task_is_rejected_with_crm_message(harness):
    deals = [d for d in all_deals(read_deals(harness.adapter, None)) if d.company and d.contacts]
    inactive = next(d for d in deals if d.owner and not d.owner.active)
    active = [d for d in deals if d.owner and d.owner.active][:3]
    actions = [CreateTask(spec=task_spec(harness, d), reason="t") for d in (*active, inactive)]
    results = harness.adapter.apply(actions)
    assert [r.outcome for r in results] == [Outcome.CREATED] * 3 + [Outcome.REJECTED]
    assert results[-1].message
    assert {t.key for t in harness.tasks()} >= {a.spec.key for a in actions[:3]}
    assert actions[-1].spec.key not in {t.key for t in harness.tasks()}


def test_given_created_tasks_when_finding_by_key_then_refs_come_back_and_unknown_keys_do_not(harness):
    deal = active_won_deal(harness)
    spec = task_spec(harness, deal, touch_point="value_review_30")
    created = harness.adapter.apply([CreateTask(spec=spec, reason="test")])[0]
    found = harness.adapter.find_tasks([spec.key, f"ac1:{harness.provider}:{deal.id}:nothing:0"])
    assert set(found) == {spec.key}
    assert found[spec.key].crm_id == created.crm_id


def test_given_demo_schema_then_mapping_check_finds_no_problem(harness):
    assert harness.adapter.check_schema() == []


def test_given_deal_ids_when_reading_them_again_then_exactly_those_deals_come_back(harness):
    wanted = sorted(harness.won_deal_ids())[:3]
    got = all_deals(read_deals_by_id(harness.adapter, wanted))
    assert sorted(d.id for d in got) == wanted


def test_given_calls_made_then_adapter_counts_what_the_crm_answered(harness):
    sandbox_before, adapter_before = harness.calls(), harness.adapter.call_stats().total
    list(read_deals(harness.adapter, None))
    answered = harness.calls() - sandbox_before
    assert answered > 0
    assert harness.adapter.call_stats().total - adapter_before == answered


def test_given_no_afterclose_task_then_any_tasks_is_false_and_after_one_create_true(harness):
    assert harness.adapter.any_tasks() is False
    deal = active_won_deal(harness)
    harness.adapter.apply([CreateTask(spec=task_spec(harness, deal), reason="test")])
    assert harness.adapter.any_tasks() is True
