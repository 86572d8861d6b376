"""Scope flags and schedule slots, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing

from jobs.state import open_store

UTC = dt.UTC
TICK = dt.datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def test_given_flag_set_then_it_reads_back_per_scope_and_clears(store_url):
    with open_store(store_url) as store:
        store.set_flag("hubspot:a", "relearn", "until-full-pass")
        assert store.get_flag("hubspot:a", "relearn") == "until-full-pass"
        assert store.get_flag("hubspot:b", "relearn") is None
        store.set_flag("hubspot:a", "relearn", "again")
        assert store.get_flag("hubspot:a", "relearn") == "again"
        store.set_flag("hubspot:a", "relearn", None)
        assert store.get_flag("hubspot:a", "relearn") is None


def test_given_tick_claimed_then_second_claim_of_same_tick_fails_but_next_tick_succeeds(store_url):
    with open_store(store_url) as store:
        assert store.claim_slot("salesforce:acme", "sync", TICK) is True
        assert store.claim_slot("salesforce:acme", "sync", TICK) is False
        assert store.claim_slot("salesforce:acme", "nps", TICK) is True
        assert store.claim_slot("salesforce:acme", "sync", TICK + dt.timedelta(minutes=15)) is True


def _claim(url: str, results) -> None:
    with open_store(url) as store:
        results.put(store.claim_slot("hubspot:shared", "sync", TICK))


def test_given_two_replicas_claiming_one_tick_at_once_then_exactly_one_wins(store_url):
    open_store(store_url).close()  # migrate once, before the race
    results = multiprocessing.get_context("spawn").Queue()
    workers = [multiprocessing.get_context("spawn").Process(target=_claim, args=(store_url, results))
               for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sorted(results.get(timeout=5) for _ in workers) == [False, True]
