"""`afterclose check`, `setup` and `status`: what an admin runs before and after the first run."""

from __future__ import annotations

import json

from connector.mapping import builtin_mapping
from connector.sandbox.demo import demo_dataset
from jobs.nps import write_demo_csv
from jobs.state import open_store
from tests.cli.conftest import invoke, on


def test_given_hubspot_without_afterclose_company_fields_when_check_then_each_job_says_if_it_is_ready(hubspot):
    """The company fields are optional NPS targets in the built-in mapping: the sync job does not
    use them, and the NPS job skips them (issue 16, items 2 and 3)."""
    result = invoke("check", "--config", hubspot.config())
    assert result.exit_code == 0, result.stderr
    assert "job sync: ready" in result.stdout
    assert 'job nps: not configured ([nps] source = "none"); once configured: ready' in result.stdout
    csv = write_demo_csv(demo_dataset(), hubspot.tmp / "nps.csv")
    with_nps = invoke("check", "--config", hubspot.config(f'[nps]\nsource = "csv"\npath = "{csv}"\n'))
    assert with_nps.exit_code == 0, with_nps.stderr
    skipped = [line for line in with_nps.stdout.splitlines() if "nps skips optional target" in line]
    assert len(skipped) == 4
    assert "fields.company_nps_score -> companies.nps_score: property does not exist on companies" in with_nps.stdout
    assert "afterclose setup" in with_nps.stdout and "afterclose setup" not in with_nps.stderr  # "ok": no alarm


def test_given_a_mapping_whose_company_fields_are_required_when_check_then_exit_2_one_line_per_field(hubspot):
    text = builtin_mapping("hubspot").read_text(encoding="utf-8").replace("optional = true", "")
    mapping = hubspot.tmp / "required.toml"
    mapping.write_text(text)
    csv = write_demo_csv(demo_dataset(), hubspot.tmp / "nps.csv")
    config = hubspot.config(f'[nps]\nsource = "csv"\npath = "{csv}"\n', crm_extra=f'mapping = "{mapping}"\n')
    result = invoke("check", "--config", config)
    assert result.exit_code == 2
    problems = [line for line in result.stderr.splitlines() if line.strip().startswith("mapping key")]
    assert len(problems) == 4
    assert "mapping key company_nps_score -> CRM field companies.nps_score" in result.stderr
    assert all(line.endswith("(needed by: nps)") for line in problems)
    assert "job sync: ready" in result.stdout and "job nps: NOT ready" in result.stdout
    assert "afterclose setup" in result.stderr
    sync = invoke("run", "--job", "sync", "--config", config)
    # A field only the NPS job uses never blocks the sync job (exit 1: the demo's deactivated owner).
    assert sync.exit_code == 1 and sync.stdout.startswith("sync run 1: 42 deals"), sync.stderr
    nps = invoke("run", "--job", "nps", "--config", config)
    assert nps.exit_code == 2 and "company_nps_score" in nps.stderr


def test_given_hubspot_when_setup_twice_then_fields_created_once_and_check_passes(hubspot):
    config = hubspot.config()
    first = invoke("setup", "--config", config)
    assert first.exit_code == 0
    assert "created companies.nps_score" in first.stdout
    second = invoke("setup", "--config", config)
    assert second.exit_code == 0
    assert "created" not in second.stdout and "exists companies.nps_score" in second.stdout
    check = invoke("check", "--config", config)
    assert check.exit_code == 0, check.stderr
    assert check.stdout.startswith("ok: ")


def test_given_salesforce_user_with_customize_application_when_setup_then_fields_created_visible_and_check_passes(
        open_crm):
    org = open_crm("salesforce", afterclose_fields=False)
    config = org.config()
    assert invoke("check", "--config", config).exit_code == 2
    setup = invoke("setup", "--config", config)
    assert setup.exit_code == 0, setup.stderr
    assert "created Task.AfterClose_Key__c (on Activity: Text(255), External ID, Unique, case-insensitive)" in setup.stdout
    assert "assigned AfterClose_Integration to the integration user" in setup.stdout
    assert setup.stdout.rstrip().splitlines()[-1].startswith("ok: every field")
    check = invoke("check", "--config", config)
    assert check.exit_code == 0, check.stderr
    assert invoke("plan", "--config", config, "--job", "sync").exit_code == 0
    again = invoke("setup", "--config", config)
    assert again.exit_code == 0
    assert not [line for line in again.stdout.splitlines() if line.startswith(("created", "assigned"))]
    assert len(org.sandbox.records("PermissionSetAssignment")) == 1


