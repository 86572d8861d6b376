"""The overlapped run (jobs/sync/writer.py ``PageWriter``): page k's writes are under way while page k+1
is read and decided. What a user would notice if the overlap were wrong:

- a deal a rep edits while the run is going, after the run handled it, keeps its old tasks
  (the edit is lost: the run's cursor moves past it);
- a deal whose write-back never reads back as written keeps a run busy forever;
- when one page's writes fail, a later page moves the cursor past the failed one, and its tasks
  are never made.

Each scenario runs on the in-memory CRM (connector/fake/), whose scan, like HubSpot's search
walk, meets a changed deal again later in the same walk, and on one sandbox: Salesforce, whose
query is a snapshot that only the deal stream's repeat pass sees past, where the two CRMs differ;
HubSpot for the failed page, which is the page writer's business alone.
"""

from __future__ import annotations

import datetime as dt

import pytest

from connector.actions import CreateTask, UpdateRecord
from connector.errors import RetriableError
from connector.sandbox.demo import scaled_dataset
from jobs import sync
from jobs.core import planner
from jobs.state import StateStore
from tests.reliability.crm import ANCHOR, open_crm
from tests.reliability.runs import run_here, scope_of

LIVE_WALK_AND_SNAPSHOT = ["fake", "salesforce"]


def data():
    return scaled_dataset(80, anchor=ANCHOR, seed=11)


def first_renewal_deal(actions) -> str | None:
    return next((a.deal_id for a in actions
                 if isinstance(a, CreateTask) and a.spec.touch_point.startswith("renewal")), None)


@pytest.mark.parametrize("provider", LIVE_WALK_AND_SNAPSHOT)
def test_given_rep_moves_renewal_date_of_a_deal_already_written_when_run_goes_on_then_its_tasks_follow_the_edit(
        provider, tmp_path):
    edit: dict[str, str] = {}
    with open_crm(provider, data(), page_size=20) as crm:
        adapter = crm.adapter()
        apply = adapter.apply

        def apply_then_rep_edits(actions):
            results = apply(actions)
            deal_id = first_renewal_deal(actions)
            if not edit and deal_id is not None:
                # The rep edits the deal after its tasks were written, while the run goes on.
                moved = dt.date.fromisoformat(crm.field(deal_id, "renewal_date")) + dt.timedelta(days=35)
                crm.set_field(deal_id, "renewal_date", moved.isoformat())
                edit.update(deal_id=deal_id, renewal_date=moved.isoformat())
            return results

        adapter.apply = apply_then_rep_edits
        try:
            run_here(crm, f"sqlite:///{tmp_path / 'edited.db'}", adapter=adapter)
        finally:
            adapter.close()
        after_run = crm.snapshot()
    assert edit, "no renewal task was created in the data set"
    with open_crm(provider, data(), page_size=20) as clean:
        clean.set_field(edit["deal_id"], "renewal_date", edit["renewal_date"])
        run_here(clean, f"sqlite:///{tmp_path / 'clean.db'}")
        expected = clean.snapshot()
    assert after_run.duplicates == 0
    assert after_run.differences(expected) == []


