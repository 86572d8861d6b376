"""The state store contract: the same behaviours on SQLite and PostgreSQL (fixture ``store_url``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from connector.actions import ActionResult, CloseTask, CreateTask, Outcome, Skip, UpdateRecord, UpdateTask
from connector.model import Cursor, RecordKind, RecordUpdate, TaskRef, TaskSpec, TaskStatus
from connector.port import CallStats
from jobs.core.keys import task_key
from jobs.core.ledger_view import EntryStatus
from jobs.state import RunOutcome, StateStore, open_store, schema_head

UTC = dt.UTC
BERLIN_SUMMER = dt.timezone(dt.timedelta(hours=2))
SCOPE = "hubspot:portal-123"
T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand, so first/last-seen times are predictable."""

    def __init__(self, now: dt.datetime = T0):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_url: str, clock: Clock) -> Iterator[StateStore]:
    with open_store(store_url, clock=clock) as opened:
        yield opened


def spec(deal_id: str = "d1", touch_point: str = "kickoff", cycle: int = 0, due: dt.datetime = T0) -> TaskSpec:
    return TaskSpec(key=key(deal_id, touch_point, cycle), deal_id=deal_id, touch_point=touch_point,
                    subject=f"{touch_point} for {deal_id}", body="", due_at=due, owner_id="o1")


def key(deal_id: str, touch_point: str = "kickoff", cycle: int = 0) -> str:
    return task_key("hubspot", deal_id, touch_point, cycle)


def parse(task_key: str) -> tuple[str, int]:
    *_, touch_point, cycle = task_key.split(":")
    return touch_point, int(cycle)


def created(task: TaskSpec, crm_id: str = "t1") -> ActionResult:
    return ActionResult(action=CreateTask(spec=task, reason="due"), outcome=Outcome.CREATED, crm_id=crm_id)


def rejected(task: TaskSpec, message: str = "Property values were not valid") -> ActionResult:
    return ActionResult(action=CreateTask(spec=task, reason="due"), outcome=Outcome.REJECTED, message=message,
                        error_code="VALIDATION_ERROR", correlation_id="corr-1")


def record(store: StateStore, *results: ActionResult, fingerprints: dict[str, str] | None = None, **kw) -> int:
    run_id = store.start_run(SCOPE, "sync")
    store.record_results(SCOPE, run_id, list(results), fingerprints or {}, touch_point_of=parse, **kw)
    return run_id


# -- schema --------------------------------------------------------------------------------------


def test_given_empty_database_when_opened_then_schema_is_migrated_to_head(store_url: str) -> None:
    with open_store(store_url) as store:
        assert store.schema_revision() == schema_head()
        assert store.get_cursor(SCOPE, "sync") is None


def test_given_migrated_database_when_reopened_then_data_is_kept(store_url: str) -> None:
    with open_store(store_url) as store:
        store.set_cursor(SCOPE, "sync", Cursor(modified=T0, deal_id="d9"))
    with open_store(store_url) as store:
        assert store.get_cursor(SCOPE, "sync") == Cursor(modified=T0, deal_id="d9")


# -- cursors -------------------------------------------------------------------------------------


def test_given_cursor_set_then_read_back_per_scope_and_job(store: StateStore) -> None:
    store.set_cursor(SCOPE, "sync", Cursor(modified=T0, deal_id="d1"))
    store.set_cursor(SCOPE, "nps", Cursor(modified=T0 + dt.timedelta(days=1), deal_id=""))
    store.set_cursor("salesforce:acme.my.salesforce.com", "sync", Cursor(modified=T0, deal_id="006x"))
    store.set_cursor(SCOPE, "sync", Cursor(modified=T0 + dt.timedelta(hours=1), deal_id="d2"))

    assert store.get_cursor(SCOPE, "sync") == Cursor(modified=T0 + dt.timedelta(hours=1), deal_id="d2")
    assert store.get_cursor(SCOPE, "nps") == Cursor(modified=T0 + dt.timedelta(days=1), deal_id="")
    assert store.get_cursor("salesforce:acme.my.salesforce.com", "sync").deal_id == "006x"
    assert store.get_cursor("hubspot:other", "sync") is None