def test_given_salesforce_user_without_customize_application_when_setup_then_exit_2_and_the_package_is_written(
        open_crm, tmp_path):
    from connector.sandbox.salesforce.permissions import UserPermissions

    org = open_crm("salesforce", afterclose_fields=False, permissions=UserPermissions(
        customize_application=False, view_setup=False, manage_permission_sets=False, assign_permission_sets=False))
    config = org.config()
    setup = invoke("setup", "--config", config)
    assert setup.exit_code == 2
    assert "Customize Application" in setup.stdout and "--write-package" in setup.stdout
    assert "Still missing in the salesforce CRM" in setup.stderr
    assert "CRM field Task.AfterClose_Key__c" in setup.stderr
    # An optional target blocks nothing: said as what the NPS job will skip (issue 16.3).
    assert "CRM field Account.NPS_Score__c" not in setup.stderr
    assert "optional target fields.company_nps_score -> Account.NPS_Score__c" in setup.stdout
    assert "Traceback" not in setup.stderr

    package = tmp_path / "afterclose-package"
    writes = org.write_calls()  # the refused attempts above
    written = invoke("setup", "--config", config, "--write-package", package)
    assert written.exit_code == 2  # written, not deployed: the fields are still missing
    assert f"cd {package} && sf project deploy start --source-dir force-app --target-org" in written.stdout
    assert "sf org assign permset --name AfterClose_Integration" in written.stdout
    assert (package / "package.xml").is_file()
    assert (package / "force-app/main/default/objects/Activity/fields/AfterClose_Key__c.field-meta.xml").is_file()
    assert "CRM field Task.AfterClose_Key__c" in written.stderr
    assert org.write_calls() == writes and org.calls().get("tooling_create", 0) == 1  # the package writes nothing


