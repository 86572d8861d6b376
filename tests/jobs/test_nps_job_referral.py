"""The referral lifecycle as the CRM changes, HubSpot's own NPS data, and building the job from
settings. Same harness as tests/jobs/test_nps_job.py: both CRMs, demo data, fixed clock."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.nps.csv_source import CsvSource
from connector.nps.none_source import NoneSource
from jobs.config import Settings
from jobs.nps import JOB, NpsJob, build_nps_job, run_nps
from tests.contract.hubspot_harness import hubspot_harness
from tests.jobs.test_nps_job import (  # noqa: F401 - fixtures crm and store are used by name
    DEMO,
    NOW,
    company_field,
    company_id,
    crm,
    demo_company_of,
    demo_csv,
    demo_response,
    nps_job,
    nps_mapping,
    nps_tasks,
    on,
    set_company_field,
    store,
    won_deals_of,
    write_rows,
)

PROMOTER = 1  # nps-0001: a 10 from Acme Corp's main contact
OTHER_PROMOTER = 2  # nps-0002: a 9


def referral_status(h, n: int) -> tuple[str | None, set[str | None]]:
    """The company's referral status and its won deals' statuses, for demo response ``n``."""
    key = demo_company_of(n)
    return (company_field(h, company_id(h, key), "company_referral_status"),
            {h.field(d, "referral_status") for d in won_deals_of(h, key)})


@on("fake", "salesforce")
def test_given_referral_ask_completed_in_crm_then_status_moves_to_asked_once(crm, store, tmp_path):
    source = demo_csv(tmp_path)
    run_nps(nps_job(crm, store, source))
    assert referral_status(crm, PROMOTER) == ("eligible", {"eligible"})
    [ask] = [t for t in nps_tasks(crm, "nps_referral_ask_") if t.company_id == company_id(crm, demo_company_of(PROMOTER))]
    crm.complete_task(ask.crm_id)  # the rep asked, and ticked the task off

    moved = run_nps(nps_job(crm, store, source))
    assert referral_status(crm, PROMOTER) == ("asked", {"asked"})
    assert referral_status(crm, OTHER_PROMOTER) == ("eligible", {"eligible"})
    assert all("the referral-ask task was completed" in a.reason for a in moved.plan_actions)
    assert run_nps(nps_job(crm, store, source)).plan_actions == []


@pytest.mark.parametrize("crm, named_by", [("fake", "account id"), ("fake", "contact email"),
                                            ("hubspot", "account id"), ("salesforce", "contact email")],
                         indirect=["crm"])
def test_given_new_won_deal_names_the_account_as_referrer_then_status_is_referred(crm, store, tmp_path, named_by):
    source = demo_csv(tmp_path)
    run_nps(nps_job(crm, store, source))
    referrer = demo_company_of(PROMOTER)
    new_deal = next(d for d in DEMO.won_deals() if d.company is not None and d.company >= 12)  # no survey answer
    value = company_id(crm, referrer) if named_by == "account id" else demo_response(PROMOTER).email.upper()
    crm.set_field(crm.deal_id(new_deal.key), "referred_by", value)

    report = run_nps(nps_job(crm, store, source))
    assert referral_status(crm, PROMOTER) == ("referred", {"referred"})
    assert any(f"won deal {crm.deal_id(new_deal.key)} names this customer as its referrer" in a.reason
               for a in report.plan_actions)
    assert run_nps(nps_job(crm, store, source)).plan_actions == []


@on("fake")
def test_given_owner_declined_then_status_is_kept_and_no_referral_ask_is_made(crm, store, tmp_path):
    account = company_id(crm, demo_company_of(PROMOTER))
    set_company_field(crm, account, "company_referral_status", "declined")
    run_nps(nps_job(crm, store, demo_csv(tmp_path)))
    assert company_field(crm, account, "company_referral_status") == "declined"
    assert [t for t in nps_tasks(crm, "nps_referral_ask_") if t.company_id == account] == []
    assert company_field(crm, account, "company_nps_category") == "promoter"  # the score is still written


@on("fake")
def test_given_detractor_answer_after_promoter_then_not_eligible_and_a_follow_up_call(crm, store, tmp_path):
    run_nps(nps_job(crm, store, demo_csv(tmp_path)))
    later = write_rows(tmp_path / "later" / "nps.csv", [
        {"response_id": "again-1", "email": demo_response(PROMOTER).email, "score": "2",
         "responded_at": "2026-03-02T11:00:00Z", "comment": "The upgrade broke our reports"}])
    run_nps(nps_job(crm, store, later))
    account = company_id(crm, demo_company_of(PROMOTER))
    assert referral_status(crm, PROMOTER) == ("not_eligible", {"not_eligible"})
    assert company_field(crm, account, "company_nps_category") == "detractor"
    assert [t.company_id for t in nps_tasks(crm, "nps_detractor_followup_")].count(account) == 1


@on("fake")
def test_given_older_response_arrives_after_a_newer_one_then_the_newer_score_stays(crm, store, tmp_path):
    run_nps(nps_job(crm, store, demo_csv(tmp_path)))
    late_export = write_rows(tmp_path / "old" / "nps.csv", [
        {"response_id": "old-1", "email": demo_response(PROMOTER).email, "score": "4",
         "responded_at": "2026-01-15T09:00:00Z"}])
    report = run_nps(nps_job(crm, store, late_export))
    assert report.plan_actions == []
    assert company_field(crm, company_id(crm, demo_company_of(PROMOTER)), "company_nps_category") == "promoter"


# --- HubSpot's own NPS contact properties (the hubspot-native source) ----------------------------------


NATIVE = {"hs_feedback_last_nps_rating_number": ("number", "number"),
          "hs_feedback_last_survey_date": ("datetime", "date"),
          "hs_feedback_last_nps_follow_up": ("string", "textarea")}


def define_native_properties(h) -> None:
    """What a portal that ran a Service Hub NPS survey has (docs/nps.md §5); the sandbox's fresh
    portal lacks them, so they are defined through its public knob."""
    for name, (type_, field_type) in NATIVE.items():
        h.sandbox.define_property("contacts", name, type=type_, field_type=field_type)


@pytest.fixture
def hubspot():
    """HubSpot only: the hubspot-native source reads HubSpot's own survey data."""
    fieldmap = nps_mapping("hubspot")
    with hubspot_harness(fieldmap=fieldmap) as h:
        h.adapter.setup()
        yield h


