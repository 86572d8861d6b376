"""The create journal in the state store (jobs/state/intents.py), on SQLite and PostgreSQL: a key
noted as sent stays in doubt until the transaction that records what the CRM did with it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from connector.actions import ActionResult, CreateTask, Outcome
from connector.model import TaskRef
from jobs.state import StateStore, open_store
from jobs.state.intents import StoreJournal
from tests.contract.test_store import SCOPE, T0, Clock, created, key, parse, rejected, spec


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_url: str, clock: Clock) -> Iterator[StateStore]:
    with open_store(store_url, clock=clock) as opened:
        yield opened


def test_given_keys_noted_as_sending_then_in_doubt_with_their_deal_and_age_by_the_store_clock(store, clock):
    run_id = store.start_run(SCOPE, "sync")
    journal = StoreJournal(store, SCOPE, run_id)
    journal.sending({key("d1"): "d1", key("d2"): "d2"})
    clock.advance(seconds=42)
    doubt = journal.in_doubt([key("d1"), key("d3")])
    assert list(doubt) == [key("d1")]
    assert (doubt[key("d1")].deal_id, doubt[key("d1")].age_seconds) == ("d1", 42.0)
    assert store.creates_in_doubt("other:scope") == {}


def test_given_a_key_sent_again_then_its_age_starts_over(store, clock):
    journal = StoreJournal(store, SCOPE, None)
    journal.sending({key("d1"): "d1"})
    clock.advance(seconds=30)
    journal.sending({key("d1"): "d1"})
    clock.advance(seconds=5)
    assert journal.in_doubt([key("d1")])[key("d1")].age_seconds == 5.0


def test_given_page_recorded_then_settled_keys_leave_the_journal_and_doubtful_ones_stay(store):
    run_id = store.start_run(SCOPE, "sync")
    tasks = [spec(f"d{i}") for i in range(5)]
    store.note_creates_sending(SCOPE, run_id, {t.key: t.deal_id for t in tasks})
    results = [
        created(tasks[0], crm_id="t0"),
        rejected(tasks[1]),  # HubSpot refused the input: nothing was created
        ActionResult(action=CreateTask(spec=tasks[2], reason="r"), outcome=Outcome.DEFERRED, message="wait"),
        ActionResult(action=CreateTask(spec=tasks[3], reason="r"), outcome=Outcome.REJECTED, crm_id="t3",
                     message="found, but its update was refused"),
        ActionResult(action=CreateTask(spec=tasks[4], reason="r"), outcome=Outcome.UPDATED, crm_id="t4"),
    ]
    store.commit_page(SCOPE, "sync", run_id, results, {}, None, touch_point_of=parse)
    assert set(store.creates_in_doubt(SCOPE)) == {tasks[2].key, tasks[3].key}
    ledger = store.ledger_for_deals(SCOPE, [t.deal_id for t in tasks])
    assert set(ledger) == {"d0", "d4"}  # neither the deferred nor the refused create is in the ledger


def test_given_tasks_learnt_or_confirmed_absent_then_they_leave_the_journal(store):
    store.note_creates_sending(SCOPE, None, {key("d1"): "d1", key("d2"): "d2", key("d3"): "d3"})
    store.learn(SCOPE, [TaskRef(key=key("d1"), crm_id="t1", deal_id="d1", due_at=T0)], touch_point_of=parse)
    store.forget_creates(SCOPE, [key("d2")])
    assert list(store.creates_in_doubt(SCOPE)) == [key("d3")]


def test_given_dry_run_recorded_then_the_journal_is_untouched(store):
    run_id = store.start_run(SCOPE, "sync", dry_run=True)
    task = spec("d1")
    store.note_creates_sending(SCOPE, run_id, {task.key: "d1"})
    store.commit_page(SCOPE, "sync", run_id, [created(task)], {}, None, touch_point_of=parse)
    assert list(store.creates_in_doubt(SCOPE)) == [task.key]


def test_given_sent_at_stored_then_it_comes_back_aware_in_utc(store, clock):
    clock.now = dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    store.note_creates_sending(SCOPE, None, {key("d1"): "d1"})
    (_deal, sent_at), = store.creates_in_doubt(SCOPE).values()
    assert sent_at == dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC) and sent_at.tzinfo is not None
