"""Writing to the HubSpot sandbox: duplicate-proof task creation, 207 per-record rejections,
updates and closes by key, record write-backs; each in both task key modes (a portal that refuses
unique task properties, the sandbox default, and one that grants them)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from connector.actions import CloseTask, CreateTask, Outcome, UpdateRecord, UpdateTask
from connector.model import Priority, RecordKind, RecordUpdate, TaskSpec, TaskStatus, TaskType
from tests.contract.hubspot_harness import hubspot_harness
from tests.streams import read_deals

UTC = dt.UTC
DUE = dt.datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
CREATE = "POST /crm/v3/objects/tasks/batch/create"


@pytest.fixture(params=["refuse", "grant"])
def mode(request) -> str:
    return request.param


def _deals(h):
    return [d for p in read_deals(h.adapter, None) for d in p.deals]


def _spec(deal, touch_point="kickoff", **changes) -> TaskSpec:
    values = dict(
        key=f"hubspot:{deal.id}:{touch_point}:2026", deal_id=deal.id, touch_point=touch_point,
        subject=f"Kickoff call with {deal.name}", body="Goal: ...", due_at=DUE,
        owner_id=deal.owner.id if deal.owner else None, priority=Priority.HIGH, type=TaskType.CALL,
        company_id=deal.company.id if deal.company else None,
        contact_id=deal.main_contact.id if deal.main_contact else None,
    )
    return TaskSpec(**(values | changes))


def _creates(deals, touch_point="kickoff"):
    return [CreateTask(spec=_spec(d, touch_point), reason="won deal") for d in deals]


def _active(deals):
    return [d for d in deals if d.owner and d.owner.active]


def test_given_create_tasks_when_applied_then_each_linked_to_deal_company_and_main_contact(mode):
    with hubspot_harness(mode=mode) as h:
        deal = _active(_deals(h))[0]
        [result] = h.adapter.apply(_creates([deal]))
        assert result.outcome is Outcome.CREATED
        [task] = h.tasks()
        assert (task.crm_id, task.key, task.deal_id) == (result.crm_id, f"hubspot:{deal.id}:kickoff:2026", deal.id)
        assert (task.company_id, task.contact_id) == (deal.company.id, deal.main_contact.id)
        assert task.owner_id == deal.owner.id and task.due_date == DUE.date() and task.status == "open"
        stored = next(r for r in h.sandbox.records("tasks") if r["id"] == task.crm_id)["properties"]
        assert (stored["hs_task_priority"], stored["hs_task_type"], stored["hs_task_status"]) == ("HIGH", "CALL", "NOT_STARTED")


def test_given_lost_create_response_when_retried_then_exactly_one_task_per_key_reported_created(mode):
    with hubspot_harness(mode=mode) as h:
        deals = _active(_deals(h))
        h.sandbox.controls.add_fault("drop_after", endpoint=CREATE, count=1)
        results = h.adapter.apply(_creates(deals))
        assert Counter(r.outcome for r in results) == {Outcome.CREATED: len(deals)}
        keys = [t.key for t in h.tasks()]
        assert sorted(keys) == sorted(f"hubspot:{d.id}:kickoff:2026" for d in deals)
        assert {r.crm_id for r in results} == {t.crm_id for t in h.tasks()}
        calls = h.sandbox.controls.snapshot()
        if mode == "grant":  # sent again: HubSpot refuses each repeated key, which is then read by key
            assert calls[CREATE] == 2
        else:  # never sent again blind: the deals' tasks are read and every key is found
            assert calls[CREATE] == 1
            assert calls["POST /crm/v4/associations/deals/tasks/batch/read"] == 1
            assert calls["POST /crm/v3/objects/tasks/batch/read"] == 1


@pytest.mark.parametrize("fault", ["drop_before", "server_error", "slow"])
def test_given_create_without_an_answer_on_a_non_unique_portal_then_looked_up_before_sent_again(fault):
    """Whether HubSpot carried the request out (slow: yes, after the client gave up) or not
    (dropped before, 5xx): one task per key, and each key sent again only when it is not found."""
    options = {"seconds": 0.6} if fault == "slow" else {}
    with hubspot_harness(mode="refuse", settings={"timeout_seconds": 0.3, "settle_seconds": 1.0}) as h:
        deals = _active(_deals(h))
        h.sandbox.controls.add_fault(fault, endpoint=CREATE, count=1, **options)
        results = h.adapter.apply(_creates(deals))
        assert Counter(r.outcome for r in results) == {Outcome.CREATED: len(deals)}
        assert Counter(t.key for t in h.tasks()) == Counter(f"hubspot:{d.id}:kickoff:2026" for d in deals)
        assert {r.crm_id for r in results} == {t.crm_id for t in h.tasks()}
        assert h.sandbox.controls.snapshot()[CREATE] == (1 if fault == "slow" else 2)


def test_given_association_reads_lag_longer_than_the_settle_delay_then_a_lost_create_is_sent_again():
    """The negative control: what the settle delay is for. With association reads 2 s behind and no
    settle delay, a create whose answer was lost is not seen yet and is made a second time."""
    with hubspot_harness(mode="refuse", sandbox_options={"association_read_lag": 2.0},
                         settings={"settle_seconds": 0.0}) as h:
        deal = _active(_deals(h))[0]
        h.sandbox.controls.add_fault("drop_after", endpoint=CREATE, count=1)
        h.adapter.apply(_creates([deal]))
        assert len(h.tasks()) == 2


def test_given_association_reads_lag_within_the_settle_delay_then_a_lost_create_is_found_not_repeated():
    with hubspot_harness(mode="refuse", sandbox_options={"association_read_lag": 1.0},
                         settings={"settle_seconds": 1.5}) as h:
        deal = _active(_deals(h))[0]
        h.sandbox.controls.add_fault("drop_after", endpoint=CREATE, count=1)
        [result] = h.adapter.apply(_creates([deal]))
        assert len(h.tasks()) == 1 and result.outcome is Outcome.CREATED and result.crm_id == h.tasks()[0].crm_id


def test_given_settle_delay_longer_than_a_run_may_wait_then_the_create_is_deferred_not_guessed():
    with hubspot_harness(mode="refuse", settings={"settle_seconds": 30.0, "settle_max_wait_seconds": 0.5}) as h:
        deal = _active(_deals(h))[0]
        h.sandbox.controls.add_fault("drop_after", endpoint=CREATE, count=1)
        [result] = h.adapter.apply(_creates([deal]))
        assert result.outcome is Outcome.DEFERRED and "settle_seconds" in result.message
        assert len(h.tasks()) == 1 and h.sandbox.controls.snapshot()[CREATE] == 1


def test_given_state_store_lost_when_same_creates_applied_again_then_no_duplicate_and_ids_relearnt(mode):
    with hubspot_harness(mode=mode) as h:
        deals = _active(_deals(h))
        first = h.adapter.apply(_creates(deals))
        again = h.adapter.apply(_creates(deals))
        assert len(h.tasks()) == len(deals)
        assert all(r.outcome is Outcome.UNCHANGED for r in again)
        assert [r.crm_id for r in again] == [r.crm_id for r in first]


def test_given_search_index_lag_when_task_recreated_and_looked_up_then_no_duplicate_and_found_at_once(mode):
    with hubspot_harness(mode=mode, sandbox_options={"search_lag": 60.0}) as h:
        deal = _active(_deals(h))[0]
        [created] = h.adapter.apply(_creates([deal]))
        [again] = h.adapter.apply(_creates([deal]))
        wanted = {created.action.key: deal.id, "hubspot:0:none:2026": deal.id}
        found = h.adapter.find_tasks_on_deals(wanted)
        assert len(h.tasks()) == 1 and again.crm_id == created.crm_id
        assert list(found) == [created.action.key]
        ref = found[created.action.key]
        assert (ref.crm_id, ref.deal_id, ref.due_at, ref.status) == (created.crm_id, deal.id, DUE, TaskStatus.OPEN)
        by_key_alone = h.adapter.find_tasks(list(wanted))
        if mode == "grant":  # read by idProperty: no index, found at once
            assert list(by_key_alone) == [created.action.key]
        else:  # only search can look a key up alone; it lags, so it never counts as "not there"
            assert by_key_alone == {}


def test_given_task_for_inactive_owner_when_batch_applied_then_only_that_one_rejected_with_hubspot_message(mode):
    with hubspot_harness(mode=mode) as h:
        deals = _deals(h)
        results = h.adapter.apply(_creates(deals))
        rejected = [r for r in results if r.rejected]
        assert [r.action.spec.owner_id for r in rejected] == [h.sandbox.demo_ids["owners"][5]]
        assert "deactivated" in rejected[0].message and rejected[0].error_code == "VALIDATION_ERROR"
        assert len(h.tasks()) == len(deals) - 1


def test_given_reschedule_and_close_by_key_only_when_applied_then_same_tasks_changed(mode):
    with hubspot_harness(mode=mode) as h:
        deals = _active(_deals(h))[:3]
        created = h.adapter.apply(_creates(deals))
        later = DUE + dt.timedelta(days=7)
        move = UpdateTask(spec=_spec(deals[0], due_at=later), crm_id=None, changes=("due_at",), reason="renewal moved")
        close = CloseTask(key=created[1].action.key, deal_id=deals[1].id, crm_id=None, reason="fields filled")
        by_id = CloseTask(key=created[2].action.key, deal_id=deals[2].id, crm_id=created[2].crm_id, reason="done")
        results = h.adapter.apply([move, close, by_id])
        assert [(r.outcome, r.crm_id) for r in results] == [
            (Outcome.UPDATED, created[0].crm_id), (Outcome.CLOSED, created[1].crm_id), (Outcome.CLOSED, created[2].crm_id)]
        tasks = {t.crm_id: t for t in h.tasks()}
        assert tasks[created[0].crm_id].due_date == later.date()
        assert tasks[created[0].crm_id].status == "open"
        assert [tasks[r.crm_id].status for r in created[1:]] == ["completed", "completed"]
        assert len(tasks) == 3


def test_given_close_for_unknown_key_when_applied_then_unchanged_and_the_rest_applied(mode):
    with hubspot_harness(mode=mode) as h:
        deals = _active(_deals(h))[:2]
        created = h.adapter.apply(_creates(deals[:1]))
        ghost = CloseTask(key="hubspot:0:ghost:2026", deal_id=deals[1].id, crm_id=None, reason="r")
        real = CloseTask(key=created[0].action.key, deal_id=deals[0].id, crm_id=None, reason="r")
        results = h.adapter.apply([ghost, real])
        assert [r.outcome for r in results] == [Outcome.UNCHANGED, Outcome.CLOSED]
        assert results[0].error_code == "OBJECT_NOT_FOUND" and "no longer exists" in results[0].message


def test_given_write_backs_when_applied_then_canonical_fields_land_on_mapped_properties_and_none_clears(mode):
    with hubspot_harness(mode=mode) as h:
        deal_id = h.deal_id(0)
        first = UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=deal_id, values={
            "handoff_status": "incomplete", "handoff_missing": "Decision criteria", "nps_score": "9"}),
            deal_id=deal_id, reason="handoff checked")
        second = UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=deal_id, values={
            "handoff_status": "complete", "handoff_missing": None}), deal_id=deal_id, reason="filled")
        results = h.adapter.apply([first, second])
        assert [r.outcome for r in results] == [Outcome.UPDATED, Outcome.UPDATED]
        assert h.field(deal_id, "handoff_status") == "complete"
        assert h.field(deal_id, "handoff_missing") is None
        assert h.field(deal_id, "nps_score") == "9"


def test_given_bad_enum_value_and_unmapped_field_when_applied_then_those_rejected_others_written(mode):
    with hubspot_harness(mode=mode) as h:
        a, b, c = h.deal_id(0), h.deal_id(1), h.deal_id(2)
        actions = [
            UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=a, values={"nps_category": "fan"}),
                         deal_id=a, reason="r"),
            UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=b, values={"favourite_colour": "red"}),
                         deal_id=b, reason="r"),
            UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=c, values={"nps_category": "promoter"}),
                         deal_id=c, reason="r"),
        ]
        results = h.adapter.apply(actions)
        assert [r.outcome for r in results] == [Outcome.REJECTED, Outcome.REJECTED, Outcome.UPDATED]
        assert "fan" in results[0].message
        assert "favourite_colour" in results[1].message and results[1].error_code == "UNMAPPED_FIELD"
        assert h.field(c, "nps_category") == "promoter" and h.field(a, "nps_category") is None


def test_given_250_creates_when_applied_then_batched_at_100_per_call(mode):
    from connector.sandbox.demo import scaled_dataset
    from tests.contract.hubspot_harness import ANCHOR

    with hubspot_harness(scaled_dataset(300, anchor=ANCHOR), mode=mode) as h:
        deals = _active(_deals(h))[:250]
        results = h.adapter.apply(_creates(deals))
        assert all(r.outcome is Outcome.CREATED for r in results)
        assert h.sandbox.controls.snapshot()[CREATE] == 3
        assert len(h.tasks()) == 250
