"""A CRM as an admin already had it (issue 16): fields of another but compatible type, optional
targets that are missing, and jobs that check only what they use. Every command, end to end."""

from __future__ import annotations

import dataclasses
import json

from connector.sandbox.demo import demo_dataset
from jobs.nps import write_demo_csv
from tests.cli.conftest import invoke

NPS_TARGETS = ("company_nps_score", "company_nps_category", "company_nps_date", "company_referral_status")


def _nps_config(crm) -> str:
    csv = write_demo_csv(demo_dataset(), crm.tmp / "nps.csv")
    return crm.config(f'[nps]\nsource = "csv"\npath = "{csv}"\n')


def _ran(result, job: str) -> None:
    """The job ran (exit 1 only for records the CRM refused: the demo has a deactivated owner)."""
    assert result.exit_code in (0, 1), result.stderr
    assert result.stdout.startswith(f"{job} run "), result.stdout


def test_given_hubspot_with_referral_status_pre_created_as_text_then_every_command_succeeds(open_crm):
    """Done-when of issue 16 on HubSpot: only the documented fields (setup creates AfterClose's
    own), plus ``referral_status`` an admin made single-line text before."""
    hubspot = open_crm("hubspot", afterclose_properties=False)
    hubspot.sandbox.define_property("deals", "referral_status", type="string", field_type="text",
                                    label="Referral status")
    config = _nps_config(hubspot)
    setup = invoke("setup", "--config", config)
    assert setup.exit_code == 0, setup.stderr
    assert "exists deals.referral_status (the string field takes this enum value" in setup.stdout
    check = invoke("check", "--config", config)
    assert check.exit_code == 0, check.stderr
    assert "job sync: ready" in check.stdout and "job nps: ready" in check.stdout
    assert ("note: mapping key referral_status -> CRM field deals.referral_status: the string field takes this "
            "enum value: the option values are written as text") in check.stdout
    plan = invoke("plan", "--config", config, "--format", "json")
    assert plan.exit_code == 0, plan.stderr
    assert "skipped_optional_targets" not in json.loads(plan.stdout)["summary"]
    _ran(invoke("run", "--job", "sync", "--config", config), "sync")
    nps = invoke("run", "--job", "nps", "--config", config)
    _ran(nps, "nps")
    assert "referral_status" not in nps.stdout  # nothing refused, nothing skipped
    written = {d["properties"].get("referral_status") for d in hubspot.sandbox.records("deals")} - {None}
    assert written and written <= {"not_eligible", "eligible", "asked", "referred", "declined"}


def test_given_hubspot_without_the_company_fields_then_nps_writes_the_deals_and_reports_each_skipped_target(hubspot):
    config = _nps_config(hubspot)
    plan = invoke("plan", "--config", config, "--job", "nps", "--format", "json")
    assert plan.exit_code == 0, plan.stderr
    assert len(json.loads(plan.stdout)["summary"]["skipped_optional_targets"]) == 4
    nps = invoke("run", "--job", "nps", "--config", config)
    _ran(nps, "nps")
    skipped = [line.strip() for line in nps.stdout.splitlines() if "skipped optional target" in line]
    assert [line.split()[3] for line in skipped] == [f"fields.{name}" for name in NPS_TARGETS]
    assert all("property does not exist on companies" in line for line in skipped)
    assert any(d["properties"].get("nps_score") for d in hubspot.sandbox.records("deals"))
    status = invoke("status", "--config", config, "--format", "json")
    [run] = [r for r in json.loads(status.stdout)["runs"] if r["job"] == "nps"]
    assert run["counts"]["skipped_optional_targets"] == 4
    assert "skipped optional target(s): fields.company_nps_score -> companies.nps_score" in run["error"]
    table = invoke("status", "--config", config)
    assert "skipped optional target(s)" in table.stdout
    _ran(invoke("run", "--job", "sync", "--config", config), "sync")


def _without_account_nps_fields(salesforce) -> None:
    """An org where the admin created the documented Opportunity fields only."""
    account = salesforce.sandbox.catalog["Account"]
    kept = {name: f for name, f in account.fields.items()
            if name not in ("NPS_Score__c", "NPS_Category__c", "NPS_Date__c", "Referral_Status__c")}
    salesforce.sandbox.catalog["Account"] = dataclasses.replace(account, fields=kept)