def test_given_cursor_in_another_zone_then_read_back_as_same_instant_in_utc(store: StateStore) -> None:
    berlin = dt.datetime(2025, 7, 1, 23, 30, 15, 123456, tzinfo=BERLIN_SUMMER)
    store.set_cursor(SCOPE, "sync", Cursor(modified=berlin, deal_id="d1"))

    read = store.get_cursor(SCOPE, "sync")
    assert read.modified == berlin
    assert read.modified.utcoffset() == dt.timedelta(0)
    assert read.modified.isoformat() == "2025-07-01T21:30:15.123456+00:00"


def test_given_cursor_reset_then_next_run_starts_from_the_beginning(store: StateStore) -> None:
    store.set_cursor(SCOPE, "sync", Cursor(modified=T0, deal_id="d1"))
    store.reset_cursor(SCOPE, "sync")
    assert store.get_cursor(SCOPE, "sync") is None


# -- results -> ledger ---------------------------------------------------------------------------


def test_given_created_task_then_ledger_entry_is_open_with_crm_id_due_date_and_fingerprint(store: StateStore) -> None:
    task = spec(due=dt.datetime(2025, 3, 4, 9, tzinfo=BERLIN_SUMMER))
    record(store, created(task, "T-100"), fingerprints={task.key: "fp-1"})

    [entry] = store.ledger_for_deals(SCOPE, ["d1"])["d1"]
    assert (entry.key, entry.deal_id, entry.touch_point, entry.cycle) == (task.key, "d1", "kickoff", 0)
    assert (entry.crm_id, entry.status, entry.fingerprint) == ("T-100", EntryStatus.OPEN, "fp-1")
    assert entry.due_at == task.due_at and entry.due_at.tzinfo is not None


def test_given_rescheduled_task_then_due_date_and_fingerprint_change_and_crm_id_is_kept(store: StateStore) -> None:
    task = spec()
    record(store, created(task, "T-100"), fingerprints={task.key: "fp-1"})
    moved = spec(due=T0 + dt.timedelta(days=30))
    update = UpdateTask(spec=moved, crm_id="T-100", changes=("due_at",), reason="renewal moved")
    record(store, ActionResult(action=update, outcome=Outcome.UPDATED), fingerprints={task.key: "fp-2"})

    [entry] = store.ledger_for_deals(SCOPE, ["d1"])["d1"]
    assert (entry.crm_id, entry.due_at, entry.fingerprint, entry.status) == ("T-100", moved.due_at, "fp-2", EntryStatus.OPEN)


def test_given_closed_task_then_entry_is_completed_and_keeps_its_due_date(store: StateStore) -> None:
    task = spec()
    record(store, created(task, "T-100"))
    close = CloseTask(key=task.key, deal_id="d1", crm_id="T-100", reason="deal lost")
    record(store, ActionResult(action=close, outcome=Outcome.CLOSED))

    [entry] = store.ledger_for_deals(SCOPE, ["d1"])["d1"]
    assert (entry.status, entry.crm_id, entry.due_at) == (EntryStatus.COMPLETED, "T-100", task.due_at)


def test_given_skipped_touch_point_then_entry_is_skipped_without_crm_id(store: StateStore) -> None:
    skip = Skip(deal_id="d1", key=key("d1", "onboarding"), reason="40 days overdue")
    record(store, ActionResult(action=skip, outcome=Outcome.SKIPPED))

    [entry] = store.ledger_for_deals(SCOPE, ["d1"])["d1"]
    assert (entry.status, entry.crm_id, entry.touch_point) == (EntryStatus.SKIPPED, None, "onboarding")


def test_given_record_update_then_run_record_is_kept_but_no_ledger_entry(store: StateStore) -> None:
    update = UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id="d1", values={"handoff_status": "complete"}),
                          deal_id="d1", reason="handoff checked")
    run_id = record(store, ActionResult(action=update, outcome=Outcome.UPDATED))

    assert store.ledger_for_deals(SCOPE, ["d1"]) == {}
    assert [r.action_kind for r in store.run_records(run_id)] == ["update_record"]


