"""The sync job end to end: an adapter, the demo data set, a real state store and a fixed clock, so
the playbook's work is the same every time.

The job's logic runs on the in-memory CRM (connector/fake/): no socket, and the same port
contract as both sandboxes (tests/contract/). Each guarantee the README's table cites from this
file also runs on a sandbox with the real adapter and SDK, the two vendors taking turns; the
reliability suite (tests/reliability/) runs the crash, state-loss and overlap guarantees on both.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import threading
from pathlib import Path

import pytest

from connector.errors import LockHeldError, RetriableError, SchemaError
from connector.mapping import builtin_mapping, load_mapping
from connector.model import RecordKind
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.state import SqlStateStore, StateStore
from jobs.state import open_store as open_sqlite_store
from jobs.sync import RELEARN, SyncJob, run_sync
from tests.contract.conftest import CRMS, open_crm_harness
from tests.streams import read_deals

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
FAKE_PAGE_SIZE = 10


def on(*crms: str):
    """Run the test on these CRMs: "fake" (in memory), "hubspot" (the sandbox as a portal that
    refuses unique task properties and as one that grants them), "salesforce"."""
    names = [name for crm in crms for name in CRMS if name.partition("-")[0] == crm]
    return pytest.mark.parametrize("harness", names, indirect=True)


def write_calls(h) -> int:
    return h.write_calls()


@pytest.fixture
def harness(request):
    """The CRM with the demo data (an entry of ``CRMS``), and its adapter with the built-in mapping
    (after `afterclose setup` created AfterClose's own fields)."""
    name = request.param
    provider = name.partition("-")[0]
    fieldmap = load_mapping(builtin_mapping("hubspot" if provider == "fake" else provider))
    # The fake pages the demo's 36 won deals ten at a time: runs of several pages, for free.
    with open_crm_harness(name, fieldmap=fieldmap, **({"page_size": FAKE_PAGE_SIZE} if name == "fake" else {})) as h:
        h.adapter.setup()
        yield h


def new_job(h, store: StateStore, clock=lambda: NOW) -> SyncJob:
    return SyncJob(scope=f"{h.provider}:test", adapter=h.adapter, store=store, fieldmap=h.adapter.fieldmap,
                   playbook=DEFAULT_PLAYBOOK, clock=clock)


@pytest.fixture
def store_path(tmp_path) -> Path:
    return tmp_path / "state.db"


def open_store(path: Path) -> StateStore:
    return open_sqlite_store(f"sqlite:///{path}")


def keys_in_crm(h) -> collections.Counter:
    return collections.Counter(t.key for t in h.tasks() if t.key)


def crm_state(h) -> dict:
    return {t.key: (t.due_date, t.owner_id, t.deal_id, t.company_id, t.contact_id, t.status)
            for t in h.tasks() if t.key}


@on("fake", "hubspot", "salesforce")
def test_given_demo_crm_when_run_twice_then_second_run_writes_nothing_and_no_task_is_duplicated(harness, store_path):
    with open_store(store_path) as store:
        first = run_sync(new_job(harness, store))
        assert first.outcomes["created"] > 100
        assert max(keys_in_crm(harness).values()) == 1
        writes_before = write_calls(harness)
        second = run_sync(new_job(harness, store))
    assert second.outcomes.get("created", 0) == 0 and second.outcomes.get("updated", 0) == 0
    # Only the records the CRM rejected (inactive owner) are tried again.
    assert {r.action.deal_id for r in second.rejected} == {r.action.deal_id for r in first.rejected}
    retried = len(second.rejected)
    assert write_calls(harness) - writes_before <= 1 if retried else write_calls(harness) == writes_before


@on("fake")
def test_given_incomplete_handoff_then_status_written_and_one_handoff_task_lists_missing_fields(harness, store_path):
    with open_store(store_path) as store:
        run_sync(new_job(harness, store))
    incomplete = [d for d in harness.won_deal_ids() if harness.field(d, "handoff_status") == "incomplete"]
    assert incomplete
    for deal_id in incomplete:
        assert harness.field(deal_id, "handoff_missing")
        handoff_tasks = [t for t in harness.tasks() if t.deal_id == deal_id and ":handoff_incomplete:" in (t.key or "")]
        assert len(handoff_tasks) <= 1
    complete = [d for d in harness.won_deal_ids() if harness.field(d, "handoff_status") == "complete"]
    assert complete and all(not harness.field(d, "handoff_missing") for d in complete)


@on("fake")
def test_given_handoff_completed_in_crm_then_handoff_task_is_closed_and_status_flips(harness, store_path):
    with open_store(store_path) as store:
        run_sync(new_job(harness, store))
        deal_id = next(d for d in sorted(harness.won_deal_ids())
                       if harness.field(d, "handoff_missing") == "Decision criteria")
        harness.set_field(deal_id, "decision_criteria", "Total cost over three years and SSO")
        run_sync(new_job(harness, store))
    assert harness.field(deal_id, "handoff_status") == "complete"
    statuses = [t.status for t in harness.tasks() if t.deal_id == deal_id and ":handoff_incomplete:" in t.key]
    assert statuses == ["completed"]


@on("fake", "hubspot", "salesforce")
def test_given_state_store_deleted_when_run_again_then_no_duplicate_and_no_rewrite(harness, store_path):
    with open_store(store_path) as store:
        run_sync(new_job(harness, store))
    before = crm_state(harness)
    store_path.unlink()
    writes_before = write_calls(harness)
    with open_store(store_path) as store:
        again = run_sync(new_job(harness, store))
        assert store.get_flag(f"{harness.provider}:test", RELEARN) is None  # the full pass completed
    assert max(keys_in_crm(harness).values()) == 1
    assert crm_state(harness) == before
    assert again.outcomes.get("created", 0) == 0 and again.outcomes.get("updated", 0) == 0
    assert write_calls(harness) - writes_before <= 1  # at most the inactive owner's retry batch


@on("fake", "hubspot", "salesforce")
def test_given_tasks_rewritten_by_afterclose_when_state_store_deleted_then_relearnt_without_a_rewrite(
        harness, store_path):
    # A task AfterClose rewrote ends with its "Updated by AfterClose on <day>" note, which the plan
    # of a fresh store does not carry: re-learning must not take that note for a rep's edit and
    # rewrite the task (the same text, the note re-dated) on the day after.
    with open_store(store_path) as store:
        run_sync(new_job(harness, store))
        deal_id = next(d for d in sorted(harness.won_deal_ids())
                       if "Decision criteria" in (harness.field(d, "handoff_missing") or ""))
        harness.set_field(deal_id, "decision_criteria", "Total cost over three years, SSO and audit logs")
        rewritten = run_sync(new_job(harness, store))
    assert rewritten.outcomes.get("updated", 0) >= 1  # rewritten, each with the note at its end
    before = crm_state(harness)
    store_path.unlink()
    writes_before = write_calls(harness)
    with open_store(store_path) as store:
        again = run_sync(new_job(harness, store, clock=lambda: NOW + dt.timedelta(days=1)))
    assert again.outcomes.get("updated", 0) == 0 and again.outcomes.get("created", 0) == 0
    assert crm_state(harness) == before
    assert write_calls(harness) - writes_before <= 1  # at most the inactive owner's retry batch


@on("fake", "hubspot")
def test_given_crash_after_crm_write_before_ledger_write_when_run_again_then_same_state_as_clean_run(
        harness, store_path, monkeypatch):
    with open_store(store_path) as store:
        original = SqlStateStore.commit_page
        calls = {"n": 0}

        def crash_on_second_page(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                raise KeyboardInterrupt("killed between the CRM write and the ledger write")
            return original(self, *args, **kwargs)

        monkeypatch.setattr(SqlStateStore, "commit_page", crash_on_second_page)
        with pytest.raises(KeyboardInterrupt):
            run_sync(new_job(harness, store))
        monkeypatch.setattr(SqlStateStore, "commit_page", original)
        run_sync(new_job(harness, store))
        after_crash = crm_state(harness)
        assert max(keys_in_crm(harness).values()) == 1
        final = run_sync(new_job(harness, store))
    assert final.outcomes.get("created", 0) == 0
    assert crm_state(harness) == after_crash


@on("fake")
def test_given_answer_to_a_later_pages_writes_lost_when_run_again_then_the_crm_keys_prevent_every_duplicate(
        harness, store_path):
    first_page = {d.id for d in read_deals(harness.adapter)[0].deals}
    apply, lost, claim = harness.adapter.apply, [], threading.Lock()

    def one_later_answer_lost(actions):
        with claim:  # pages are written two at a time: exactly one loses its answer
            losing = not lost and not first_page & {a.deal_id for a in actions}
            if losing:
                lost.append(actions)
        results = apply(actions)
        if losing:  # the CRM wrote the page, the answer never came back
            raise RetriableError("answer lost", provider="fake")
        return results

    with open_store(store_path) as store:
        harness.adapter.apply = one_later_answer_lost
        with pytest.raises(RetriableError):
            run_sync(new_job(harness, store))
        harness.adapter.apply = apply
        assert store.get_cursor(f"{harness.provider}:test", "sync") is not None  # so no re-learning
        again = run_sync(new_job(harness, store))
        final = run_sync(new_job(harness, store))
    assert max(keys_in_crm(harness).values()) == 1
    assert again.outcomes["unchanged"] >= sum(1 for a in lost[0] if a.kind.value == "create_task") > 0
    assert final.outcomes.get("created", 0) == 0 and final.outcomes.get("updated", 0) == 0


@on("fake", "salesforce")
def test_given_renewal_date_moved_then_renewal_tasks_move_and_none_is_added(harness, store_path):
    with open_store(store_path) as store:
        run_sync(new_job(harness, store))
        deal_id = next(d for d in sorted(harness.won_deal_ids())
                       if harness.field(d, "handoff_status") == "complete" and harness.field(d, "renewal_date"))
        renewal = dt.date.fromisoformat(harness.field(deal_id, "renewal_date")[:10])
        before = {t.key: t.due_date for t in harness.tasks() if t.deal_id == deal_id}
        harness.set_field(deal_id, "renewal_date", (renewal + dt.timedelta(days=14)).isoformat())
        report = run_sync(new_job(harness, store))
    after = {t.key: t.due_date for t in harness.tasks() if t.deal_id == deal_id}
    assert set(after) == set(before)
    moved = {k for k in after if after[k] != before[k]}
    assert moved and all(":renewal_" in k for k in moved)
    assert report.outcomes.get("created", 0) == 0


@on("fake")
def test_given_deal_lost_after_tasks_were_made_then_its_open_tasks_are_closed(harness, store_path):
    with open_store(store_path) as store:
        run_sync(new_job(harness, store))
        deal_id = next(d for d in sorted(harness.won_deal_ids()) if harness.field(d, "handoff_status") == "complete")
        harness.mark_lost(deal_id)
        run_sync(new_job(harness, store))
    statuses = {t.status for t in harness.tasks() if t.deal_id == deal_id}
    assert statuses == {"completed"}


@on("fake", "hubspot")
def test_given_inactive_owner_then_run_reports_rejections_and_keeps_them_for_retry(harness, store_path):
    with open_store(store_path) as store:
        report = run_sync(new_job(harness, store))
        assert report.exit_code == 1
        assert report.rejected and all(r.message for r in report.rejected)
        kept = store.rejected(f"{harness.provider}:test")
    assert {r.key for r in kept} == {r.action.key for r in report.rejected}


@on("fake", "salesforce")
def test_given_fallback_owner_when_deal_owner_has_left_then_their_tasks_are_made_for_the_fallback(harness, store_path):
    with open_store(store_path) as store:
        refused = run_sync(new_job(harness, store)).rejected
        left = {r.action.deal_id for r in refused}
        lead = next(t.owner_id for t in harness.tasks() if t.owner_id and t.deal_id not in left)
        job = dataclasses.replace(new_job(harness, store), playbook=dataclasses.replace(DEFAULT_PLAYBOOK,
                                                                                       fallback_owner=lead))
        again = run_sync(job)
        assert store.rejected(f"{harness.provider}:test") == []
    assert refused and again.rejected == [] and again.outcomes["created"] == len(refused)
    assert {t.owner_id for t in harness.tasks() if t.deal_id in left} == {lead}


@on("fake", "hubspot")
def test_given_dry_run_then_plan_is_full_and_crm_sees_no_write_call(harness, store_path):
    with open_store(store_path) as store:
        report = run_sync(new_job(harness, store), dry_run=True)
        assert store.recent_runs(None) == []
    assert len(report.plan_actions) > 100
    assert write_calls(harness) == 0
    assert not [t for t in harness.tasks() if t.key]


@on("fake")
def test_given_another_run_holds_the_lock_then_run_refuses_with_lock_held(harness, store_path):
    with open_store(store_path) as store, store.lock(f"{harness.provider}:test"):
        with open_store(store_path) as other, pytest.raises(LockHeldError):
            run_sync(new_job(harness, other))
    assert not [t for t in harness.tasks() if t.key]


@on("fake")
def test_given_mapping_points_at_missing_field_then_run_stops_before_any_write(harness, store_path):
    harness.sandbox.remove_field(RecordKind.DEAL, "customer_goal")  # an admin deleted it in the CRM
    with open_store(store_path) as store, pytest.raises(SchemaError) as raised:
        run_sync(new_job(harness, store))
    assert "customer_goal -> deal.customer_goal: field does not exist" in str(raised.value)
    assert write_calls(harness) == 0


def renewal_tasks(h, deal_id: str) -> dict:
    return {t.key: (t.due_date, t.subject) for t in h.tasks() if t.deal_id == deal_id and ":renewal_" in (t.key or "")}


@on("fake", "hubspot", "salesforce")
def test_given_crash_after_crm_write_and_renewal_date_moved_before_the_replay_then_every_renewal_task_moves(
        harness, store_path, monkeypatch):
    """Issue 15.4: a deal won after the last run gets its tasks, the run is killed before it records
    them, a rep moves the renewal date, and the replay must not adopt the tasks as they are: it
    compares them with the plan (due date and text) and updates them, as an uninterrupted run would."""
    deal_id = next(d for d in sorted(harness.won_deal_ids()) if harness.field(d, "renewal_date"))
    harness.mark_lost(deal_id)
    with open_store(store_path) as store:
        run_sync(new_job(harness, store))
        assert not renewal_tasks(harness, deal_id)
        harness.mark_won(deal_id)
        original = SqlStateStore.commit_page

        def crash_before_recording(self, *args, **kwargs):
            raise KeyboardInterrupt("killed between the CRM write and the ledger write")

        monkeypatch.setattr(SqlStateStore, "commit_page", crash_before_recording)
        with pytest.raises(KeyboardInterrupt):
            run_sync(new_job(harness, store))
        monkeypatch.setattr(SqlStateStore, "commit_page", original)
        before = renewal_tasks(harness, deal_id)
        assert len(before) == 4
        renewal = harness.field(deal_id, "renewal_date")[:10]
        moved_to = (dt.date.fromisoformat(renewal) + dt.timedelta(days=14)).isoformat()
        harness.set_field(deal_id, "renewal_date", moved_to)
        run_sync(new_job(harness, store))
        after = renewal_tasks(harness, deal_id)
        again = run_sync(new_job(harness, store))
    assert set(after) == set(before)
    moved = [k for k in before if after[k][0] == before[k][0] + dt.timedelta(days=14)]
    assert len(moved) == 4, f"{len(moved)} of 4 renewal tasks moved"
    naming_the_date = [k for k in before if renewal in before[k][1]]
    assert naming_the_date and all(moved_to in after[k][1] and renewal not in after[k][1] for k in naming_the_date)
    assert max(keys_in_crm(harness).values()) == 1
    assert again.outcomes.get("updated", 0) == 0 and again.outcomes.get("created", 0) == 0


@pytest.mark.parametrize("crm", ["hubspot-refuse", "hubspot-grant"])
def test_given_crash_after_crm_write_and_deal_lost_before_the_replay_then_its_tasks_end_up_closed(
        crm, store_path, monkeypatch):
    """The replay does not plan the lost deal's tasks again, so nothing would ever look at the
    tasks the crashed run made: the create journal still names them, the run looks them up, and
    the next run closes them, as it would have after an uninterrupted run."""
    with open_crm_harness(crm, fieldmap=load_mapping(builtin_mapping("hubspot"))) as h, \
            open_store(store_path) as store:
        h.adapter.setup()
        deal_id = next(d for d in sorted(h.won_deal_ids()) if h.field(d, "renewal_date"))
        h.mark_lost(deal_id)
        run_sync(new_job(h, store))
        h.mark_won(deal_id)
        original = SqlStateStore.commit_page
        monkeypatch.setattr(SqlStateStore, "commit_page", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
        with pytest.raises(KeyboardInterrupt):
            run_sync(new_job(h, store))
        monkeypatch.setattr(SqlStateStore, "commit_page", original)
        made = {t.key for t in h.tasks() if t.deal_id == deal_id}
        assert made and store.creates_in_doubt(f"{h.provider}:test")
        h.mark_lost(deal_id)
        run_sync(new_job(h, store))
        assert not store.creates_in_doubt(f"{h.provider}:test")
        run_sync(new_job(h, store))
        statuses = {t.key: t.status for t in h.tasks() if t.deal_id == deal_id}
    assert set(statuses) == made and set(statuses.values()) == {"completed"}
    assert max(keys_in_crm(h).values()) == 1


@pytest.mark.parametrize("crm", ["hubspot-refuse", "hubspot-grant"])
def test_given_state_store_lost_and_renewal_date_moved_when_relearnt_then_due_dates_and_text_follow_the_plan(
        crm, store_path):
    """Re-learning compares each task found with the plan: a moved renewal date moves the tasks
    and rewrites the text that names it; nothing is created twice."""
    with open_crm_harness(crm, fieldmap=load_mapping(builtin_mapping("hubspot"))) as h:
        h.adapter.setup()
        with open_store(store_path) as store:
            run_sync(new_job(h, store))
        deal_id = next(d for d in sorted(h.won_deal_ids()) if h.field(d, "renewal_date")
                       and len(renewal_tasks(h, d)) == 4)
        before = renewal_tasks(h, deal_id)
        renewal = h.field(deal_id, "renewal_date")[:10]
        moved_to = (dt.date.fromisoformat(renewal) + dt.timedelta(days=14)).isoformat()
        store_path.unlink()
        h.set_field(deal_id, "renewal_date", moved_to)
        with open_store(store_path) as store:
            relearnt = run_sync(new_job(h, store))
            again = run_sync(new_job(h, store))
        after = renewal_tasks(h, deal_id)
    assert set(after) == set(before) and max(keys_in_crm(h).values()) == 1
    assert all(after[k][0] == before[k][0] + dt.timedelta(days=14) for k in before)
    naming = [k for k in before if renewal in before[k][1]]
    assert naming and all(moved_to in after[k][1] for k in naming)
    assert relearnt.outcomes.get("created", 0) == 0 and relearnt.outcomes["updated"] >= 4
    assert {a.deal_id for a in relearnt.plan_actions if a.kind.value == "update_task"} == {deal_id}
    assert again.outcomes.get("updated", 0) == 0


@on("fake", "hubspot", "salesforce")
def test_given_a_touch_point_removed_from_the_playbook_then_the_next_run_retires_its_open_tasks_on_every_deal(
        harness, store_path):
    # No deal changes: only the playbook does. Without planning every won deal again, the removed
    # touch point's open tasks would stay open on every deal a rep does not happen to edit.
    with open_store(store_path) as store:
        run_sync(new_job(harness, store))
        open_before = _open_keys(harness, "value_review_30")
        assert open_before, "the demo data has open 30-day value reviews"
        lighter = dataclasses.replace(DEFAULT_PLAYBOOK, touch_points=tuple(
            tp for tp in DEFAULT_PLAYBOOK.touch_points if tp.id != "value_review_30"))
        changed = run_sync(SyncJob(scope=f"{harness.provider}:test", adapter=harness.adapter, store=store,
                                   fieldmap=harness.adapter.fieldmap, playbook=lighter, clock=lambda: NOW))
        assert changed.replanned_all and changed.deals_seen >= len({d for d, _ in open_before})
        again = run_sync(SyncJob(scope=f"{harness.provider}:test", adapter=harness.adapter, store=store,
                                 fieldmap=harness.adapter.fieldmap, playbook=lighter, clock=lambda: NOW))
    assert not _open_keys(harness, "value_review_30")  # noted, then closed: none is left open
    assert not again.replanned_all and again.deals_seen <= 1  # at most the inactive owner's deal, retried
    assert again.outcomes.get("updated", 0) == 0 and again.outcomes.get("created", 0) == 0


def _open_keys(h, touch_point: str) -> set[tuple[str, str]]:
    return {(t.deal_id, t.key) for t in h.tasks() if f":{touch_point}:" in (t.key or "") and t.status == "open"}


@on("fake", "hubspot", "salesforce")
def test_given_tasks_due_in_an_hour_the_clocks_skip_when_the_state_store_is_lost_then_relearnt_unchanged(
        harness, store_path):
    # New York, 8 March 2026: 02:00 never happens. A task due then is due when the clocks jump;
    # read back from the CRM by a fresh store it must compare as the same due time, not be moved.
    from jobs.core.touch_points import TouchPointRule

    deals = [d for page in read_deals(harness.adapter) for d in page.deals if d.is_won and d.close_date]
    deal = min(deals, key=lambda d: d.id)
    rule = TouchPointRule(id="check", title="Check-in", anchor="close",
                          offset_days=(dt.date(2026, 3, 8) - deal.close_date).days)
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, touch_points=(rule,), timezone="America/New_York", due_hour=2,
                                   workdays=frozenset(range(7)))

    def job(store):
        return SyncJob(scope=f"{harness.provider}:test", adapter=harness.adapter, store=store,
                       fieldmap=harness.adapter.fieldmap, playbook=playbook, clock=lambda: NOW)

    with open_store(store_path) as store:
        run_sync(job(store))
    due = {t.due_date for t in harness.tasks() if t.deal_id == deal.id and ":check:" in (t.key or "")}
    assert due == {dt.date(2026, 3, 8)}
    before = crm_state(harness)
    store_path.unlink()
    writes = write_calls(harness)
    with open_store(store_path) as store:
        again = run_sync(job(store))
    assert again.outcomes.get("updated", 0) == 0 and again.outcomes.get("created", 0) == 0
    assert crm_state(harness) == before
    assert write_calls(harness) - writes <= 1  # at most the inactive owner's retry batch
