"""`afterclose run`: one pass against a CRM, and the exit codes scripts rely on.

What the command itself decides (its output, exit codes, config errors) runs on the in-memory CRM;
credentials, networks, signals and the lock between two processes run on the sandboxes."""

from __future__ import annotations

import collections
import os
import signal
import time
from pathlib import Path

import pytest

from jobs.state import open_store
from tests.cli.conftest import invoke, on, run_cli, start_cli

INACTIVE_OWNER_DEAL = "Orphaned Account Co"
"""The demo deal whose owner is deactivated: the CRM refuses its tasks, every run."""


@on("fake", "hubspot", "salesforce")
def test_given_demo_crm_when_setup_then_run_then_exit_1_lists_rejected_deal_by_name_and_nothing_doubles(crm):
    config = crm.config()
    assert invoke("setup", "--config", config).exit_code == 0
    first = invoke("run", "--config", config)
    assert first.exit_code == 1, first.stderr
    assert "sync run 1:" in first.stdout and "created" in first.stdout
    rejected = [line for line in first.stdout.splitlines() if line.strip().startswith("rejected:")]
    assert rejected and all(INACTIVE_OWNER_DEAL in line and "(kept, retried next run)" in line for line in rejected)
    keys = crm.task_keys()
    assert len(keys) > 100 and max(collections.Counter(keys).values()) == 1

    second = invoke("run", "--config", config)
    assert second.exit_code == 1  # the same refused records, tried again
    assert "created" not in second.stdout.splitlines()[0]
    assert sorted(crm.task_keys()) == sorted(keys)


