"""What `check`, `setup`, `plan`, `run` and `status` say to a CRM admin walking through a first
set-up: each line says what is true, once, and points at the way out."""

from __future__ import annotations

import json

from connector.mapping import builtin_mapping
from connector.sandbox.demo import demo_dataset
from jobs.nps import write_demo_csv
from tests.cli.conftest import invoke, on


def _with_nps(crm) -> str:
    csv = write_demo_csv(demo_dataset(), crm.tmp / "nps.csv")
    return f'[nps]\nsource = "csv"\npath = "{csv}"\n'


@on("hubspot", "salesforce")
def test_given_an_nps_run_from_a_csv_when_status_then_its_last_run_is_shown_not_a_cursor_never_started(crm):
    config = crm.config(_with_nps(crm))
    invoke("setup", "--config", config)
    assert "nps: no run yet" in invoke("status", "--config", config).stdout
    nps = invoke("run", "--job", "nps", "--config", config)
    assert nps.exit_code == 0, nps.stderr
    status = invoke("status", "--config", config).stdout
    assert "nps cursor: not started yet" not in status
    assert "nps: last run 1 at " in status and "(ok): created 8, updated 36" in status
    assert "reads it whole" in status


def test_given_a_salesforce_run_when_status_and_check_then_task_keys_name_the_unique_external_id(salesforce):
    config = salesforce.config()
    check = invoke("check", "--config", config)
    assert "task keys: unique External ID Task.AfterClose_Key__c (Salesforce upsert)" in check.stdout
    invoke("run", "--job", "sync", "--config", config)
    status = invoke("status", "--config", config).stdout
    assert "not known until the first run" not in status
    assert "task keys: unique External ID Task.AfterClose_Key__c (Salesforce upsert)" in status


@on("hubspot", "salesforce")
def test_given_a_customer_with_three_won_deals_when_status_deal_then_no_row_is_about_another_deal(crm):
    config = crm.config(_with_nps(crm))
    invoke("setup", "--config", config)
    invoke("run", "--job", "sync", "--config", config)
    assert invoke("run", "--job", "nps", "--config", config).exit_code == 0
    deal = crm.won_deal_ids()[0]
    records = json.loads(invoke("status", "--config", config, "--deal", deal, "--format", "json").stdout)["records"]
    deal_updates = [r["key"] for r in records if r["key"].startswith("deal:")]
    assert f"deal:{deal}:nps_category,nps_date,nps_score,referral_status" in deal_updates
    assert all(key.startswith(f"deal:{deal}:") for key in deal_updates), deal_updates
    # Each of the customer's other deals has its own write-back under its own id.
    everything = json.loads(invoke("status", "--config", config, "--format", "json").stdout)
    nps_run = next(r["id"] for r in everything["runs"] if r["job"] == "nps")
    run = json.loads(invoke("status", "--config", config, "--run", str(nps_run), "--format", "json").stdout)
    for record in run["records"]:
        if record["key"].startswith("deal:"):
            assert record["key"].split(":")[1] == record["deal_id"], record


def test_given_check_ok_when_only_admin_fields_are_skipped_then_no_setup_hint_and_own_fields_hint_after_the_verdict(
        hubspot):
    """The hint names what `setup` can do: not for an admin's own field it never touches, and
    after an "ok" verdict next to the skipped targets, not as if something failed."""
    mapping = hubspot.tmp / "admin-company-fields.toml"
    text = builtin_mapping("hubspot").read_text(encoding="utf-8")
    # The company fields made the admin's own: setup neither creates them nor says how.
    blocks = text.split("\n[")
    mapping.write_text("\n[".join(b.replace("afterclose = true\n", "") if b.startswith("fields.company_") else b
                                   for b in blocks))
    assert mapping.read_text() != text
    admin = invoke("check", "--config", hubspot.config(_with_nps(hubspot), crm_extra=f'mapping = "{mapping}"\n'))
    assert admin.exit_code == 0, admin.stderr
    assert "nps skips optional target fields.company_nps_score" in admin.stdout
    assert "afterclose setup" not in admin.stderr + admin.stdout

    own = invoke("check", "--config", hubspot.config(_with_nps(hubspot)))
    assert own.exit_code == 0 and own.stdout.startswith("ok: ")
    assert "afterclose setup" not in own.stderr
    assert "`afterclose setup` creates the skipped targets that are AfterClose's own fields" in own.stdout


