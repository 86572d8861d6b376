"""The NPS job through the CLI: `run --job nps|all`, `plan --job nps`, and what `status` says."""

from __future__ import annotations

import json

from connector.sandbox.demo import demo_dataset
from jobs.nps import write_demo_csv
from tests.cli.conftest import invoke, on

UNKNOWN = "r-unknown-1,nobody@unknown.example,9,2026-01-05T10:00:00+00:00,Great\n"
"""A response from an email no contact has: kept as unmatched and retried."""


def nps_config(crm):
    csv = write_demo_csv(demo_dataset(), crm.tmp / "nps.csv")
    csv.write_text(csv.read_text() + UNKNOWN)
    config = crm.config(f'[nps]\nsource = "csv"\npath = "{csv}"\n')
    assert invoke("setup", "--config", config).exit_code == 0
    return config


@on("fake", "salesforce")
def test_given_csv_source_when_plan_job_nps_then_nps_actions_only_and_nothing_written(crm):
    config = nps_config(crm)
    writes = crm.write_calls()
    result = invoke("plan", "--config", config, "--job", "nps", "--format", "json")
    assert result.exit_code == 0, result.stderr
    actions = json.loads(result.stdout)["actions"]
    assert actions and {a["job"] for a in actions} == {"nps"}
    assert any(a["kind"] == "create_task" for a in actions) and any(a["kind"] == "update_record" for a in actions)
    assert crm.write_calls() == writes


def test_given_csv_source_when_run_all_then_sync_then_nps_and_status_lists_the_unmatched_response(fake):
    config = nps_config(fake)
    result = invoke("run", "--config", config, "--job", "all")
    assert result.exit_code == 1  # sync: the inactive owner's tasks; the worst of both jobs wins
    lines = result.stdout.splitlines()
    sync_line = next(i for i, line in enumerate(lines) if line.startswith("sync run"))
    nps_line = next(i for i, line in enumerate(lines) if line.startswith("nps run"))
    assert sync_line < nps_line
    assert "11 responses read" in lines[nps_line] and "1 responses unmatched" in lines[nps_line]

    again = invoke("run", "--config", config, "--job", "nps")
    assert again.exit_code == 0 and "created" not in again.stdout

    status = json.loads(invoke("status", "--config", config, "--format", "json").stdout)
    assert [w["response_id"] for w in status["nps_waiting"]] == ["r-unknown-1"]
    assert "nobody@unknown.example" in status["nps_waiting"][0]["reason"]  # what an admin must fix


def test_given_no_nps_source_when_run_job_nps_then_exit_2_names_the_key_and_all_skips_it(fake):
    config = fake.config()
    invoke("setup", "--config", config)
    nps = invoke("run", "--config", config, "--job", "nps")
    assert nps.exit_code == 2 and "nps.source" in nps.stderr
    everything = invoke("run", "--config", config, "--job", "all")
    assert everything.exit_code == 1 and "nps: not configured" in everything.stdout
