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


def test_given_nps_source_when_plan_and_run_without_job_then_run_does_what_the_plan_showed(salesforce):
    config = nps_config(salesforce)
    planned = json.loads(invoke("plan", "--config", config, "--format", "json").stdout)
    planned_jobs = {a["job"] for a in planned["actions"]}
    assert planned_jobs == {"sync", "nps"}
    result = invoke("run", "--config", config)
    ran = {line.split(" ", 1)[0] for line in result.stdout.splitlines() if " run " in f" {line}"}
    assert ran == planned_jobs, result.stdout
    nps_keys = {a["key"] for a in planned["actions"] if a["job"] == "nps" and a["kind"] == "create_task"}
    assert nps_keys and nps_keys <= set(salesforce.task_keys())  # the NPS tasks the plan showed now exist


def test_given_a_csv_row_that_cannot_be_used_then_run_exits_1_and_summary_and_status_name_file_and_line(hubspot):
    csv = write_demo_csv(demo_dataset(), hubspot.tmp / "nps.csv")
    lines = csv.read_text().splitlines()
    bad_line = len(lines) + 1
    csv.write_text("\n".join([*lines, "r-eleven,ann@example.com,eleven,2026-03-02T10:00:00Z,Great"]) + "\n")
    config = hubspot.config(f'[nps]\nsource = "csv"\npath = "{csv}"\n')
    assert invoke("setup", "--config", config).exit_code == 0

    result = invoke("run", "--config", config, "--job", "nps")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert f"{len(lines) - 1} responses read" in result.stdout
    assert f"{csv}:{bad_line}" in result.stdout and "eleven" in result.stdout

    status = invoke("status", "--config", config)
    assert f"{csv}:{bad_line}" in status.stdout and "eleven" in status.stdout
    body = json.loads(invoke("status", "--config", config, "--format", "json").stdout)
    assert [(r["source"], r["line"]) for r in body["nps_rows_not_imported"]] == [(str(csv), bad_line)]
    assert [r["outcome"] for r in body["runs"] if r["job"] == "nps"] == ["rejected"]

    csv.write_text("\n".join(lines) + "\n")  # the row fixed at the source (here: removed)
    again = invoke("run", "--config", config, "--job", "nps")
    assert again.exit_code == 0, again.stdout
    body = json.loads(invoke("status", "--config", config, "--format", "json").stdout)
    assert body["nps_rows_not_imported"] == []