def test_given_every_record_accepted_when_run_then_exit_0(fake):
    config = fake.config()
    invoke("setup", "--config", config)
    fake.mark_lost(fake.deal_id(INACTIVE_OWNER_DEAL))  # never won: no task for its owner
    result = invoke("run", "--config", config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "rejected" not in result.stdout


def test_given_hubspot_without_a_field_sync_needs_when_run_then_exit_2_names_mapping_key_and_field_writes_nothing(
        hubspot):
    hubspot.sandbox.delete_property("deals", "decision_criteria")
    result = invoke("run", "--config", hubspot.config())
    assert result.exit_code == 2
    assert "decision_criteria -> deals.decision_criteria" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert hubspot.write_calls() == 0


def test_given_wrong_token_when_run_then_exit_2_names_credential_keys_without_traceback(crm):
    result = run_cli("run", "--config", crm.config(token="not-the-sandbox-token"))
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("afterclose: ") and "refused the credentials" in message
    assert ("hubspot.access_token" if crm.provider == "hubspot" else "[salesforce] login keys") in message
    assert "Traceback" not in result.stderr
    assert crm.write_calls() == 0


def test_given_crm_unreachable_when_run_then_exit_2_names_the_url_key(hubspot, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = f'[hubspot]\nbase_url = "http://127.0.0.1:{port}"\naccess_token = "pat-test-000000"\n'
    result = run_cli("run", "--config", hubspot.config(connection=dead))
    assert result.returncode == 2, result.stderr
    assert "cannot reach the CRM" in result.stderr and "hubspot.base_url" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("extra, key", [
    ('[schedule]\nsync = "every monday"\n', "schedule.sync"),
    ("[playbok]\ndue_hour = 9\n", "playbok"),
    ("[playbook]\ndue_hour = 31\n", "playbook.due_hour"),
])
def test_given_bad_config_when_run_then_exit_2_names_file_and_key(fake, extra, key):
    config = fake.config(extra)
    result = invoke("run", "--config", config)
    assert result.exit_code == 2
    assert str(config) in result.stderr and key in result.stderr
    assert fake.total_calls() == 0


def test_given_missing_config_file_when_run_then_exit_2_names_the_file(tmp_path):
    result = invoke("run", "--config", tmp_path / "nowhere.toml")
    assert result.exit_code == 2
    assert "nowhere.toml" in result.stderr and "not found" in result.stderr


def test_given_mapping_file_with_unknown_field_type_when_run_then_exit_2_names_mapping_file(fake, tmp_path):
    from connector.mapping import builtin_mapping

    mapping = tmp_path / "bad-mapping.toml"
    mapping.write_text(builtin_mapping("hubspot").read_text().replace('type = "date"', 'type = "calendar"', 1))
    result = invoke("run", "--config", fake.config(crm_extra=f'mapping = "{mapping}"\n'))
    assert result.exit_code == 2
    assert "bad-mapping.toml" in result.stderr and "calendar" in result.stderr
    assert "Traceback" not in result.stderr
    assert fake.total_calls() == 0


def test_given_a_run_holds_the_lock_when_second_run_starts_then_it_exits_3(open_crm):
    slow = open_crm("hubspot")
    config = slow.config()
    assert invoke("setup", "--config", config).exit_code == 0
    # Whichever run takes the lock first holds it through its task batch, which takes 4 s to
    # answer. Both processes start together: started one after the other, the second sometimes
    # reached the lock only after the first had finished on a busy 2-core machine (starting
    # Python and importing the CLI alone took that long), and the two never met.
    slow.sandbox.controls.add_fault("slow", endpoint="POST /crm/v3/objects/tasks/batch/create", seconds=4, count=1)
    runs = [start_cli("run", "--config", config) for _ in range(2)]
    outputs = [run.communicate(timeout=60) for run in runs]
    codes = [run.returncode for run in runs]
    assert sorted(codes) == [1, 3], outputs  # one finished (the inactive owner's tasks refused), one refused
    _, refused_err = outputs[codes.index(3)]
    assert "another AfterClose run holds the lock" in refused_err
    with open_store(slow.state_url) as store:
        outcomes = sorted(r.outcome.value for r in store.recent_runs(limit=5))
    # The refused run is on record too, so `status` can say a run was turned away.
    assert outcomes == ["lock_held", "rejected"]


def test_python_dash_m_jobs_is_the_same_cli():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("run", "plan", "check", "setup", "status", "serve", "demo", "sandbox"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["run", "plan", "check", "setup", "status", "serve", "demo", "sandbox"])
def test_every_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout and len(result.stdout.splitlines()) > 4


def test_given_a_terminal_then_progress_is_shown_and_when_piped_nothing_is_added():
    import datetime as dt
    import io

    from connector.model import Deal, DealPage, Provider
    from jobs.cli.runtime import CrmSession, progress_for

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    def pages():
        for n in range(3):
            deal = Deal(provider=Provider.HUBSPOT, id=str(n), name=f"Deal {n}", stage="won", is_won=True,
                        close_date=None, last_modified=dt.datetime.now(dt.UTC))
            yield DealPage(deals=(deal,), cursor=None)

    session = CrmSession(adapter=None, fieldmap=None)  # the session only watches pages here
    terminal, pipe = Tty(), io.StringIO()
    with progress_for(session, "sync", stream=terminal):
        for page in pages():
            session.observe(page)
    with progress_for(session, "sync", stream=pipe):
        for page in pages():
            session.observe(page)
    assert "sync: reading and writing" in terminal.getvalue() and "deals" in terminal.getvalue()
    assert pipe.getvalue() == ""
    assert session.deal_label("1") == "Deal 1 (1)" and session.page_of_deal == {"0": 0, "1": 1, "2": 2}


def test_given_sigterm_during_run_then_the_current_page_is_recorded_and_the_run_says_it_stopped_early(open_crm):
    from jobs.state import open_store

    org = open_crm("salesforce", page_size=5, latency=0.05)  # 36 won deals in pages of 5
    config = org.config()
    run = start_cli("run", "--config", config)
    try:
        scope = org.scope
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (org.tmp / "state.db").exists():
                with open_store(org.state_url) as store:
                    if store.get_cursor(scope, "sync"):
                        break
            time.sleep(0.05)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode in (0, 1), err
    assert "stopped early (SIGTERM)" in out
    with open_store(org.state_url) as store:
        (finished,) = store.recent_runs()
    assert finished.finished_at is not None and finished.outcome.value in ("ok", "rejected")


def test_given_mapping_file_for_the_other_crm_when_run_then_exit_2_names_the_mapping_and_provider(fake):
    from connector.mapping import builtin_mapping

    mapping = builtin_mapping("salesforce")
    result = invoke("run", "--config", fake.config(crm_extra=f'mapping = "{mapping}"\n'))
    assert result.exit_code == 2
    assert "salesforce.toml: provider: this mapping is for salesforce, but crm.provider is hubspot" in result.stderr
    assert "Traceback" not in result.stderr
    assert fake.total_calls() == 0


def test_given_refusals_on_a_deal_decided_again_at_the_end_of_the_run_then_every_refusal_is_kept_for_retry(hubspot):
    """An expansion deal is decided again once every deal was read (its customer's renewal deal
    may take over); that second decision leaves out what the CRM refused, and must not be taken
    as "nothing refused any more" for the deal: every refused record stays kept and retried."""
    import json
    import re

    hubspot.sandbox.reject("deals", hubspot.deal_id("Oceanic Air - Expansion"), "validation rule says no")
    config = hubspot.config()
    invoke("setup", "--config", config)
    run = invoke("run", "--config", config)
    assert run.exit_code == 1
    refused = set(re.findall(r"\) (\S+): validation rule says no", run.stdout))
    status = json.loads(invoke("status", "--config", config, "--format", "json").stdout)
    kept = {row["key"] for row in status["rejected"]}
    assert refused and refused <= kept, (refused, kept)


def test_given_state_lost_moments_after_a_run_on_a_non_unique_portal_then_run_says_it_deferred_the_deals(open_crm):
    # A portal without unique task keys is read back only once its reads have settled: a run
    # right after the state database was lost must not re-create tasks it cannot see yet, and
    # must say what it left for the next run rather than pass over it in silence.
    crm = open_crm("hubspot")
    connection = (f'[hubspot]\nbase_url = "{crm.endpoint.base_url}"\naccess_token = "{crm.endpoint.token}"\n'
                  "settle_seconds = 60\nsettle_max_wait_seconds = 0\n")
    config = crm.config(connection=connection)
    assert invoke("setup", "--config", config).exit_code == 0
    first = invoke("run", "--config", config)
    assert first.exit_code in (0, 1), first.stderr
    tasks_before = crm.sandbox.records("tasks")
    Path(crm.state_url.removeprefix("sqlite:///")).unlink()
    writes = crm.write_calls()
    deferred = invoke("run", "--config", config)
    assert "deferred" in deferred.stdout and "hubspot.settle_seconds" in deferred.stdout, deferred.stdout
    # Nothing failed: the deals wait for the next run, which writes them once reads settle.
    assert deferred.exit_code == 0
    assert crm.write_calls() == writes  # nothing written while the reads cannot be trusted
    assert len(crm.sandbox.records("tasks")) == len(tasks_before)
    assert "Traceback" not in deferred.stderr


def test_given_rejected_ok_when_the_crm_refuses_some_records_then_exit_0_and_the_records_are_still_listed(open_crm):
    # For a scheduler that counts any non-zero exit as a failed run (a Kubernetes CronJob): the run
    # finished, the refused records are kept and retried, and the output and `status` still say so.
    crm = open_crm("hubspot")
    config = crm.config()
    assert invoke("setup", "--config", config).exit_code == 0
    plain = invoke("run", "--config", config)
    assert plain.exit_code == 1 and "rejected:" in plain.stdout  # the demo's deactivated owner
    again = invoke("run", "--config", config, "--rejected-ok")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "rejected:" in again.stdout and "kept, retried next run" in again.stdout
    assert "rejected" in invoke("status", "--config", config).stdout.lower()


def test_given_the_real_cli_killed_while_a_salesforce_write_is_in_flight_then_the_next_run_duplicates_nothing(
        open_crm):
    # kill -9 of the real process (not the in-process driver) while an upsert of tasks is under
    # way and slow: Salesforce carries it out after the process is dead. The next run replays the
    # page; tasks are upserted by their key, so each key is one task, as after an uninterrupted run.
    crm = open_crm("salesforce")
    config = crm.config()
    crm.sandbox.controls.add_fault("slow", endpoint="collections_upsert", count=1, seconds=2.0)
    killed = start_cli("run", "--config", config)
    deadline = time.monotonic() + 60
    while crm.calls().get("collections_upsert", 0) < 1:
        assert time.monotonic() < deadline and killed.poll() is None, "the run never sent an upsert"
        time.sleep(0.02)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=10)
    time.sleep(2.5)  # the upsert the dead process sent has been carried out by now
    replay = invoke("run", "--config", config)
    assert replay.exit_code in (0, 1), replay.stdout + replay.stderr
    again = invoke("run", "--config", config)
    assert again.exit_code in (0, 1) and "created" not in again.stdout, again.stdout
    keys = collections.Counter(crm.task_keys())
    assert keys and max(keys.values()) == 1
    clean = open_crm("salesforce")
    assert invoke("run", "--config", clean.config()).exit_code in (0, 1)
    assert sorted(keys) == sorted(clean.task_keys())  # the same tasks as a run nobody killed