def test_given_rejected_create_then_ledger_unchanged_and_rejection_kept_with_crm_message(store: StateStore) -> None:
    run_id = record(store, rejected(spec("d7"), "Property values were not valid: hs_task_type"))

    assert store.ledger_for_deals(SCOPE, ["d7"]) == {}
    assert store.retry_deal_ids(SCOPE) == ["d7"]
    [kept] = store.rejected(SCOPE)
    assert (kept.deal_id, kept.key, kept.reason, kept.error_code, kept.attempts) == (
        "d7", key("d7"), "Property values were not valid: hs_task_type", "VALIDATION_ERROR", 1)
    [outcome] = store.run_records(run_id)
    assert (outcome.outcome, outcome.message, outcome.correlation_id) == (
        Outcome.REJECTED, "Property values were not valid: hs_task_type", "corr-1")


def test_given_rejected_again_next_run_then_attempts_count_up_and_first_seen_is_kept(store: StateStore, clock: Clock) -> None:
    record(store, rejected(spec("d7")))
    clock.advance(hours=1)
    record(store, rejected(spec("d7"), "still invalid"))

    [kept] = store.rejected(SCOPE)
    assert (kept.attempts, kept.reason, kept.first_seen, kept.last_seen) == (2, "still invalid", T0, T0 + dt.timedelta(hours=1))


def test_given_rejected_deal_processed_cleanly_next_run_then_rejection_is_cleared(store: StateStore) -> None:
    record(store, rejected(spec("d7")), rejected(spec("d8")))
    record(store, created(spec("d7"), "T-7"))

    assert store.retry_deal_ids(SCOPE) == ["d8"]
    assert [e.crm_id for e in store.ledger_for_deals(SCOPE, ["d7"])["d7"]] == ["T-7"]


def test_given_rejected_deal_that_now_needs_nothing_then_processing_it_clears_the_rejection(store: StateStore) -> None:
    record(store, rejected(spec("d7")))
    record(store, processed_deal_ids=["d7"])

    assert store.retry_deal_ids(SCOPE) == []


def test_given_deal_with_one_rejected_and_one_created_task_then_it_stays_on_the_retry_list(store: StateStore) -> None:
    record(store, created(spec("d7", "kickoff"), "T-1"), rejected(spec("d7", "onboarding")))

    assert store.retry_deal_ids(SCOPE) == ["d7"]
    assert [r.key for r in store.rejected(SCOPE)] == [key("d7", "onboarding")]


def test_given_dry_run_then_outcomes_are_recorded_but_no_state_changes(store: StateStore) -> None:
    run_id = store.start_run(SCOPE, "sync", dry_run=True)
    store.commit_page(SCOPE, "sync", run_id, [created(spec()), rejected(spec("d7"))], {}, Cursor(modified=T0, deal_id="d7"))

    assert len(store.run_records(run_id)) == 2
    assert store.ledger_for_deals(SCOPE, ["d1"]) == {}
    assert store.rejected(SCOPE) == []
    assert store.get_cursor(SCOPE, "sync") is None


def test_given_page_committed_then_results_and_cursor_move_together(store: StateStore) -> None:
    run_id = store.start_run(SCOPE, "sync")
    store.commit_page(SCOPE, "sync", run_id, [created(spec())], {key("d1"): "fp"}, Cursor(modified=T0, deal_id="d1"),
                      touch_point_of=parse)

    assert store.get_cursor(SCOPE, "sync") == Cursor(modified=T0, deal_id="d1")
    assert store.known_deal_ids(SCOPE, ["d1", "d2"]) == {"d1"}


def test_given_page_with_revisits_then_stored_and_processed_deals_without_one_lose_theirs(store: StateStore) -> None:
    store.set_revisits(SCOPE, {"d1": T0, "d2": T0, "d3": T0})
    run_id = store.start_run(SCOPE, "sync")
    store.commit_page(SCOPE, "sync", run_id, [], {}, None, processed_deal_ids=["d1", "d2"],
                      revisits={"d1": T0 + dt.timedelta(days=365)})

    assert store.due_revisits(SCOPE, T0) == ["d3"]  # d2 was planned without a revisit; d3 not seen
    assert store.due_revisits(SCOPE, T0 + dt.timedelta(days=365)) == ["d3", "d1"]


def test_given_afterclose_task_keys_then_touch_point_and_cycle_come_from_the_key(store: StateStore) -> None:
    run_id = store.start_run(SCOPE, "sync")
    store.record_results(SCOPE, run_id, [created(spec("d1", "renewal_call", cycle=3))], {})

    [entry] = store.ledger_for_deals(SCOPE, ["d1"])["d1"]
    assert (entry.touch_point, entry.cycle) == ("renewal_call", 3)