def _salesforce_without_account_fields(open_crm):
    """An org with every field but the optional Account ones, and a user who may not create fields."""
    import dataclasses

    from connector.sandbox.salesforce.permissions import UserPermissions

    org = open_crm("salesforce", permissions=UserPermissions(
        customize_application=False, view_setup=False, manage_permission_sets=False, assign_permission_sets=False))
    account = org.sandbox.catalog["Account"]
    org.sandbox.catalog["Account"] = dataclasses.replace(
        account, fields={name: f for name, f in account.fields.items() if not name.endswith("__c")})
    return org


def test_given_optional_targets_setup_may_not_create_when_setup_then_the_ok_line_names_them(open_crm):
    org = _salesforce_without_account_fields(open_crm)
    setup = invoke("setup", "--config", org.config(_with_nps(org)))
    assert setup.exit_code == 0, setup.stderr
    assert "not created Account.NPS_Score__c" in setup.stdout
    last = setup.stdout.strip().splitlines()[-1]
    assert "every field the mapping" not in last
    assert last.startswith("ok: every field the jobs need exists and is usable; 4 optional target(s) missing: "
                           "Account.NPS_Score__c, Account.NPS_Category__c, Account.NPS_Date__c, "
                           "Account.Referral_Status__c (the nps job skips them)"), last


def test_given_salesforce_before_setup_when_check_then_a_missing_field_is_one_line_not_also_a_permission(open_crm):
    org = open_crm("salesforce", afterclose_fields=False)
    check = invoke("check", "--config", org.config())
    assert check.exit_code == 2
    assert "CRM field Task.AfterClose_Key__c: field does not exist" in check.stderr
    assert "CRM field Opportunity.Handoff_Status__c: field does not exist" in check.stderr
    assert "missing permission: Task.AfterClose_Key__c" not in check.stderr
    assert "missing permission: Opportunity.Handoff_Status__c" not in check.stderr
    assert "missing permission" not in check.stderr, check.stderr


def test_given_a_salesforce_task_for_an_inactive_owner_when_run_and_status_then_the_code_once_and_the_way_out(
        salesforce):
    config = salesforce.config()
    run = invoke("run", "--job", "sync", "--config", config)
    assert run.exit_code == 1
    refused = [line for line in run.stdout.splitlines() if line.startswith("  rejected:")]
    assert len(refused) == 9
    for line in refused:
        assert line.count("INACTIVE_OWNER_OR_USER") == 1 and "`[playbook] fallback_owner`" in line, line
    # status prints the reason, then the code in brackets: the reason does not hold the code too.
    rejected = json.loads(invoke("status", "--config", config, "--format", "json").stdout)["rejected"]
    assert len(rejected) == 9
    for row in rejected:
        assert row["error_code"] == "INACTIVE_OWNER_OR_USER" and "INACTIVE_OWNER_OR_USER" not in row["reason"], row
        assert "`[playbook] fallback_owner`" in row["reason"]


def test_given_an_optional_target_both_jobs_skip_when_plan_then_it_is_said_once_naming_the_jobs(hubspot):
    text = builtin_mapping("hubspot").read_text(encoding="utf-8")
    mapping = hubspot.tmp / "optional-deal-score.toml"
    mapping.write_text(text.replace('[fields.nps_score]\nrecord = "deal"\ncrm = "nps_score"',
                                    '[fields.nps_score]\nrecord = "deal"\ncrm = "nps_score_elsewhere"\noptional = true'))
    config = hubspot.config(_with_nps(hubspot), crm_extra=f'mapping = "{mapping}"\n')
    plan = invoke("plan", "--config", config)
    assert plan.exit_code == 0, plan.stderr
    lines = [line for line in plan.stdout.splitlines() if line.startswith("skipped optional target")]
    deal_score = [line for line in lines if "deals.nps_score_elsewhere" in line]
    assert len(deal_score) == 1 and "(by the sync and nps jobs)" in deal_score[0], lines
    company = [line for line in lines if "companies.nps_score:" in line]
    assert len(company) == 1 and "(by the nps job)" in company[0], lines
    assert len(lines) == 5
    summary = json.loads(invoke("plan", "--config", config, "--format", "json").stdout)["summary"]
    assert len(summary["skipped_optional_targets"]) == 5
