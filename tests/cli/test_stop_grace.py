"""SIGTERM against a slow CRM: `run` and `serve` are gone within ``[server] stop_grace_seconds``
(default 20 s, under Kubernetes' default grace of 30 s), having recorded what had landed.

A page's writes are many calls; against a CRM answering in seconds, finishing every write under
way took longer than a platform waits (33 s measured, against a CRM answering in 1 s). Past the
grace the platform kills the process anyway, which loses nothing (tests/reliability kills runs
with kill -9); stopping in time means the run's own record says how it ended.
"""

from __future__ import annotations

import signal
import time

import pytest

from connector.sandbox.demo import scaled_dataset
from jobs.state import open_store
from tests.cli.conftest import invoke, start_cli
from tests.reliability import figures

GRACE = 4.0
TEARDOWN = 2.0
"""Seconds a Python process takes to start its exit and be reaped, on top of the grace."""


def _serve_config(crm, grace: float | None):
    from tests.cli.test_serve import free_port

    server = f'[server]\nport = {free_port()}\n' + ('' if grace is None else f'stop_grace_seconds = {grace}\n')
    return crm.config(f'[schedule]\nsync = "0 0 1 1 *"\n{server}[log]\nformat = "json"\n')


def _run_config(crm, grace: float | None):
    server = "" if grace is None else f"[server]\nstop_grace_seconds = {grace}\n"
    return crm.config(server + '[log]\nformat = "json"\n')


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _stop_and_time(process) -> tuple[float, str, str]:
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    return time.monotonic() - sent, out, err


@pytest.mark.parametrize("provider, command", [("hubspot", "run"), ("salesforce", "run"), ("hubspot", "serve")])
def test_given_the_crm_turns_slow_while_a_page_is_written_when_sigterm_then_gone_within_the_grace_with_the_run_recorded(
        open_crm, provider, command):
    crm = open_crm(provider, scaled_dataset(600), **({"page_size": 200} if provider == "salesforce" else {}))
    config = (_serve_config if command == "serve" else _run_config)(crm, GRACE)
    assert invoke("setup", "--config", config).exit_code == 0
    before = crm.write_calls()
    process = start_cli(command, "--config", config, *(["--run-now"] if command == "serve" else []))
    _wait_for(lambda: crm.write_calls() > before, 60, "the first write of the run")
    crm.sandbox.controls.latency = 3.0  # the CRM now answers every call in 3 s
    took, out, err = _stop_and_time(process)
    crm.sandbox.controls.latency = 0.0
    figures.record("stop_grace", provider=provider, command=command, grace=GRACE, latency=3.0,
                   seconds_to_exit=round(took, 2))

    assert process.returncode in ((0,) if command == "serve" else (0, 1)), err[-2000:]
    assert took <= GRACE + TEARDOWN, f"{took:.1f} s from SIGTERM to exit (grace {GRACE} s)"
    with open_store(crm.state_url) as store:
        (run,) = store.recent_runs(crm.scope)
    assert run.finished_at is not None and run.outcome in ("ok", "rejected"), run
    if command == "run":
        assert "stopped early (SIGTERM)" in out
    # What was not recorded is read again: the next run ends with one task per key.
    assert invoke("run", "--config", _run_config(crm, None)).exit_code in (0, 1)
    keys = crm.task_keys()
    assert len(keys) == len(set(keys)) > 0


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_a_crm_answering_in_1_s_when_sigterm_mid_run_then_gone_within_the_default_20_s(open_crm, provider):
    pages = {"page_size": 500} if provider == "salesforce" else {}
    crm = open_crm(provider, scaled_dataset(2500), latency=1.0, **pages)
    config = _run_config(crm, None)
    assert invoke("setup", "--config", config).exit_code == 0
    process = start_cli("run", "--config", config)
    with open_store(crm.state_url) as store:
        _wait_for(lambda: (crm.tmp / "state.db").exists() and store.get_cursor(crm.scope, "sync") is not None,
                  300, "the first page to be recorded")
    took, out, err = _stop_and_time(process)
    figures.record("stop_grace", provider=provider, command="run", grace=20, latency=1.0,
                   seconds_to_exit=round(took, 2))
    assert process.returncode in (0, 1), err[-2000:]
    assert took <= 20 + TEARDOWN, f"{took:.1f} s from SIGTERM to exit"
    assert "stopped early (SIGTERM)" in out
