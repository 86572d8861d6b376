"""The versions deals were handled in, on SQLite and PostgreSQL: kept with the cursor, read back
for a look-back window, forgotten once no look-back reaches them (jobs/state/deal_versions.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.model import Cursor
from jobs.state import open_store

UTC = dt.UTC
SCOPE = "hubspot:portal-123"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BERLIN = dt.timezone(dt.timedelta(hours=1))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_given_a_page_moves_the_cursor_then_its_versions_are_kept_and_read_back_from_a_window(store_url):
    with open_store(store_url) as store:
        run_id = store.start_run(SCOPE, "sync")
        store.commit_page(SCOPE, "sync", run_id, [], None, Cursor(modified=at(30), deal_id="3"),
                          handled={"1": at(10), "2": at(20), "3": at(30)})
        store.commit_page(SCOPE, "sync", run_id, [], None, Cursor(modified=at(40), deal_id="1"),
                          handled={"1": at(40)})  # met again in a newer version
        other = store.start_run("hubspot:portal-9", "sync")
        store.commit_page("hubspot:portal-9", "sync", other, [], None, Cursor(modified=at(5)), handled={"1": at(5)})
        assert store.deal_versions(SCOPE, at(15)) == {"1": at(40), "2": at(20), "3": at(30)}
        assert store.deal_versions(SCOPE, at(25)) == {"1": at(40), "3": at(30)}
        assert store.deal_versions(SCOPE, at(25).astimezone(BERLIN)) == {"1": at(40), "3": at(30)}
        assert store.deal_versions("hubspot:portal-9", T0) == {"1": at(5)}


def test_given_a_page_that_does_not_move_the_cursor_then_no_version_is_kept(store_url):
    """A page whose cursor is held back (a failed or deferred write before it) is met again next
    run: keeping its versions would make the look-back skip deals that still need deciding."""
    with open_store(store_url) as store:
        run_id = store.start_run(SCOPE, "sync")
        store.commit_page(SCOPE, "sync", run_id, [], None, None, handled={"1": at(10)})
        assert store.deal_versions(SCOPE, T0) == {}


def test_given_a_dry_run_then_no_version_is_kept(store_url):
    with open_store(store_url) as store:
        run_id = store.start_run(SCOPE, "sync", dry_run=True)
        store.commit_page(SCOPE, "sync", run_id, [], None, Cursor(modified=at(10)), handled={"1": at(10)})
        assert store.deal_versions(SCOPE, T0) == {}


def test_given_versions_older_than_the_window_then_they_are_forgotten_in_that_scope_only(store_url):
    with open_store(store_url) as store:
        for scope in (SCOPE, "hubspot:portal-9"):
            run_id = store.start_run(scope, "sync")
            store.commit_page(scope, "sync", run_id, [], None, Cursor(modified=at(30)),
                              handled={"1": at(10), "2": at(30)})
        assert store.forget_deal_versions(SCOPE, at(20)) == 1
        assert store.deal_versions(SCOPE, T0) == {"2": at(30)}
        assert store.deal_versions("hubspot:portal-9", T0) == {"1": at(10), "2": at(30)}


def test_given_a_naive_time_then_refused_naming_it(store_url):
    with open_store(store_url) as store:
        with pytest.raises(ValueError, match="since"):
            store.deal_versions(SCOPE, dt.datetime(2026, 3, 2, 9, 0))
        run_id = store.start_run(SCOPE, "sync")
        with pytest.raises(ValueError, match="handled"):
            store.commit_page(SCOPE, "sync", run_id, [], None, Cursor(modified=at(1)),
                              handled={"1": dt.datetime(2026, 3, 2, 9, 0)})


def test_given_versions_kept_then_the_scope_holds_state_and_moves_with_it(store_url):
    with open_store(store_url) as store:
        run_id = store.start_run("hubspot:api.hubapi.com", "sync")
        store.commit_page("hubspot:api.hubapi.com", "sync", run_id, [], None, Cursor(modified=at(1)),
                          handled={"1": at(1)})
        store.move_scope("hubspot:api.hubapi.com", SCOPE)
        assert store.deal_versions(SCOPE, T0) == {"1": at(1)}
        assert store.deal_versions("hubspot:api.hubapi.com", T0) == {}
