"""The NPS job end to end: survey source -> adapter -> CRM, real state store.

Each test runs with the demo data set, the built-in mapping (its optional ``referred_by`` block
switched on) and a fixed clock. The job's logic runs on the in-memory CRM (connector/fake/); the
reads and write-backs that differ by vendor also run on a sandbox with the real adapter and SDK,
the two vendors taking turns. The demo's ten responses come from the
main contacts of the first ten won deals: promoters (9-10), passives (7-8), detractors (0-6).
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import importlib
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import respx

from connector.actions import UpdateRecord
from connector.errors import ConfigError
from connector.mapping import FieldMap, builtin_mapping, parse_mapping
from connector.model import RecordKind
from connector.nps import NpsSource, NpsSourceConfig
from connector.nps.csv_source import CsvSource
from connector.nps.http_source import HttpSource
from connector.retry import RetrySettings
from connector.sandbox.demo import DemoDataset, demo_dataset
from connector.sandbox.salesforce.schema import FieldDef
from jobs.nps import JOB, NpsJob, run_nps, write_demo_csv
from jobs.state import NpsStatus, StateStore, open_store
from tests.jobs.test_sync_e2e import write_calls

UTC = dt.UTC
ANCHOR = dt.date(2026, 3, 2)  # the harnesses' demo anchor (a Monday)
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NEXT_BUSINESS_DAY = dt.date(2026, 3, 3)
SURVEY_URL = "https://surveys.test/v1/responses"
DEMO = demo_dataset(anchor=ANCHOR)
_REFERRER_BLOCK = re.compile(r"^# (\[fields\.referred_by\]\n(?:# [^\n]*\n)+)", re.MULTILINE)


# --- the CRM under test ---------------------------------------------------------------------------


def nps_mapping(provider: str) -> FieldMap:
    """The built-in mapping with its optional ``referred_by`` block uncommented, as an admin would."""
    text = builtin_mapping(provider).read_text(encoding="utf-8")
    block = _REFERRER_BLOCK.search(text)
    assert block, "the built-in mapping ships a commented [fields.referred_by] block"
    uncommented = re.sub(r"^# ", "", block.group(1), flags=re.MULTILINE)
    return parse_mapping(text.replace(block.group(0), uncommented), source=f"{provider}.toml (referred_by on)")


def add_salesforce_referrer_field(sandbox) -> None:
    """What the Salesforce admin does by hand (the Metadata API is out of scope); the sandbox has no
    public knob for a new field, so its catalog is extended the way its own schema module builds it."""
    old = sandbox.catalog["Opportunity"]
    field = FieldDef(name="Referred_By__c", type="string", label="Referred By", length=255, custom=True)
    sandbox.catalog["Opportunity"] = dataclasses.replace(old, fields={**old.fields, field.name: field})


def on(*crms: str):
    """Run the test on these CRMs: "fake" (in memory), "hubspot", "salesforce" (sandboxes)."""
    return pytest.mark.parametrize("crm", crms, indirect=True)


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request):
    fieldmap = nps_mapping("hubspot" if request.param == "fake" else request.param)
    module = importlib.import_module(f"tests.contract.{request.param}_harness")
    with module.open_harness(fieldmap=fieldmap) as h:
        if request.param == "salesforce":
            add_salesforce_referrer_field(h.sandbox)
        h.adapter.setup()  # HubSpot: creates the company NPS properties and referred_by
        yield h


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'state.db'}") as opened:
        yield opened


def scope(h) -> str:
    return f"{h.provider}:test"


def nps_job(h, store: StateStore, source: NpsSource, clock: Callable[[], dt.datetime] = lambda: NOW) -> NpsJob:
    return NpsJob(scope=scope(h), adapter=h.adapter, store=store, fieldmap=h.adapter.fieldmap, source=source,
                  clock=clock)


def csv_source(path: Path) -> CsvSource:
    return CsvSource(NpsSourceConfig(source="csv", path=path))


def demo_csv(tmp_path: Path, dataset: DemoDataset = DEMO) -> CsvSource:
    return csv_source(write_demo_csv(dataset, tmp_path / "exports" / "nps.csv"))


def write_rows(path: Path, rows: list[dict]) -> CsvSource:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return csv_source(path)


# --- reading the sandbox in neutral terms -----------------------------------------------------------


def company_id(h, company_key: int) -> str:
    return h.sandbox.demo_ids["Account" if h.provider == "salesforce" else "companies"][company_key]


def company_field(h, account_id: str, canonical: str) -> str | None:
    crm_name = h.adapter.fieldmap.spec(canonical).crm_name
    if h.provider == "fake":
        value = h.sandbox.companies[account_id].fields.get(canonical)
    elif h.provider == "hubspot":
        record = next(r for r in h.sandbox.records("companies") if r["id"] == account_id)
        value = record["properties"].get(crm_name)
    else:
        record = next(r for r in h.sandbox.records("Account") if r["Id"] == account_id)
        value = record.get(crm_name)
    if value in (None, ""):
        return None
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def set_company_field(h, account_id: str, canonical: str, value: str) -> None:
    if h.provider == "fake":
        h.sandbox.set_company_field(account_id, canonical, value)
        return
    crm_name = h.adapter.fieldmap.spec(canonical).crm_name
    h.sandbox.edit("companies" if h.provider == "hubspot" else "Account", account_id, {crm_name: value})


def set_contact_email(h, contact_key: int, email: str) -> None:
    if h.provider == "fake":
        h.sandbox.set_contact_email(h.sandbox.demo_ids["contacts"][contact_key], email)
    elif h.provider == "hubspot":
        h.sandbox.edit("contacts", h.sandbox.demo_ids["contacts"][contact_key], {"email": email})
    else:
        h.sandbox.edit("Contact", h.sandbox.demo_ids["Contact"][contact_key], {"Email": email})


def won_deals_of(h, company_key: int) -> list[str]:
    return [h.deal_id(d.key) for d in DEMO.deals if d.company == company_key and d.stage == "won"]


def number(text: str | None) -> str | None:
    return None if text is None else str(int(float(text)))


def nps_tasks(h, touch_point: str = "nps_") -> list:
    return [t for t in h.tasks() if t.key and f":{touch_point}" in t.key]


def keys_in_crm(h) -> collections.Counter:
    return collections.Counter(t.key for t in h.tasks() if t.key)


def demo_response(n: int):
    return DEMO.nps_responses[n - 1]


def demo_company_of(n: int) -> int:
    """The company of the demo response ``nps-000n`` (its respondent's company)."""
    email = demo_response(n).email
    return next(c.company for c in DEMO.contacts if c.email == email)


# --- CSV: write-backs and tasks ---------------------------------------------------------------------


@on("fake", "salesforce")
def test_given_demo_csv_when_run_then_scores_land_on_every_won_deal_and_the_company(crm, store, tmp_path):
    report = run_nps(nps_job(crm, store, demo_csv(tmp_path)))
    assert report.unmatched == [] and report.rejected == [] and report.exit_code == 0
    for n, response in enumerate(DEMO.nps_responses, start=1):
        account = company_id(crm, demo_company_of(n))
        category = "promoter" if response.score >= 9 else "passive" if response.score >= 7 else "detractor"
        day = response.responded_at.date().isoformat()
        assert number(company_field(crm, account, "company_nps_score")) == str(response.score)
        assert company_field(crm, account, "company_nps_category") == category
        assert company_field(crm, account, "company_nps_date")[:10] == day
        for deal_id in won_deals_of(crm, demo_company_of(n)):
            assert (number(crm.field(deal_id, "nps_score")), crm.field(deal_id, "nps_category")) == (
                str(response.score), category)
            assert crm.field(deal_id, "nps_date")[:10] == day


@on("fake", "hubspot")
def test_given_detractors_and_promoters_then_each_gets_its_one_task_linked_to_deal_company_and_contact(
        crm, store, tmp_path):
    run_nps(nps_job(crm, store, demo_csv(tmp_path)))
    detractors = [n for n, r in enumerate(DEMO.nps_responses, start=1) if r.score <= 6]
    promoters = [n for n, r in enumerate(DEMO.nps_responses, start=1) if r.score >= 9]
    follow_ups, asks = nps_tasks(crm, "nps_detractor_followup_"), nps_tasks(crm, "nps_referral_ask_")
    assert sorted(t.company_id for t in follow_ups) == sorted(company_id(crm, demo_company_of(n)) for n in detractors)
    assert sorted(t.company_id for t in asks) == sorted(company_id(crm, demo_company_of(n)) for n in promoters)
    for task in follow_ups:
        assert task.due_date == NEXT_BUSINESS_DAY and task.status == "open" and task.owner_id
        assert "NPS" in task.subject and task.deal_id and task.contact_id
    for task in asks:
        assert task.subject.startswith("Ask ") and "referral" in task.subject and task.deal_id
    for n in promoters:
        assert company_field(crm, company_id(crm, demo_company_of(n)), "company_referral_status") == "eligible"


@on("fake", "salesforce")
def test_given_run_twice_then_no_task_is_duplicated_and_nothing_is_rewritten(crm, store, tmp_path):
    source = demo_csv(tmp_path)
    first = run_nps(nps_job(crm, store, source))
    assert first.outcomes["created"] >= 6 and first.outcomes["updated"] > 10
    writes_before, tasks_before = write_calls(crm), keys_in_crm(crm)
    second = run_nps(nps_job(crm, store, source))
    assert second.plan_actions == [] and second.new_responses == 0
    assert write_calls(crm) == writes_before
    assert keys_in_crm(crm) == tasks_before and max(tasks_before.values()) == 1


@on("fake")
def test_given_dry_run_then_plan_shows_write_backs_and_tasks_and_nothing_is_written(crm, store, tmp_path):
    report = run_nps(nps_job(crm, store, demo_csv(tmp_path)), dry_run=True)
    kinds = collections.Counter(type(a).__name__ for a in report.plan_actions)
    assert kinds["UpdateRecord"] > 10 and kinds["CreateTask"] >= 6
    assert all(a.reason for a in report.plan_actions)
    company_writes = [a for a in report.plan_actions
                      if isinstance(a, UpdateRecord) and a.update.kind is RecordKind.COMPANY]
    assert len(company_writes) == len(DEMO.nps_responses)
    assert write_calls(crm) == 0 and nps_tasks(crm) == []
    assert store.recent_runs(None) == [] and store.nps_responses(scope(crm)) == []
    assert store.get_cursor(scope(crm), JOB) is None


@on("fake", "hubspot")
def test_given_state_store_lost_then_rerun_adopts_the_tasks_and_reopens_none(crm, tmp_path):
    source = demo_csv(tmp_path)
    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as store:
        run_nps(nps_job(crm, store, source))
    done = nps_tasks(crm)[0]
    crm.complete_task(done.crm_id)
    before = {t.key: (t.status, t.due_date, t.crm_id) for t in nps_tasks(crm)}
    with open_store(f"sqlite:///{tmp_path / 'b.db'}") as store:
        again = run_nps(nps_job(crm, store, source))
    assert again.outcomes.get("created", 0) == 0
    assert {t.key: (t.status, t.due_date, t.crm_id) for t in nps_tasks(crm)} == before


# --- matching ------------------------------------------------------------------------------------


@on("fake", "salesforce")
def test_given_unknown_email_then_kept_unmatched_with_reason_and_matched_once_the_contact_appears(
        crm, store, tmp_path):
    source = write_rows(tmp_path / "later.csv", [
        {"response_id": "late-1", "email": "New.Buyer@Acmecorp.example", "score": "3",
         "responded_at": "2026-03-01T09:00:00Z", "comment": "Nobody called back"}])
    first = run_nps(nps_job(crm, store, source))
    [unmatched] = first.unmatched
    assert unmatched.reason == "no CRM contact has the email 'new.buyer@acmecorp.example'"
    [kept] = store.nps_to_retry(scope(crm))
    assert (kept.status, kept.reason) == (NpsStatus.UNMATCHED, unmatched.reason)
    assert nps_tasks(crm) == []

    acme = next(c for c in DEMO.contacts if c.company == 0)
    set_contact_email(crm, acme.key, "NEW.BUYER@acmecorp.example")  # the CRM gains the contact
    second = run_nps(nps_job(crm, store, source))
    assert second.unmatched == [] and second.retried == 1 and second.new_responses == 0
    [task] = nps_tasks(crm, "nps_detractor_followup_")
    assert task.company_id == company_id(crm, 0)
    assert number(company_field(crm, company_id(crm, 0), "company_nps_score")) == "3"
    [stored] = store.nps_responses(scope(crm))
    assert (stored.status, stored.account_id, stored.attempts) == (NpsStatus.MATCHED, company_id(crm, 0), 2)
    third = run_nps(nps_job(crm, store, source))
    assert third.plan_actions == [] and third.retried == 0


@on("fake", "hubspot")
def test_given_account_id_without_email_then_matched_directly_to_that_account(crm, store, tmp_path):
    account = company_id(crm, 11)
    source = write_rows(tmp_path / "by-account.csv", [
        {"response_id": "acc-1", "email": "", "account_id": account, "score": "8",
         "responded_at": "2026-03-01T09:00:00Z"}])
    report = run_nps(nps_job(crm, store, source))
    assert report.unmatched == []
    assert company_field(crm, account, "company_nps_category") == "passive"


@on("fake")
def test_given_out_of_range_score_then_row_reported_and_nothing_written_for_it(crm, store, tmp_path):
    email = demo_response(1).email
    source = write_rows(tmp_path / "bad.csv", [
        {"response_id": "bad-1", "email": email, "score": "11", "responded_at": "2026-03-01T09:00:00Z"}])
    report = run_nps(nps_job(crm, store, source))
    [row] = report.source_rejected
    assert row.line == 2 and "11" in row.reason
    assert report.plan_actions == [] and write_calls(crm) == 0
    assert company_field(crm, company_id(crm, demo_company_of(1)), "company_nps_score") is None


@on("fake")
def test_given_csv_without_score_column_then_config_error_and_nothing_written(crm, store, tmp_path):
    source = write_rows(tmp_path / "wrong.csv", [{"email": "a@b.example", "responded_at": "2026-03-01"}])
    with pytest.raises(ConfigError, match="missing required column 'score'"):
        run_nps(nps_job(crm, store, source))
    assert write_calls(crm) == 0
    assert [r.outcome.value for r in store.recent_runs(scope(crm))] == ["failed"]


# --- HTTP source (respx-mocked survey API) ---------------------------------------------------------


def http_source() -> HttpSource:
    config = NpsSourceConfig(source="http", url=SURVEY_URL, token="survey-token", paging="none")
    return HttpSource(config, retry=RetrySettings(attempts=2, base_seconds=0.01, max_seconds=0.01),
                      sleep=lambda _seconds: None)


def survey_item(n: int) -> dict:
    r = demo_response(n)
    return {"id": r.response_id, "email": r.email, "score": r.score,
            "responded_at": r.responded_at.isoformat().replace("+00:00", "Z"), "comment": r.comment}


@on("fake")
@respx.mock
def test_given_http_source_then_responses_land_and_next_run_asks_since_the_stored_cursor(crm, store):
    route = respx.get(SURVEY_URL).mock(return_value=httpx.Response(200, json={"items": [survey_item(1), survey_item(6)]}))
    first = run_nps(nps_job(crm, store, http_source()))
    assert first.exit_code == 0 and first.responses_read == 2
    assert "since" not in route.calls.last.request.url.params
    assert store.get_cursor(scope(crm), JOB).modified == demo_response(1).responded_at
    assert number(company_field(crm, company_id(crm, demo_company_of(6)), "company_nps_score")) == "6"
    assert len(nps_tasks(crm)) == 2

    second = run_nps(nps_job(crm, store, http_source()))  # the API repeats its last items
    assert route.calls.last.request.url.params["since"] == "2026-03-02T10:00:00Z"
    assert second.new_responses == 0 and second.outcomes.get("created", 0) == 0


@on("fake")
@respx.mock
def test_given_garbage_from_http_source_then_source_stopped_with_clear_error_and_cursor_kept(crm, store):
    respx.get(SURVEY_URL).mock(return_value=httpx.Response(200, json={"items": [survey_item(1)]}))
    run_nps(nps_job(crm, store, http_source()))
    cursor = store.get_cursor(scope(crm), JOB)
    writes = write_calls(crm)
    respx.get(SURVEY_URL).mock(return_value=httpx.Response(200, text="<html>502 Bad Gateway</html>"))
    report = run_nps(nps_job(crm, store, http_source()))
    assert report.exit_code == 1
    assert SURVEY_URL in report.source_error and "JSON" in report.source_error
    assert store.get_cursor(scope(crm), JOB) == cursor
    assert write_calls(crm) == writes
    [last, _] = store.recent_runs(scope(crm), 2)
    assert last.outcome.value == "failed" and last.error == report.source_error


# --- demo helper --------------------------------------------------------------------------------------


def test_given_demo_dataset_then_write_demo_csv_gives_the_csv_source_every_response(tmp_path):
    batch = demo_csv(tmp_path).fetch(None)
    assert batch.rejected == ()
    assert [(r.response_id, r.email, r.score, r.responded_at, r.comment) for r in batch.responses] == [
        (r.response_id, r.email, r.score, r.responded_at, r.comment) for r in DEMO.nps_responses]


def test_given_hubspot_contact_whose_email_changed_seconds_ago_then_matched_in_the_same_run(tmp_path):
    """Matching reads contacts by email from HubSpot's record store (batch read, idProperty=email),
    not its search index, which shows a write seconds (here: an hour) late."""
    from tests.contract.hubspot_harness import open_harness

    with open_harness(fieldmap=nps_mapping("hubspot")) as h, open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        h.adapter.setup()
        h.sandbox.search_lag = 3600
        acme = next(c for c in DEMO.contacts if c.company == 0)
        set_contact_email(h, acme.key, "brand.new@acmecorp.example")
        source = write_rows(tmp_path / "now.csv", [
            {"response_id": "now-1", "email": "Brand.New@acmecorp.example", "score": "10",
             "responded_at": "2026-03-01T09:00:00Z", "comment": "Great start"}])
        calls_before = h.sandbox.controls.snapshot()
        report = run_nps(nps_job(h, store, source))
        calls = h.sandbox.controls.snapshot()
    assert report.unmatched == []
    assert number(company_field(h, company_id(h, 0), "company_nps_score")) == "10"
    searched = calls.get("POST /crm/v3/objects/contacts/search", 0) - calls_before.get(
        "POST /crm/v3/objects/contacts/search", 0)
    assert searched == 0
