"""HubSpot without unique task keys, when its reads lag: the settle delay (docs/hubspot-adapter.md).

A create whose answer is lost, or whose run is killed before it records the answer, is looked up
on its deal before it is sent again. If HubSpot's association reads lagged, a lookup made too soon
would miss the task and the create would duplicate it; the settle delay keeps lookups back until
the create is old enough to show. These tests make the sandbox's association reads lag and show
both sides: a settle delay covering the lag gives no duplicate; none gives a duplicate (so the
tests can fail); a delay longer than a run may wait defers the deals to the next run, which then
finishes the work.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from connector.sandbox.demo import scaled_dataset
from jobs.state import open_store
from tests.reliability import figures
from tests.reliability.crm import ANCHOR, open_crm
from tests.reliability.runs import run_child, run_here, scope_of

LAG = 1.0
DATA = scaled_dataset(120, anchor=ANCHOR, seed=17)
KILL = {"point": "after_apply", "n": 4}
"""The fourth page's writes landed, the first page is recorded (so the replay reads on from its
cursor: the keys in doubt are the create journal's, not a re-learning pass's)."""


def reference(tmp_path):
    with open_crm("hubspot-refuse", DATA, page_size=20) as crm:
        run_here(crm, f"sqlite:///{tmp_path / 'reference.db'}")
        return crm.snapshot()


@contextlib.contextmanager
def killed_after_the_crm_write_then_replayed(tmp_path, *, settle: float, max_wait: float = 120.0, lag: float = LAG):
    """Yields the CRM, the replay run, and how to run again; the sandbox lives until the end."""
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_crm("hubspot-refuse", DATA, page_size=20, settle_seconds=settle,
                  association_read_lag=lag) as crm:
        settings = crm.settings_values(settle_max_wait_seconds=max_wait)
        killed = run_child(crm, store_url, tmp_path, kill=KILL, settings=crm.settings_values())
        assert killed.crashed
        with open_store(store_url) as store:
            assert store.get_cursor(scope_of(crm), "sync") is not None and store.creates_in_doubt(scope_of(crm))
        replay = run_child(crm, store_url, tmp_path, settings=settings)
        yield crm, replay, lambda: run_child(crm, store_url, tmp_path, settings=settings), store_url


# The negative control's lag is long enough that the replay, a fresh process on a busy machine,
# certainly looks before the killed run's tasks show; the settle delay is what a test of it needs.
@pytest.mark.parametrize("settle, lag, duplicates_expected", [(LAG + 0.5, LAG, False), (0.0, 10 * LAG, True)],
                         ids=["settle-covers-the-lag", "no-settle-delay"])
def test_given_association_reads_lag_when_killed_between_crm_write_and_state_write_then_duplicates_only_without_settle(
        settle, lag, duplicates_expected, tmp_path):
    expected = reference(tmp_path)
    with killed_after_the_crm_write_then_replayed(tmp_path, settle=settle, lag=lag) as (crm, replay, _again, _url):
        after = crm.snapshot()
    figures.record("settle", association_read_lag=lag, settle_seconds=settle, duplicates=after.duplicates,
                   replay_exit=replay.exit_code)
    assert replay.exit_code in (0, 1), replay.result
    if duplicates_expected:
        assert after.duplicates > 0, "the lagging read should have missed the tasks the killed run made"
    else:
        assert after.duplicates == 0
        assert after == expected, "\n".join(after.differences(expected))


def test_given_settle_delay_longer_than_a_run_may_wait_when_replayed_then_deferred_and_the_next_run_finishes(tmp_path):
    expected = reference(tmp_path)
    settle = 6.0  # well past the replay's start-up, however busy the machine
    with killed_after_the_crm_write_then_replayed(tmp_path, settle=settle, max_wait=0.2) as (crm, replay, again, url):
        assert replay.exit_code == 0 and replay.result["outcomes"].get("deferred", 0) > 0, replay.result
        assert crm.snapshot().duplicates == 0
        with open_store(url) as store:
            assert store.creates_in_doubt(scope_of(crm)), "deferred creates stay in the journal for the next run"
        time.sleep(settle)
        final = again()
        after = crm.snapshot()
    assert final.exit_code in (0, 1) and final.result["outcomes"].get("deferred", 0) == 0, final.result
    assert after.duplicates == 0
    assert after == expected, "\n".join(after.differences(expected))


def test_given_state_store_deleted_moments_after_a_run_while_reads_lag_then_relearnt_without_duplicate(tmp_path):
    state = tmp_path / "state.db"
    with open_crm("hubspot-refuse", DATA, page_size=20, settle_seconds=LAG + 0.5, association_read_lag=LAG,
                  search_lag=LAG) as crm:
        run_here(crm, f"sqlite:///{state}")
        before = crm.snapshot()
        state.unlink()
        writes = crm.write_calls()
        again = run_here(crm, f"sqlite:///{state}")
        after = crm.snapshot()
        assert after.duplicates == 0
        assert after == before, "\n".join(after.differences(before))
        assert again.outcomes.get("created", 0) == 0 and again.outcomes.get("updated", 0) == 0
        assert crm.write_calls() - writes <= len(again.rejected)


def test_given_store_lost_and_settle_longer_than_a_run_may_wait_then_deals_deferred_until_reads_settle(tmp_path):
    state = tmp_path / "state.db"
    settle = 6.0  # well past the next run's start-up, however busy the machine
    with open_crm("hubspot-refuse", DATA, page_size=20, settle_seconds=settle, association_read_lag=LAG) as crm:
        run_here(crm, f"sqlite:///{state}")
        before = crm.snapshot()
        state.unlink()
        writes = crm.write_calls()
        waiting = crm.adapter(settle_max_wait_seconds=0.2)
        try:
            deferred = run_here(crm, f"sqlite:///{state}", adapter=waiting)
        finally:
            waiting.close()
        assert deferred.deferred == deferred.deals_seen > 0 and crm.write_calls() == writes
        time.sleep(settle)
        again = run_here(crm, f"sqlite:///{state}")
        after = crm.snapshot()
    assert after.duplicates == 0 and after == before, "\n".join(after.differences(before))
    assert again.outcomes.get("created", 0) == 0 and again.outcomes.get("updated", 0) == 0