def test_given_write_package_on_hubspot_or_onto_a_file_then_exit_2_one_line(hubspot, tmp_path):
    config = hubspot.config()
    result = invoke("setup", "--config", config, "--write-package", tmp_path / "pkg")
    assert result.exit_code == 2 and "--write-package is for Salesforce" in result.stderr
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    result = invoke("setup", "--config", config, "--write-package", a_file)
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_given_package_directory_that_cannot_be_made_then_exit_2_naming_it(salesforce, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    result = invoke("setup", "--config", salesforce.config(), "--write-package", a_file / "pkg")
    assert result.exit_code == 2, result.stderr
    assert f"--write-package {a_file / 'pkg'}: cannot write there" in result.stderr and "Traceback" not in result.stderr


@on("hubspot", "salesforce", "fake")
def test_given_mapped_field_that_is_not_afterclose_own_and_missing_when_setup_then_exit_2_naming_it(crm, tmp_path):
    """Issue 17 item 4: setup creates what it may and still says what it cannot."""
    from connector.mapping import builtin_mapping

    provider = "salesforce" if crm.config_provider == "salesforce" else "hubspot"
    name = "Industry_Segment__c" if provider == "salesforce" else "industry_segment"
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(builtin_mapping(provider).read_text() + f"""
[fields.industry_segment]
record = "deal"
crm = "{name}"
type = "text"
label = "Industry segment"
""")
    config = crm.config(crm_extra=f'mapping = "{mapping}"\n')
    first = invoke("setup", "--config", config)
    assert first.exit_code == 2, first.stdout
    missing = [line for line in first.stderr.splitlines() if line.startswith("  ")]
    assert len(missing) == 1 and "industry_segment" in missing[0] and name in missing[0], first.stderr
    again = invoke("setup", "--config", config)
    assert again.exit_code == 2 and again.stderr == first.stderr


def test_given_config_with_inline_secret_readable_by_others_when_check_then_warns(salesforce):
    config = salesforce.config()
    config.chmod(0o644)
    result = invoke("check", "--config", config)
    assert result.exit_code == 0
    assert "warning:" in result.stdout and "salesforce.access_token" in result.stdout and "chmod 600" in result.stdout
    config.chmod(0o600)
    assert "warning:" not in invoke("check", "--config", config).stdout


@on("fake", "salesforce")
def test_given_runs_when_status_then_table_and_json_show_runs_cursor_and_rejected_with_reasons(crm):
    config = crm.config()
    invoke("setup", "--config", config)
    invoke("run", "--config", config)
    invoke("run", "--config", config)
    table = invoke("status", "--config", config)
    assert table.exit_code == 0
    assert "Recent runs" in table.stdout and "sync cursor: after" in table.stdout
    assert "9 rejected record(s) waiting for a retry:" in table.stdout
    assert "inactive" in table.stdout.lower() or "deactivated" in table.stdout.lower()

    body = json.loads(invoke("status", "--config", config, "--format", "json").stdout)
    assert [r["outcome"] for r in body["runs"]] == ["rejected", "rejected"]
    assert body["cursors"]["sync"]["modified"] and body["cursors"]["nps"] is None
    assert len(body["rejected"]) == 9 and all(r["reason"] and r["attempts"] >= 1 for r in body["rejected"])
    assert {r["attempts"] for r in body["rejected"]} == {2}


def test_given_no_run_yet_when_status_then_says_so(fake):
    result = invoke("status", "--config", fake.config())
    assert result.exit_code == 0
    assert "not started yet" in result.stdout and "0 rejected record(s)" in result.stdout
    assert fake.total_calls() == 0  # status reads the state database only


def test_given_salesforce_user_who_cannot_create_tasks_when_check_then_exit_2_names_the_permission(salesforce):
    import dataclasses

    catalog = salesforce.sandbox.catalog
    catalog["Task"] = dataclasses.replace(catalog["Task"], createable=False)
    result = invoke("check", "--config", salesforce.config())
    assert result.exit_code == 2
    assert "missing permission: Task: create" in result.stderr and "docs/permissions.md" in result.stderr


@on("fake", "hubspot")
def test_given_runs_when_status_deal_then_every_record_of_that_deal_with_outcome_and_the_crm_message(crm):
    config = crm.config()
    invoke("setup", "--config", config)
    invoke("run", "--config", config)
    invoke("run", "--config", config)
    status = json.loads(invoke("status", "--config", config, "--format", "json").stdout)
    refused = status["rejected"][0]
    result = invoke("status", "--config", config, "--deal", refused["deal_id"], "--format", "json")
    assert result.exit_code == 0
    records = json.loads(result.stdout)["records"]
    assert {r["deal_id"] for r in records} == {refused["deal_id"]}
    newest, oldest = status["runs"][0]["id"], status["runs"][1]["id"]
    assert [r["run_id"] for r in records] == sorted((r["run_id"] for r in records), reverse=True)
    assert {r["run_id"] for r in records} == {newest, oldest}
    rejected = [r for r in records if r["key"] == refused["key"]]
    assert [r["outcome"] for r in rejected] == ["rejected", "rejected"] and all(r["message"] for r in rejected)
    skipped = [r for r in records if r["outcome"] == "skipped"]
    assert all("overdue" in r["message"] for r in skipped)

    table = invoke("status", "--config", config, "--deal", refused["deal_id"])
    assert f"Deal {refused['deal_id']}: {len(records)} record(s)" in table.stdout
    assert "rejected" in table.stdout


@on("fake", "salesforce")
def test_given_a_run_when_status_run_then_its_records_and_an_unknown_run_is_named(crm):
    config = crm.config()
    invoke("setup", "--config", config)
    invoke("run", "--config", config)
    [run] = json.loads(invoke("status", "--config", config, "--format", "json").stdout)["runs"]
    records = json.loads(invoke("status", "--config", config, "--run", str(run["id"]), "--format", "json").stdout)
    outcomes = [r["outcome"] for r in records["records"]]
    assert sum(outcomes.count(k) for k in ("created", "updated", "skipped", "rejected")) == len(outcomes)
    assert outcomes.count("created") == run["counts"]["created"]

    missing = invoke("status", "--config", config, "--run", str(run["id"] + 99))
    assert missing.exit_code == 2
    assert f"no run {run['id'] + 99}" in missing.stderr and "Traceback" not in missing.stderr
    both = invoke("status", "--config", config, "--run", str(run["id"]), "--deal", "x")
    assert both.exit_code == 2 and "--run and --deal" in both.stderr


def test_given_runs_older_than_history_days_when_run_then_they_and_their_records_are_pruned(fake):
    import datetime as dt


    config = fake.config()
    invoke("setup", "--config", config)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=120)
    with open_store(fake.state_url, clock=lambda: long_ago) as store:
        scope = json.loads(invoke("status", "--config", config, "--format", "json").stdout)["scope"]
        old_run = store.start_run(scope, "sync")
        store.finish_run(old_run, "ok", {}, 0)
    assert invoke("run", "--config", config).exit_code in (0, 1)
    runs = json.loads(invoke("status", "--config", config, "--format", "json").stdout)["runs"]
    assert old_run not in {r["id"] for r in runs} and len(runs) == 1
    missing = invoke("status", "--config", config, "--run", str(old_run))
    assert missing.exit_code == 2 and f"no run {old_run}" in missing.stderr
