"""One run per scope: the store's lock across threads, processes and a killed holder."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from connector.errors import LockHeldError
from jobs.cli.exits import exit_code_of
from jobs.state import RunOutcome, StateStore, open_store

SCOPE = "salesforce:acme.my.salesforce.com"

# A holder in its own OS process: takes the lock, starts a run, says so, then waits to be killed.
HOLDER = """
import sys, time
from jobs.state import open_store
store = open_store(sys.argv[1])
with store.lock(sys.argv[2]):
    store.start_run(sys.argv[2], "sync")
    print("LOCKED", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def holder(store_url: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, store_url, SCOPE], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready and process.stdout.readline().strip() == "LOCKED", "the holder process did not take the lock"
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def _acquire_within(store: StateStore, scope: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with store.lock(scope):
                return True
        except LockHeldError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def test_given_lock_held_then_second_attempt_in_same_process_is_refused(store: StateStore) -> None:
    with store.lock(SCOPE):
        with pytest.raises(LockHeldError, match="acme.my.salesforce.com"), store.lock(SCOPE):
            pass
        with store.lock("hubspot:portal-1"):  # other scopes run freely
            pass
    with store.lock(SCOPE):  # released on exit
        pass


def test_given_lock_held_by_another_store_then_refused(store_url: str, store: StateStore) -> None:
    with open_store(store_url) as other, other.lock(SCOPE), pytest.raises(LockHeldError), store.lock(SCOPE):
        pass


def test_given_body_raises_then_lock_is_released(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.lock(SCOPE):
        raise RuntimeError("run failed")
    with store.lock(SCOPE):
        pass


def test_given_lock_held_by_another_process_then_error_names_scope_and_holder(
    store: StateStore, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(LockHeldError) as caught, store.lock(SCOPE):
        pass
    message = str(caught.value)
    assert SCOPE in message and f"pid {holder.pid}" in message
    assert exit_code_of(caught.value) == 3


def test_given_holder_killed_then_lock_is_free_and_its_run_is_marked_abandoned(
    store: StateStore, holder: subprocess.Popen[str]
) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)

    assert _acquire_within(store, SCOPE, seconds=10), "the lock outlived its killed holder"
    [run] = store.recent_runs(SCOPE)
    assert run.outcome is RunOutcome.FAILED and run.error.startswith("abandoned")


def test_given_own_run_started_before_the_lock_then_it_is_not_marked_abandoned(store: StateStore) -> None:
    run_id = store.start_run(SCOPE, "sync")
    with store.lock(SCOPE):
        pass
    store.finish_run(run_id, RunOutcome.OK)
    assert store.recent_runs(SCOPE)[0].outcome is RunOutcome.OK