def test_given_page_that_fails_midway_then_neither_results_nor_cursor_are_stored(store: StateStore) -> None:
    store.set_cursor(SCOPE, "sync", Cursor(modified=T0, deal_id="d0"))
    run_id = store.start_run(SCOPE, "sync")

    def broken_parser(task_key: str) -> tuple[str, int]:
        raise RuntimeError("key format changed")

    with pytest.raises(RuntimeError):
        store.commit_page(SCOPE, "sync", run_id, [created(spec())], {}, Cursor(modified=T0 + dt.timedelta(hours=1), deal_id="d1"),
                          touch_point_of=broken_parser)

    assert store.get_cursor(SCOPE, "sync") == Cursor(modified=T0, deal_id="d0")
    assert store.run_records(run_id) == []
    assert store.ledger_for_deals(SCOPE, ["d1"]) == {}


def test_given_results_for_a_finished_run_then_refused(store: StateStore) -> None:
    run_id = store.start_run(SCOPE, "sync")
    store.finish_run(run_id, RunOutcome.OK)
    with pytest.raises(ValueError, match="already finished"):
        store.record_results(SCOPE, run_id, [created(spec())], {})


# -- reading the ledger --------------------------------------------------------------------------


def test_given_entries_for_many_deals_then_ledger_is_grouped_per_deal_in_cycle_order(store: StateStore) -> None:
    results = [created(spec(f"d{n}", "renewal_call", cycle=2), f"T{n}-2") for n in range(1200)]
    results += [created(spec("d5", "renewal_call", cycle=1), "T5-1"), created(spec("d5", "kickoff"), "T5-0")]
    record(store, *results)

    ledger = store.ledger_for_deals(SCOPE, [f"d{n}" for n in range(1300)])
    assert len(ledger) == 1200
    assert [(e.touch_point, e.cycle) for e in ledger["d5"]] == [("kickoff", 0), ("renewal_call", 1), ("renewal_call", 2)]
    assert store.known_deal_ids(SCOPE, ["d5", "d1199", "nope"]) == {"d5", "d1199"}
    assert store.ledger_for_deals("salesforce:other", ["d5"]) == {}


def test_given_state_lost_when_tasks_relearnt_from_crm_then_ledger_is_rebuilt(store: StateStore) -> None:
    refs = [
        TaskRef(key=key("d1", "kickoff"), crm_id="T-1", deal_id="d1", due_at=T0, status=TaskStatus.COMPLETED),
        TaskRef(key=key("d1", "renewal_call", 3), crm_id="T-2", deal_id="d1", due_at=T0 + dt.timedelta(days=300)),
        TaskRef(key=key("d2"), crm_id="T-3", deal_id=None),  # unknown deal: cannot be placed
    ]
    assert store.learn(SCOPE, refs, parse) == 2

    entries = {e.key: e for e in store.ledger_for_deals(SCOPE, ["d1"])["d1"]}
    assert entries[key("d1", "kickoff")].status is EntryStatus.COMPLETED
    renewal = entries[key("d1", "renewal_call", 3)]
    assert (renewal.crm_id, renewal.cycle, renewal.status, renewal.fingerprint) == ("T-2", 3, EntryStatus.OPEN, None)


def test_given_known_entry_when_relearnt_then_crm_wins_and_fingerprint_is_kept(store: StateStore) -> None:
    record(store, created(spec(), "T-old"), fingerprints={key("d1"): "fp-1"})
    store.learn(SCOPE, [TaskRef(key=key("d1"), crm_id="T-new", deal_id="d1", due_at=T0 + dt.timedelta(days=1))], parse)

    [entry] = store.ledger_for_deals(SCOPE, ["d1"])["d1"]
    assert (entry.crm_id, entry.due_at, entry.fingerprint) == ("T-new", T0 + dt.timedelta(days=1), "fp-1")


# -- run history ---------------------------------------------------------------------------------


