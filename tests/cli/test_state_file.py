"""A state database that cannot be used as it is: a corrupt or truncated SQLite file, a cursor in
the future or one that cannot be read. Every command names the file, says what is wrong and what
is safe to do, and exits 2; none of them says "internal error"."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from connector.model import Cursor
from jobs.state import open_store
from tests.cli.conftest import invoke

COMMANDS = ("check", "run", "status")


def _first_run(crm) -> tuple:
    config = crm.config()
    invoke("setup", "--config", config)
    assert invoke("run", "--config", config).exit_code in (0, 1)
    scope = json.loads(invoke("status", "--config", config, "--format", "json").stdout)["scope"]
    return config, scope


def _garbage(path) -> None:
    path.write_bytes(b"this is not a database, a disk went bad here\n" * 200)


def _truncated(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("damage", [_garbage, _truncated], ids=["garbage", "truncated"])
def test_given_a_corrupt_state_file_when_any_command_runs_then_exit_2_names_the_file_and_what_is_safe(
        hubspot, damage):
    config, _ = _first_run(hubspot)
    state = hubspot.tmp / "state.db"
    damage(state)
    writes = hubspot.write_calls()
    for command in COMMANDS:
        result = invoke(command, "--config", config)
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
        assert str(state) in result.stderr, (command, result.stderr)
        assert "move it aside" in result.stderr and "by their keys" in result.stderr, result.stderr
    assert hubspot.write_calls() == writes


def test_given_a_cursor_in_the_future_when_check_then_it_is_reported_and_exit_2(hubspot):
    config, scope = _first_run(hubspot)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    with open_store(hubspot.state_url) as store:
        store.set_cursor(scope, "sync", Cursor(modified=future, deal_id="1"))
    result = invoke("check", "--config", config)
    assert result.exit_code == 2, result.stderr
    assert "sync cursor" in result.stderr and "in the future" in result.stderr
    assert future.date().isoformat() in result.stderr


def test_given_an_unreadable_cursor_when_check_or_run_then_it_is_named_and_exit_2(hubspot):
    config, scope = _first_run(hubspot)
    with sqlite3.connect(hubspot.tmp / "state.db") as conn:
        conn.execute("UPDATE afterclose_cursors SET modified = 'yesterday-ish' WHERE scope = ? AND job = 'sync'",
                     (scope,))
    for command in ("check", "run"):
        result = invoke(command, "--config", config)
        assert result.exit_code == 2, (command, result.stderr)
        assert "sync cursor" in result.stderr and "cannot be read" in result.stderr, result.stderr
        assert str(hubspot.tmp / "state.db") in result.stderr
        assert "internal error" not in result.stderr