def test_given_hubspot_survey_answers_on_contacts_then_native_source_writes_them_back_once(hubspot, store):
    define_native_properties(hubspot)
    contact = next(c for c in DEMO.contacts if c.email == demo_response(PROMOTER).email)
    hubspot.sandbox.edit("contacts", hubspot.sandbox.demo_ids["contacts"][contact.key], {
        "hs_feedback_last_nps_rating_number": "3", "hs_feedback_last_survey_date": "2026-03-01T08:30:00Z",
        "hs_feedback_last_nps_follow_up": "Support is slow"})
    job = nps_job(hubspot, store, hubspot.adapter.nps_native_source())
    report = run_nps(job)
    assert report.responses_read == 1 and report.exit_code == 0
    account = company_id(hubspot, contact.company)
    assert company_field(hubspot, account, "company_nps_category") == "detractor"
    assert [t.company_id for t in nps_tasks(hubspot, "nps_detractor_followup_")] == [account]
    assert store.get_cursor(job.scope, JOB).modified == dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)
    again = run_nps(job)
    assert again.new_responses == 0 and again.plan_actions == []


def test_given_portal_without_nps_properties_then_native_source_stops_with_a_clear_error(hubspot, store):
    report = run_nps(nps_job(hubspot, store, hubspot.adapter.nps_native_source()))
    assert report.exit_code == 1
    assert "hs_feedback_last_survey_date" in report.source_error and "Service Hub" in report.source_error


# --- building the job from settings ---------------------------------------------------------------------


def settings(**nps) -> Settings:
    return Settings.from_mapping({"crm": {"provider": "hubspot"}, "hubspot": {"access_token": "pat-test"},
                                  "nps": nps})


def test_given_nps_source_none_then_no_job_is_built(hubspot, store):
    assert build_nps_job(settings(), hubspot.adapter, store, hubspot.adapter.fieldmap, "s", lambda: NOW) is None


def test_given_csv_settings_then_job_reads_that_file_in_the_playbooks_calendar(hubspot, store, tmp_path):
    path = tmp_path / "nps.csv"
    path.write_text("email,score,responded_at\n", encoding="utf-8")
    job = build_nps_job(settings(source="csv", path=str(path)), hubspot.adapter, store,
                        hubspot.adapter.fieldmap, "hubspot:s", lambda: NOW)
    assert isinstance(job, NpsJob) and isinstance(job.source, CsvSource)
    assert job.policy.playbook.timezone == "UTC"
    assert run_nps(job).exit_code == 0


def test_given_hubspot_native_settings_then_job_uses_the_adapters_source(hubspot, store):
    job = build_nps_job(settings(source="hubspot-native"), hubspot.adapter, store, hubspot.adapter.fieldmap,
                        "hubspot:s", lambda: NOW)
    assert job.source.name == "hubspot-native" and not isinstance(job.source, NoneSource)


def test_builtin_mappings_ship_referred_by_commented_out_and_it_loads_when_uncommented():
    for provider in ("hubspot", "salesforce"):
        spec = nps_mapping(provider).spec("referred_by")
        assert spec.record.value == "deal" and spec.type.value == "text" and not spec.write