def test_given_salesforce_without_the_account_nps_fields_then_sync_runs_and_nps_reports_the_skipped_targets(
        open_crm):
    """Done-when of issue 16 on Salesforce, for an integration user who may not change the schema:
    the documented Opportunity fields exist, the Account NPS fields do not (optional targets)."""
    from connector.sandbox.salesforce.permissions import UserPermissions

    salesforce = open_crm("salesforce", permissions=UserPermissions(
        customize_application=False, view_setup=False, manage_permission_sets=False, assign_permission_sets=False))
    _without_account_nps_fields(salesforce)
    config = _nps_config(salesforce)
    setup = invoke("setup", "--config", config)
    assert setup.exit_code == 0, setup.stdout + setup.stderr
    assert "optional target fields.company_nps_score -> Account.NPS_Score__c" in setup.stdout
    plan = invoke("plan", "--config", config, "--format", "json")
    assert plan.exit_code == 0, plan.stderr
    assert len(json.loads(plan.stdout)["summary"]["skipped_optional_targets"]) == 4
    check = invoke("check", "--config", config)
    assert check.exit_code == 0, check.stderr
    assert "job sync: ready" in check.stdout and "job nps: ready" in check.stdout
    assert check.stdout.count("nps skips optional target") == 4
    _ran(invoke("run", "--job", "sync", "--config", config), "sync")
    nps = invoke("run", "--job", "nps", "--config", config)
    _ran(nps, "nps")
    assert "skipped optional target fields.company_nps_score -> Account.NPS_Score__c" in nps.stdout
    assert any(o.get("NPS_Score__c") is not None for o in salesforce.sandbox.records("Opportunity"))
    status = invoke("status", "--config", config)
    assert "Account.NPS_Score__c" in status.stdout


def test_given_salesforce_referral_status_as_a_text_field_then_check_notes_it_and_nps_writes_the_values(salesforce):
    """A text field where the mapping has a picklist: every value AfterClose writes is text."""
    opportunity = salesforce.sandbox.catalog["Opportunity"]
    fields = dict(opportunity.fields)
    fields["Referral_Status__c"] = dataclasses.replace(fields["Referral_Status__c"], type="string", picklist=(),
                                                       restricted=False)
    salesforce.sandbox.catalog["Opportunity"] = dataclasses.replace(opportunity, fields=fields)
    config = _nps_config(salesforce)
    check = invoke("check", "--config", config)
    assert check.exit_code == 0, check.stderr
    assert ("mapping key fields.referral_status -> CRM field Opportunity.Referral_Status__c: the string field "
            "takes this enum value") in check.stdout
    _ran(invoke("run", "--job", "nps", "--config", config), "nps")
    written = {o.get("Referral_Status__c") for o in salesforce.sandbox.records("Opportunity")} - {None}
    assert written and written <= {"not_eligible", "eligible", "asked", "referred", "declined"}


def test_given_salesforce_without_the_opportunity_nps_fields_then_sync_runs_and_only_nps_is_blocked(open_crm):
    """Issue 16, item 2: a field only the NPS job uses never blocks the sync job. An org whose admin
    created the handoff fields but not the Opportunity NPS fields, for a user who may not create
    them: the sync job runs (and never reads the missing columns); the NPS job is refused, naming
    each field, and writes nothing."""
    from connector.sandbox.salesforce.permissions import UserPermissions

    salesforce = open_crm("salesforce", permissions=UserPermissions(
        customize_application=False, view_setup=False, manage_permission_sets=False, assign_permission_sets=False))
    opportunity = salesforce.sandbox.catalog["Opportunity"]
    # The NPS score stays: the 60-day check-in task of the sync job shows it ({nps_score}).
    missing = ("NPS_Category__c", "NPS_Date__c", "Referral_Status__c")
    salesforce.sandbox.catalog["Opportunity"] = dataclasses.replace(
        opportunity, fields={name: f for name, f in opportunity.fields.items() if name not in missing})
    config = _nps_config(salesforce)
    check = invoke("check", "--config", config)
    assert "job sync: ready" in check.stdout and "job nps: NOT ready" in check.stdout, check.stdout + check.stderr
    _ran(invoke("run", "--job", "sync", "--config", config), "sync")
    writes = salesforce.write_calls()
    nps = invoke("run", "--job", "nps", "--config", config)
    assert nps.exit_code == 2 and salesforce.write_calls() == writes
    assert all(name in nps.stderr for name in missing), nps.stderr