@pytest.mark.parametrize("provider", LIVE_WALK_AND_SNAPSHOT)
def test_given_write_back_that_never_reads_back_as_written_then_run_ends_and_next_run_reads_the_deal_again(
        provider, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    decided: dict[str, int] = {}
    plan = planner.plan

    def counting_plan(deals, *args, **kwargs):
        for deal in deals:
            decided[deal.id] = decided.get(deal.id, 0) + 1
        return plan(deals, *args, **kwargs)

    with open_crm(provider, data(), page_size=20) as crm:
        adapter = crm.adapter()
        apply = adapter.apply
        troubled: list[str] = []

        def apply_then_workflow_resets(actions):
            if len(decided) > 10 * len(data().deals):
                raise AssertionError("the run keeps deciding the same deals")
            results = apply(actions)
            if not troubled:
                troubled.extend(a.deal_id for a in actions if isinstance(a, UpdateRecord))
            for action in actions:
                if isinstance(action, UpdateRecord) and action.deal_id == troubled[0]:
                    # A CRM workflow undoes AfterClose's write-back on this deal every time:
                    # the deal comes back on every pass, never as AfterClose wrote it.
                    written = action.update.values["handoff_status"]
                    undone = "incomplete" if written == "complete" else "complete"
                    crm.set_field(troubled[0], "handoff_status", undone)
            return results

        adapter.apply = apply_then_workflow_resets
        planner.plan = counting_plan
        try:
            first = run_here(crm, store_url, adapter=adapter)
        finally:
            planner.plan = plan
            adapter.close()
        again = run_here(crm, store_url)
        final = crm.snapshot()
    assert not first.stopped_early
    assert decided[troubled[0]] == sync.DECISIONS_PER_DEAL
    # The cursor stayed before the deal that kept coming back: the next run reads and fixes it.
    assert troubled[0] in {a.deal_id for a in again.plan_actions}
    assert final.duplicates == 0


@pytest.mark.parametrize("provider", ["fake", "hubspot"])
def test_given_one_page_of_writes_fails_while_the_next_is_under_way_then_cursor_stays_before_it_and_nothing_is_lost(
        provider, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    clean_state = _clean_run_state(provider, tmp_path)
    with open_crm(provider, data(), page_size=20) as crm:
        adapter = crm.adapter()
        apply = adapter.apply
        pages: list[set[str]] = []

        def second_page_fails(actions):
            pages.append({a.deal_id for a in actions})
            if len(pages) == 2:
                raise RetriableError("the CRM went away for one page", provider=provider)
            return apply(actions)

        adapter.apply = second_page_fails
        try:
            with pytest.raises(RetriableError):
                run_here(crm, store_url, adapter=adapter)
        finally:
            adapter.close()
        again = run_here(crm, store_url)
        final = crm.snapshot()
    assert len(pages) >= 3, "the page after the failed one was not under way"
    # Every deal of the failed page is read again by the next run: the cursor did not pass it.
    assert pages[1] <= {a.deal_id for a in again.plan_actions}
    assert final.duplicates == 0
    assert final.differences(clean_state) == []


def _clean_run_state(provider: str, tmp_path):
    with open_crm(provider, data(), page_size=20) as clean:
        run_here(clean, f"sqlite:///{tmp_path / 'clean.db'}")
        return clean.snapshot()


class _CommitFailsOnce:
    """The state store, except that the ``fail_on``-th page commit fails the way a full disk
    does (an error raised by the database, the process alive): the run's other commits go on."""

    def __init__(self, store: StateStore, fail_on: int):
        self._store, self._fail_on = store, fail_on
        self.cursors: list = []
        """The cursor each commit was asked to store (None: the page does not move it)."""

    def __getattr__(self, name):
        return getattr(self._store, name)

    def commit_page(self, *args, **kwargs):
        self.cursors.append(kwargs.get("cursor"))
        if len(self.cursors) == self._fail_on:
            import sqlite3

            from sqlalchemy.exc import OperationalError

            raise OperationalError("INSERT INTO afterclose_run_records ...", {},
                                   sqlite3.OperationalError("database or disk is full"))
        return self._store.commit_page(*args, **kwargs)


@pytest.mark.parametrize("provider", ["fake", "hubspot", "salesforce"])
def test_given_a_page_commit_fails_while_later_pages_are_in_flight_then_no_later_page_moves_the_cursor(
        provider, tmp_path):
    """The state store refuses one page (disk full), the process lives on: the pages whose writes
    were already under way are recorded without moving the cursor, the run stops, and the next
    run reads the refused page again."""
    from jobs.core.playbook import DEFAULT_PLAYBOOK
    from jobs.state import open_store
    from tests.reliability.crm import NOW

    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    clean_state = _clean_run_state(provider, tmp_path)
    with open_crm(provider, data(), page_size=20) as crm:
        adapter = crm.adapter()
        try:
            with open_store(store_url) as real_store:
                store = _CommitFailsOnce(real_store, fail_on=2)
                with pytest.raises(Exception, match="disk is full"):
                    sync.run_sync(sync.SyncJob(scope=scope_of(crm), adapter=adapter, store=store,
                                               fieldmap=crm.fieldmap, playbook=DEFAULT_PLAYBOOK, clock=lambda: NOW))
                kept = real_store.get_cursor(scope_of(crm), sync.JOB)
                (failed_run,) = real_store.recent_runs(scope_of(crm))
        finally:
            adapter.close()
        again = run_here(crm, store_url)
        final = crm.snapshot()
    from tests.reliability import figures

    figures.record("state_commit_failure", provider=provider, commits=len(store.cursors), failed_commit=2,
                   cursor_kept_at_page=store.cursors.index(kept) + 1 if kept in store.cursors else None,
                   next_run_deals=again.deals_seen, duplicates=final.duplicates)
    assert len(store.cursors) >= 3, "no page was recorded after the refused one"
    # The cursor is where the last page before the refused one left it: never past it.
    assert kept == store.cursors[0]
    assert failed_run.outcome == "failed" and "disk is full" in (failed_run.error or "")
    assert again.deals_seen >= 3 * 20  # pages 2 to 4 (the refused one and the two under way) read again
    assert final.duplicates == 0
    assert final.differences(clean_state) == []
