"""jobs/sync/overlap.py: the read-ahead and the background writes the sync's overlap relies on."""

from __future__ import annotations

import threading

import pytest

from jobs.sync.overlap import BackgroundWrites, read_ahead


def test_given_writes_handed_over_but_not_started_yet_then_wait_idle_waits_for_them_too():
    gate, done = threading.Event(), []

    def apply(actions):
        gate.wait(5)
        done.append(actions)
        return actions

    writes = BackgroundWrites(apply, at_once=1)
    first, second = writes.submit(["page 1"]), writes.submit(["page 2"])  # page 2 queues behind page 1
    waiter = threading.Thread(target=writes.wait_idle)
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive(), "wait_idle returned while writes were still under way"
    gate.set()
    waiter.join(5)
    assert not waiter.is_alive()
    assert done == [["page 1"], ["page 2"]] and (first.result(), second.result()) == (["page 1"], ["page 2"])
    writes.close()


def test_given_failing_write_then_its_future_raises_and_wait_idle_still_returns():
    def apply(actions):
        raise RuntimeError("CRM went away")

    writes = BackgroundWrites(apply)
    future = writes.submit(["page"])
    writes.wait_idle()
    with pytest.raises(RuntimeError, match="CRM went away"):
        future.result()
    writes.close()


def test_given_producer_fails_midway_then_consumer_gets_every_item_before_it_then_the_error():
    def pages():
        yield 1
        yield 2
        raise ValueError("page 3 cannot be read")

    got = []
    with pytest.raises(ValueError, match="page 3"):
        for item in read_ahead(pages(), 1):
            got.append(item)
    assert got == [1, 2]


def test_given_consumer_stops_early_then_producer_stops_too():
    produced = []

    def pages():
        for n in range(1_000):
            produced.append(n)
            yield n

    for item in read_ahead(pages(), 2):
        if item == 3:
            break
    assert len(produced) <= 3 + 2 + 2  # what was taken, the queue's depth, one in hand
