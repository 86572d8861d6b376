"""Issue 14, "done when": on a HubSpot portal that refuses unique task properties (the sandbox's
default), one that accepts them but reads them back without (ignore), and one that grants them,
the real CLI runs setup, check, plan, run, a kill -9 in the middle of a run followed by run, run
again, and a run after the state database is deleted, with zero duplicate tasks; setup, check and
status say which mode the portal is in.

The kill lands while a task create is in flight and slow: HubSpot carries it out after the
process is dead. The settle delay (5 s) covers that; the replay looks the tasks up before it sends
any create again.
"""

from __future__ import annotations

import collections
import os
import signal
import time

import pytest

from tests.cli.conftest import invoke, start_cli

CREATE = "POST /crm/v3/objects/tasks/batch/create"
SLOW_CREATE = 2.0
SETTLE = "settle_seconds = 5\n"  # above SLOW_CREATE, with room for a busy machine


def duplicates(crm) -> int:
    return sum(n - 1 for n in collections.Counter(crm.task_keys()).values() if n > 1)


def wait_for(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


@pytest.mark.parametrize("mode, said", [
    ("refuse", "non-unique task keys"), ("grant", "unique task keys"),
    # After setup an `ignore` portal behaves as `refuse` (setup itself is in tests/contract/test_hubspot_schema.py)
    pytest.param("ignore", "non-unique task keys", marks=pytest.mark.slow),
])
def test_given_a_portal_in_each_task_uniqueness_mode_when_the_cli_runs_through_crashes_and_state_loss_then_no_duplicate(
        mode, said, open_crm):
    crm = open_crm("hubspot", task_uniqueness=mode, afterclose_properties=False)
    config = crm.config(connection=crm.connection().replace("settle_seconds = 0\n", SETTLE))

    setup = invoke("setup", "--config", config)
    assert setup.exit_code == 0 and f"task keys: {said}" in setup.output, setup.output
    check = invoke("check", "--config", config)
    assert check.exit_code == 0 and f"task keys: {said}" in check.output, check.output
    assert invoke("plan", "--config", config).exit_code == 0 and crm.task_keys() == []

    crm.sandbox.controls.add_fault("slow", endpoint=CREATE, count=1, seconds=SLOW_CREATE)
    killed = start_cli("run", "--config", config)
    wait_for(lambda: crm.calls().get(CREATE, 0) >= 1)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=10)
    assert killed.returncode == -signal.SIGKILL

    first = invoke("run", "--config", config)
    assert first.exit_code in (0, 1), first.output
    wait_for(lambda: crm.sandbox.controls.rules[0].fired == 1)
    time.sleep(SLOW_CREATE)  # the slow create the dead process sent has been carried out by now
    again = invoke("run", "--config", config)
    assert again.exit_code in (0, 1) and "created" not in again.output, again.output
    keys = collections.Counter(crm.task_keys())
    assert keys and duplicates(crm) == 0

    status = invoke("status", "--config", config)
    assert f"task keys: {said}" in status.output, status.output

    state = crm.tmp / "state.db"
    for leftover in crm.tmp.glob("state.db*"):
        leftover.unlink()
    assert not state.exists()
    after_loss = invoke("run", "--config", config)
    assert after_loss.exit_code in (0, 1), after_loss.output
    assert "created" not in after_loss.output and "updated" not in after_loss.output, after_loss.output
    assert collections.Counter(crm.task_keys()) == keys