def test_given_finished_run_then_history_has_outcome_counts_api_calls_and_times(store: StateStore, clock: Clock) -> None:
    run_id = store.start_run(SCOPE, "sync")
    clock.advance(seconds=42)
    store.finish_run(run_id, RunOutcome.REJECTED, {"created": 3, "rejected": 1},
                     CallStats(by_endpoint={"deals.search": 2, "tasks.batch_create": 1}))

    [run] = store.recent_runs(SCOPE)
    assert (run.id, run.job, run.dry_run, run.outcome) == (run_id, "sync", False, RunOutcome.REJECTED)
    assert (run.started_at, run.finished_at) == (T0, T0 + dt.timedelta(seconds=42))
    assert run.counts == {"created": 3, "rejected": 1}
    assert (run.api_calls, run.api_calls_by_endpoint) == (3, {"deals.search": 2, "tasks.batch_create": 1})


def test_given_failed_run_then_error_text_is_kept(store: StateStore) -> None:
    run_id = store.start_run(SCOPE, "sync")
    store.finish_run(run_id, "failed", {}, 7, error="AuthError: token expired (provider=hubspot, status=401)")

    [run] = store.recent_runs()
    assert (run.outcome, run.api_calls, run.error) == (RunOutcome.FAILED, 7, "AuthError: token expired (provider=hubspot, status=401)")


def test_given_runs_in_two_scopes_then_recent_runs_are_newest_first_and_filterable(store: StateStore, clock: Clock) -> None:
    ids = []
    for scope in (SCOPE, "salesforce:acme", SCOPE):
        ids.append(store.start_run(scope, "sync"))
        clock.advance(minutes=15)

    assert [r.id for r in store.recent_runs()] == ids[::-1]
    assert [r.id for r in store.recent_runs(SCOPE)] == [ids[2], ids[0]]
    assert [r.id for r in store.recent_runs(limit=1)] == [ids[2]]
    assert store.recent_runs(SCOPE)[0].outcome is None  # still running


def test_given_run_finished_twice_or_unknown_then_refused(store: StateStore) -> None:
    run_id = store.start_run(SCOPE, "sync")
    store.finish_run(run_id, RunOutcome.OK)
    with pytest.raises(ValueError, match="already finished"):
        store.finish_run(run_id, RunOutcome.FAILED)
    with pytest.raises(ValueError, match="does not exist"):
        store.finish_run(run_id + 100, RunOutcome.OK)
    with pytest.raises(ValueError):
        store.finish_run(store.start_run(SCOPE, "sync"), "great")


def test_given_old_runs_when_pruned_then_they_and_their_records_are_gone(store: StateStore, clock: Clock) -> None:
    old = record(store, created(spec()))
    store.finish_run(old, RunOutcome.OK)
    clock.advance(days=100)
    new = record(store, created(spec("d2")))
    store.finish_run(new, RunOutcome.OK)

    assert store.prune_runs(before=T0 + dt.timedelta(days=90)) == 1
    assert [r.id for r in store.recent_runs()] == [new]
    assert store.run_records(old) == []
    assert store.ledger_for_deals(SCOPE, ["d1"])  # the ledger is not history: it stays


# -- revisits ------------------------------------------------------------------------------------


def test_given_revisits_then_only_due_ones_are_returned_earliest_first(store: StateStore) -> None:
    store.set_revisits(SCOPE, {"d1": T0 + dt.timedelta(days=10), "d2": T0 - dt.timedelta(days=1),
                               "d3": dt.datetime(2025, 3, 1, 10, 0, tzinfo=BERLIN_SUMMER)})  # 08:00 UTC

    assert store.due_revisits(SCOPE, T0) == ["d2", "d3"]
    assert store.due_revisits(SCOPE, T0 + dt.timedelta(days=10)) == ["d2", "d3", "d1"]
    assert store.due_revisits("salesforce:other", T0 + dt.timedelta(days=10)) == []


def test_given_revisit_moved_or_cleared_then_the_new_time_applies(store: StateStore) -> None:
    store.set_revisits(SCOPE, {"d1": T0, "d2": T0})
    store.set_revisits(SCOPE, {"d1": T0 + dt.timedelta(days=365), "d2": None})

    assert store.due_revisits(SCOPE, T0 + dt.timedelta(days=1)) == []
    assert store.due_revisits(SCOPE, T0 + dt.timedelta(days=365)) == ["d1"]


def test_given_naive_datetime_then_refused_instead_of_guessing_its_zone(store: StateStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.set_revisits(SCOPE, {"d1": dt.datetime(2025, 3, 1, 9)})
    with pytest.raises(ValueError, match="timezone-aware"):
        store.due_revisits(SCOPE, dt.datetime(2025, 3, 1, 9))
