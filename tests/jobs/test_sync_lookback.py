"""The HubSpot cursor's look-back: a search index that shows an earlier edit after a later one.

HubSpot's search index shows writes "with delay" and promises no order (facts §3;
docs/hubspot-api-notes.md). Deal A is won, its index update comes 8 s late; deal B is edited a
moment later and indexed at once; a run in between sees B, not A, and its cursor passes A. Each
pull therefore reads from ``cursor - [hubspot] search_lookback_seconds``, and deals met again in
that window that did not change since AfterClose last handled them are skipped before enrichment
(docs/hubspot-adapter.md "The look-back"). The sandbox's clock only moves when a test says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections import Counter

import pytest

from connector.mapping import builtin_mapping, load_mapping
from connector.model import Cursor
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.state import open_store
from jobs.sync import SyncJob, run_sync
from jobs.sync import job as sync_job
from tests.contract.harness import is_write_label
from tests.contract.hubspot_harness import hubspot_harness
from tests.jobs.test_sync_e2e import NOW
from tests.sandbox.hubspot_fixtures import FakeClock

SEARCH = "POST /crm/v3/objects/deals/search"
LATE = 8.0
PAGE = 10
"""Search page size for the tests that count search pages (the window then spans several)."""


@contextlib.contextmanager
def portal(tmp_path, *, lookback: float | None = None, page_size: int | None = None, **sandbox_options):
    """The demo portal (36 won deals) on a clock that moves when told; ``page_size`` shrinks the
    search pages so that a window spans several."""
    clock = FakeClock()
    settings = {} if lookback is None else {"search_lookback_seconds": lookback}
    adapter_options = {} if page_size is None else {"page_size": page_size}
    with hubspot_harness(fieldmap=load_mapping(builtin_mapping("hubspot")), settings=settings,
                         sandbox_options={"clock": clock, **sandbox_options}, **adapter_options) as h, \
            open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        h.adapter.setup()
        yield h, store, clock


def run(h, store):
    return run_sync(SyncJob(scope="hubspot:test", adapter=h.adapter, store=store, fieldmap=h.adapter.fieldmap,
                            playbook=DEFAULT_PLAYBOOK, clock=lambda: NOW))


def settled(h, store) -> None:
    """The first runs: every won deal handled. The demo's deals owned by a deactivated user are
    refused on every run (and retried on the next); they get an active owner, so that later runs
    have nothing to retry and count only what this file is about."""
    first = run(h, store)
    refused = {r.action.deal_id for r in first.rejected}
    active = next(r["properties"]["hubspot_owner_id"] for r in h.sandbox.records("deals")
                  if r["id"] in h.won_deal_ids() and r["id"] not in refused)
    for deal_id in sorted(refused):
        h.sandbox.edit("deals", deal_id, {"hubspot_owner_id": active})
    again = run(h, store)
    assert not again.rejected, again.rejected


def deals_with_tasks(h) -> set[str]:
    return {t.deal_id for t in h.tasks() if t.key}


def not_won(h) -> list[str]:
    """Deals AfterClose never handled: not won, no write-back."""
    return sorted((r["id"] for r in h.sandbox.records("deals")
                   if r["id"] not in h.won_deal_ids() and not r["properties"].get("handoff_status")), key=int)


def later_edit(h, deal_id: str) -> None:
    time.sleep(0.005)  # a later hs_lastmodifieddate (milliseconds of wall time) than the edit before
    h.set_field(deal_id, "customer_goal", f"goal edited at {time.time()}")


def calls_of(h, during) -> Counter:
    before = Counter(h.sandbox.controls.snapshot())
    result = during()
    return result, Counter(h.sandbox.controls.snapshot()) - before


def test_given_a_win_indexed_after_a_later_edit_when_a_run_falls_between_then_the_next_run_makes_its_tasks(tmp_path):
    with portal(tmp_path) as (h, store, clock):
        settled(h, store)
        deal_a, deal_b = not_won(h)[0], sorted(h.won_deal_ids(), key=int)[0]
        h.sandbox.delay_search_index("deals", deal_a, LATE)
        h.mark_won(deal_a)
        later_edit(h, deal_b)
        between = run(h, store)
        assert deal_a not in deals_with_tasks(h) and between.deals_seen >= 1  # B seen, A not yet searchable
        clock.advance(LATE + 1)
        after = run(h, store)
        assert deal_a in deals_with_tasks(h), "the cursor passed deal A while search did not show it yet"
        assert after.outcomes["created"] >= 1 and after.deals_seen == 1  # A alone: nothing else changed


def test_given_no_look_back_then_the_late_win_is_lost(tmp_path):
    """The negative control: the same story with the look-back off loses deal A for good."""
    with portal(tmp_path, lookback=0) as (h, store, clock):
        settled(h, store)
        deal_a, deal_b = not_won(h)[0], sorted(h.won_deal_ids(), key=int)[0]
        h.sandbox.delay_search_index("deals", deal_a, LATE)
        h.mark_won(deal_a)
        later_edit(h, deal_b)
        run(h, store)
        clock.advance(LATE + 1)
        run(h, store)
        assert deal_a not in deals_with_tasks(h)


def test_given_nothing_changed_then_a_rerun_costs_only_the_windows_search_pages_and_decides_nothing(tmp_path):
    with portal(tmp_path, page_size=PAGE) as (h, store, clock):
        settled(h, store)  # its write-backs are the newest changes: inside the window
        cursor = store.get_cursor("hubspot:test", "sync")
        window = Cursor(modified=cursor.modified - h.adapter.tuning.lookback)
        stamps, scan = calls_of(h, lambda: [s for page in h.adapter.scan(window) for s in page])
        report, calls = calls_of(h, lambda: run(h, store))
    assert len(stamps) > PAGE, "the window must span several search pages here"
    assert report.deals_seen == 0 and not report.outcomes
    assert sum(n for label, n in calls.items() if is_write_label(label)) == 0
    # The searches a walk over the window alone makes (keyset paging re-reads a page's last
    # timestamp, so a page of 10 brings fewer than 10 new deals), and no other deal call.
    assert calls[SEARCH] == scan[SEARCH]
    assert set(calls) == {SEARCH}, f"nothing but the window's search pages: {dict(calls)}"


@pytest.mark.parametrize("seed", [3, 11])
def test_given_every_write_indexed_with_a_random_lag_then_every_won_deal_gets_its_tasks(tmp_path, seed):
    """Out-of-order indexing for every write (``search_lag_max``, seeded): deals won one after
    another, runs in between while the index catches up in any order."""
    with portal(tmp_path, search_lag=0.0, search_lag_max=LATE, seed=seed) as (h, store, clock):
        settled(h, store)
        clock.advance(LATE + 1)
        won = not_won(h)[:6]
        for deal_id in won:
            time.sleep(0.005)
            h.mark_won(deal_id)
            clock.advance(1.0)
            run(h, store)
        clock.advance(LATE + 1)
        run(h, store)
        assert set(won) <= deals_with_tasks(h)
        writes = sum(n for label, n in h.sandbox.controls.snapshot().items() if is_write_label(label))
        clock.advance(LATE + 1)
        # The write-backs the last run made reached search after it ended: this run meets them past
        # its cursor (as without a look-back) and writes nothing; the one after meets nothing at all.
        assert not run(h, store).outcomes
        clock.advance(LATE + 1)
        assert run(h, store).deals_seen == 0
        assert sum(n for label, n in h.sandbox.controls.snapshot().items() if is_write_label(label)) == writes


def test_given_a_quiet_portal_then_the_window_is_read_until_it_has_settled_and_then_no_more(tmp_path, monkeypatch):
    """A window read by a run that began two look-backs after its cursor saw every change before
    that cursor; from then on, with nothing changed, a run costs one search again. A new change
    moves the cursor and brings the window back."""
    with portal(tmp_path, page_size=PAGE) as (h, store, clock):
        settled(h, store)
        _, reading = calls_of(h, lambda: run(h, store))
        assert reading[SEARCH] > 1, "the first run's write-backs fill the window"
        lookback = dt.timedelta(seconds=h.adapter.settings.search_lookback_seconds)
        later = dt.datetime.now(dt.UTC) + 2 * lookback
        monkeypatch.setattr(sync_job, "_wall_clock", lambda: later)
        _, settling = calls_of(h, lambda: run(h, store))  # reads the window once more, late enough
        quiet, calls = calls_of(h, lambda: run(h, store))
        assert settling[SEARCH] == reading[SEARCH] and calls[SEARCH] == 1
        assert quiet.deals_seen == 0 and set(calls) == {SEARCH}
        monkeypatch.undo()
        deal_a, deal_b = not_won(h)[0], sorted(h.won_deal_ids(), key=int)[0]
        h.sandbox.delay_search_index("deals", deal_a, LATE)
        h.mark_won(deal_a)
        later_edit(h, deal_b)
        run(h, store)
        clock.advance(LATE + 1)
        run(h, store)
        assert deal_a in deals_with_tasks(h), "a moved cursor reads its window again"
