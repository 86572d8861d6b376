"""The Salesforce adapter against the Salesforce sandbox, over HTTPS, through simple-salesforce."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time

import pytest

from connector.actions import CloseTask, CreateTask, Outcome, UpdateRecord, UpdateTask
from connector.errors import AuthError, FatalCrmError, QuotaExhaustedError
from connector.mapping import FieldSpec, FieldType
from connector.model import Priority, RecordKind, RecordUpdate, TaskSpec, TaskType
from connector.retry import RetrySettings
from connector.sandbox.salesforce import INTEGRATION_USERNAME
from jobs.sync import DealStream
from tests.contract.salesforce_harness import open_harness
from tests.streams import read_deals, read_deals_by_id

UTC = dt.UTC


@pytest.fixture
def h():
    with open_harness() as harness:
        yield harness


def deals_of(pages):
    return [deal for page in pages for deal in page.deals]


def spec_for(deal, touch_point="kickoff", days=3, key=None, **kw) -> TaskSpec:
    values = dict(
        key=key or f"ac1:salesforce:{deal.id}:{touch_point}:0", deal_id=deal.id, touch_point=touch_point,
        subject=f"Kickoff call: {deal.name}", body="Goal: grow share.",
        due_at=dt.datetime(2026, 3, 2, 9, tzinfo=UTC) + dt.timedelta(days=days),
        owner_id=deal.owner.id if deal.owner else None, priority=Priority.HIGH, type=TaskType.CALL,
        company_id=deal.company.id if deal.company else None,
        contact_id=deal.main_contact.id if deal.main_contact else None)
    values.update(kw)
    return TaskSpec(**values)


def active_deals(adapter):
    return [d for d in deals_of(read_deals(adapter, None)) if d.owner and d.owner.active and d.contacts]


# --- reading ------------------------------------------------------------------------------------

def test_given_small_pages_when_pulling_then_every_page_is_followed_and_calls_match():
    with open_harness(page_size=4) as h:
        before = h.adapter.call_stats().total
        pages = list(read_deals(h.adapter, None))
        deals = deals_of(pages)
        assert {d.id for d in deals} == h.won_deal_ids()
        assert len(pages) == math.ceil(len(deals) / 4) > 5
        assert h.adapter.call_stats().total - before == len(pages)


def test_given_three_deals_with_one_timestamp_when_resuming_between_them_then_none_lost_or_repeated():
    with open_harness(page_size=1) as h:
        pages = list(read_deals(h.adapter, None))
        ties = [p for p in pages if p.deals[0].name.startswith("Same Second Deal")]
        assert len(ties) == 3 and len({p.deals[0].last_modified for p in ties}) == 1
        everything = [d.id for d in deals_of(pages)]
        for page in ties:
            rest = [d.id for d in deals_of(read_deals(h.adapter, page.cursor))]
            assert rest == everything[everything.index(page.deals[0].id) + 1:]


def test_given_edits_after_the_cursor_then_incremental_pull_returns_exactly_those_in_edit_order(h):
    last = list(read_deals(h.adapter, None))[-1].cursor
    first, second = active_deals(h.adapter)[:2]
    h.set_field(second.id, "success_criteria", "Adoption above 90% by day 60")
    time.sleep(0.01)  # two distinct SystemModstamp milliseconds, so the order is the edit order
    h.set_field(first.id, "decision_criteria", "Price, SSO, and \"O'Reilly\" as reference")
    again = deals_of(read_deals(h.adapter, last))
    assert [d.id for d in again] == [second.id, first.id]
    assert again[1].value("decision_criteria") == "Price, SSO, and \"O'Reilly\" as reference"
    assert deals_of(read_deals(h.adapter, list(read_deals(h.adapter, last))[-1].cursor)) == []


def test_given_won_deal_lost_that_afterclose_never_handled_then_it_is_not_pulled(h):
    last = list(read_deals(h.adapter, None))[-1].cursor
    deal = active_deals(h.adapter)[0]
    h.mark_lost(deal.id)
    assert deals_of(read_deals(h.adapter, last)) == []


def test_given_handled_deal_marked_lost_then_it_returns_with_is_won_false_and_its_fields(h):
    deal = active_deals(h.adapter)[0]
    h.adapter.apply([UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=deal.id, values={
        "handoff_status": "complete"}), deal_id=deal.id, reason="t")])
    last = list(read_deals(h.adapter, None))[-1].cursor
    h.mark_lost(deal.id)
    [again] = deals_of(read_deals(h.adapter, last))
    assert (again.id, again.is_won, again.value("handoff_status")) == (deal.id, False, "complete")


def test_given_deal_then_owner_company_roles_and_typed_values_arrive_as_text(h):
    deal = next(d for d in active_deals(h.adapter) if d.value("renewal_date"))
    assert deal.owner.email.endswith("@vendor.example") and deal.owner.name
    assert deal.company.name and len(deal.contacts) == 2
    assert sum(c.is_primary for c in deal.contacts) == 1 and all(c.role and c.email for c in deal.contacts)
    assert dt.date.fromisoformat(deal.value("renewal_date")) > deal.close_date
    assert deal.amount and not deal.amount.endswith(".0")
    inactive = next(d for d in deals_of(read_deals(h.adapter, None)) if d.name == "Orphaned Account Co")
    assert inactive.owner.active is False


# --- schema -------------------------------------------------------------------------------------

def test_given_org_without_afterclose_fields_then_each_missing_field_is_named_and_setup_creates_it():
    with open_harness(afterclose_fields=False) as h:
        problems = h.adapter.check_schema()
        named = {(p.mapping_key, p.crm_field) for p in problems}
        assert ("fields.handoff_status", "Opportunity.Handoff_Status__c") in named
        assert ("fields.company_nps_score", "Account.NPS_Score__c") in named
        assert ("task_key_field", "Task.AfterClose_Key__c") in named
        steps = h.adapter.setup()
        assert any("Task.AfterClose_Key__c" in s and "External ID" in s and "Unique" in s for s in steps)
        assert "created Opportunity.Handoff_Status__c (Picklist: complete, incomplete)" in steps
        assert "exists Opportunity.Decision_Criteria__c" in steps
        assert h.adapter.check_schema() == []


def test_given_org_with_afterclose_fields_then_setup_reports_every_field_present_and_only_grants_access():
    with open_harness() as h:  # its own org: setup writes the permission set
        lines = h.adapter.setup()
        fields = [line for line in lines if line.startswith(("exists ", "created "))
                  and "permission set" not in line]
        assert fields and all(line.startswith("exists ") for line in fields)
        assert "exists Task.AfterClose_Key__c" in lines
        assert "created permission set AfterClose_Integration (AfterClose Integration)" in lines
        assert h.sandbox.controls.snapshot().get("tooling_create", 0) == 0


def test_given_mapping_pointing_at_wrong_fields_then_type_readonly_and_picklist_problems_are_reported(h):
    fields = dict(h.fieldmap.fields)
    fields["nps_date"] = FieldSpec(canonical="nps_date", record=RecordKind.DEAL, crm_name="LastModifiedDate",
                                   type=FieldType.DATE, write=True)
    fields["handoff_missing"] = FieldSpec(canonical="handoff_missing", record=RecordKind.DEAL,
                                          crm_name="ForecastCategory", type=FieldType.TEXT, write=True)
    fields["nps_category"] = FieldSpec(canonical="nps_category", record=RecordKind.DEAL, crm_name="Type",
                                       type=FieldType.ENUM, options=("promoter", "New Customer"), write=True)
    fields["nps_score"] = FieldSpec(canonical="nps_score", record=RecordKind.DEAL, crm_name="CloseDate",
                                    type=FieldType.NUMBER, write=True)
    mapping = type(h.fieldmap)(provider=h.fieldmap.provider, source="custom.toml", fields=fields,
                               handoff_rules=(), templates=h.fieldmap.templates,
                               task_key_field=h.fieldmap.task_key_field)
    with h.new_adapter(fieldmap=mapping) as adapter:
        before = h.calls()
        problems = {p.mapping_key: str(p) for p in adapter.check_schema()}
        assert adapter.check_schema() is not None and h.calls() - before == 3  # describes cached per run
    assert set(problems) == {"fields.nps_date", "fields.handoff_missing", "fields.nps_category", "fields.nps_score"}
    # A date fits a date-time field (connector/mapping/compat.py), but this one is read-only.
    assert "Opportunity.LastModifiedDate" in problems["fields.nps_date"] and "not updateable" in problems["fields.nps_date"]
    assert "mapped as number, the field is date" in problems["fields.nps_score"]
    assert "free text is not a fixed set of options" in problems["fields.handoff_missing"]
    assert "lacks option(s) AfterClose writes: promoter (has: " in problems["fields.nps_category"]


# --- writes -------------------------------------------------------------------------------------

def test_given_same_tasks_applied_twice_then_each_key_exists_once(h):
    actions = [CreateTask(spec=spec_for(d), reason="t") for d in active_deals(h.adapter)]
    first = h.adapter.apply(actions)
    second = h.adapter.apply(actions)
    assert {r.outcome for r in first} == {Outcome.CREATED}
    assert {r.outcome for r in second} == {Outcome.UPDATED}
    assert [r.crm_id for r in first] == [r.crm_id for r in second]
    keys = [t.key for t in h.tasks()]
    assert sorted(keys) == sorted(a.spec.key for a in actions)


def test_given_response_lost_after_upsert_when_retried_then_no_duplicate(h):
    deal = active_deals(h.adapter)[0]
    h.sandbox.controls.add_fault("drop_after", endpoint="collections_upsert", count=1)
    [result] = h.adapter.apply([CreateTask(spec=spec_for(deal), reason="t")])
    assert result.outcome is Outcome.UPDATED and result.crm_id  # the retry found the task it made
    assert [t.crm_id for t in h.tasks() if t.key == spec_for(deal).key] == [result.crm_id]
    assert h.adapter.call_stats().by_endpoint["composite/sobjects:upsert"] == 2


def test_given_inactive_owner_in_batch_then_only_that_task_is_rejected_with_salesforce_code(h):
    deals = deals_of(read_deals(h.adapter, None))
    orphan = next(d for d in deals if d.name == "Orphaned Account Co")
    good = active_deals(h.adapter)[:2]
    results = h.adapter.apply([CreateTask(spec=spec_for(d), reason="t") for d in (good[0], orphan, good[1])])
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.REJECTED, Outcome.CREATED]
    assert results[1].error_code == "INACTIVE_OWNER_OR_USER" and "OwnerId" in results[1].message
    assert len(h.tasks()) == 2


def test_given_task_rescheduled_and_closed_by_key_only_then_same_task_moves_and_completes(h):
    deal = active_deals(h.adapter)[0]
    created = h.adapter.apply([CreateTask(spec=spec_for(deal), reason="t")])[0]
    moved = spec_for(deal, days=30, subject="Kickoff (moved)")
    results = h.adapter.apply([
        UpdateTask(spec=moved, crm_id=None, changes=("due",), reason="t"),
        CloseTask(key="ac1:salesforce:unknown:kickoff:0", deal_id=deal.id, crm_id=None, reason="t"),
    ])
    assert [r.outcome for r in results] == [Outcome.UPDATED, Outcome.UNCHANGED]
    closed = h.adapter.apply([CloseTask(key=moved.key, deal_id=deal.id, crm_id=None, reason="t")])[0]
    assert closed.outcome is Outcome.CLOSED and closed.crm_id == created.crm_id
    [task] = h.tasks()
    assert (task.due_date, task.status, task.subject) == (moved.due_date, "completed", "Kickoff (moved)")


def test_given_write_backs_for_deal_and_account_then_typed_values_land_and_bad_ones_are_rejected(h):
    deal = active_deals(h.adapter)[0]
    results = h.adapter.apply([
        UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=deal.id, values={
            "nps_score": "9", "nps_category": "promoter", "nps_date": "2026-03-01"}), deal_id=deal.id, reason="t"),
        UpdateRecord(update=RecordUpdate(kind=RecordKind.COMPANY, record_id=deal.company.id, values={
            "company_referral_status": "eligible"}), deal_id=deal.id, reason="t"),
        UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=deal.id, values={
            "handoff_status": "half-done"}), deal_id=deal.id, reason="t"),
    ])
    assert [r.outcome for r in results] == [Outcome.UPDATED, Outcome.UPDATED, Outcome.REJECTED]
    assert (results[2].error_code and "half-done" in results[2].message) or "Handoff_Status__c" in results[2].message
    assert (h.field(deal.id, "nps_score"), h.field(deal.id, "nps_category")) == ("9", "promoter")
    account = next(r for r in h.sandbox.records("Account") if r["Id"] == deal.company.id)
    assert account["Referral_Status__c"] == "eligible"


# --- SOQL safety --------------------------------------------------------------------------------

@pytest.mark.parametrize("hostile", [
    "k' OR AfterClose_Key__c != '", "back\\slash\\' OR '1'='1", "Müller — ключ 🚀 \"q\"", "line\nbreak",
])
def test_given_hostile_key_then_it_is_stored_and_found_as_exactly_itself(h, hostile):
    deal = active_deals(h.adapter)[0]
    decoy = h.adapter.apply([CreateTask(spec=spec_for(deal, touch_point="decoy"), reason="t")])[0]
    made = h.adapter.apply([CreateTask(spec=spec_for(deal, key=hostile), reason="t")])[0]
    assert made.outcome is Outcome.CREATED
    found = h.adapter.find_tasks([hostile, "x' OR Id != '"])
    assert set(found) == {hostile} and found[hostile].crm_id == made.crm_id != decoy.crm_id


def test_given_hostile_deal_ids_then_nothing_matches_and_nothing_breaks(h):
    real = sorted(h.won_deal_ids())[0]
    got = deals_of(read_deals_by_id(h.adapter, ["006' OR Name != '", "x\\' OR IsWon = true OR Id = '", real]))
    assert [d.id for d in got] == [real]


# --- auth, limits, faults, TLS ------------------------------------------------------------------

def test_given_direct_token_when_session_expires_then_clear_auth_error(h):
    h.sandbox.expire_sessions()
    with pytest.raises(AuthError, match="no login credentials"):
        read_deals(h.adapter, None)


def test_given_daily_allowance_nearly_spent_then_adapter_stops_before_the_reserve():
    with open_harness(daily_limit=10) as h:
        for _ in range(10):
            try:
                h.adapter.find_tasks(["any-key"])
            except QuotaExhaustedError as stop:
                assert "20%" in str(stop) and stop.error_code == "DAILY_RESERVE"
                break
        else:
            pytest.fail("the adapter never stopped")
        assert h.calls() == 8  # 2 of 10 calls (20%) left for other integrations
        with pytest.raises(QuotaExhaustedError):
            h.adapter.find_tasks(["another-key"])
        assert h.calls() == 8


def test_given_org_cap_reached_then_quota_error_without_retries(h):
    h.sandbox.controls.add_fault("quota", endpoint="*")
    before = h.calls()
    with pytest.raises(QuotaExhaustedError):
        list(read_deals(h.adapter, None))
    assert h.calls() - before == 1


def test_given_5xx_storm_then_pull_and_writes_converge():
    with open_harness(page_size=5, retry=RetrySettings(attempts=8, base_seconds=0.001, max_seconds=0.001)) as h:
        expected = h.won_deal_ids()
        h.sandbox.controls.add_fault("server_error", endpoint="*", rate=0.4)
        deals = deals_of(read_deals(h.adapter, None))
        assert {d.id for d in deals} == expected and len(deals) == len(expected)
        results = h.adapter.apply([CreateTask(spec=spec_for(d), reason="t") for d in deals[:10]
                                   if d.owner and d.owner.active])
        assert all(not r.rejected for r in results)
        assert len(h.tasks()) == len(results)


def test_given_reply_slower_than_timeout_then_call_is_abandoned_and_retried(h):
    h.sandbox.controls.add_fault("slow", endpoint="query", seconds=1.0, count=1)
    with h.new_adapter(timeout_seconds=0.3) as adapter:
        started = time.monotonic()
        deals = deals_of(read_deals(adapter, None))
        assert time.monotonic() - started < 0.9
    assert {d.id for d in deals} == h.won_deal_ids()
    assert h.sandbox.controls.snapshot()["query"] == 2


def test_given_server_without_trusted_certificate_then_fatal_error_says_set_ca_bundle(h):
    with h.new_adapter(ca_bundle=None) as adapter, pytest.raises(FatalCrmError, match="ca_bundle"):
        list(read_deals(adapter, None))


def test_given_demo_run_then_calls_match_the_documented_formula(h):
    """docs/salesforce-adapter.md: 3 describes + ceil(N/B) pages + ceil(N·t/200) upserts + ceil(N/200)
    updates for N won deals, t=1 task each, one write-back each."""
    before_sandbox = h.calls()
    assert h.adapter.check_schema() == []
    deals = deals_of(read_deals(h.adapter, None))
    creates = [CreateTask(spec=spec_for(d, owner_id=None), reason="t") for d in deals]
    writes = [UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=d.id, values={
        "handoff_status": "complete"}), deal_id=d.id, reason="t") for d in deals]
    results = h.adapter.apply([*creates, *writes])
    assert not [r for r in results if r.rejected]
    n = len(deals)
    formula = 3 + math.ceil(n / 500) + math.ceil(n / 200) + math.ceil(n / 200)
    assert h.adapter.call_stats().total == formula == h.calls() - before_sandbox == 6


# --- login flows and session renewal --------------------------------------------------------------

def login_settings(h, **credentials):
    """Settings that must log in (no token), against the sandbox as login server."""
    return dict(access_token=None, instance_url=None, domain=h.endpoint.base_url, **credentials)


SOAP = dict(username=INTEGRATION_USERNAME, password="sandbox-password", security_token="sandboxsecuritytoken")
OAUTH_PASSWORD = dict(username=INTEGRATION_USERNAME, password="sandbox-password",
                      security_token="sandboxsecuritytoken", consumer_key="afterclose-sandbox-client-id",
                      consumer_secret="afterclose-sandbox-client-secret")
CLIENT_CREDENTIALS = dict(consumer_key="afterclose-sandbox-client-id",
                          consumer_secret="afterclose-sandbox-client-secret")


@pytest.mark.parametrize("credentials", [SOAP, OAUTH_PASSWORD, CLIENT_CREDENTIALS],
                         ids=["soap-password", "oauth-password", "client-credentials"])
def test_given_login_credentials_then_adapter_logs_in_once_and_reads(h, credentials):
    with h.new_adapter(**login_settings(h, **credentials)) as adapter:
        assert {d.id for d in deals_of(read_deals(adapter, None))} == h.won_deal_ids()
        assert adapter.call_stats().by_endpoint["login"] == 1


def test_given_jwt_bearer_with_signed_assertion_then_adapter_logs_in(h, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "afterclose.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    h.sandbox.connected_app.public_key_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with h.new_adapter(**login_settings(h, username=INTEGRATION_USERNAME, consumer_key="afterclose-sandbox-client-id",
                                        private_key_file=str(key_file))) as adapter:
        assert adapter.check_schema() == []


def test_given_wrong_password_then_auth_error_without_retries(h):
    with h.new_adapter(**login_settings(h, **{**SOAP, "password": "nope"})) as adapter, \
            pytest.raises(AuthError, match="INVALID_LOGIN|login refused"):
        adapter.check_schema()
    assert h.sandbox.controls.snapshot().get("soap_login") == 1


def test_given_session_expires_mid_pull_then_adapter_logs_in_again_once_and_continues(h):
    with open_harness(page_size=5) as h, h.new_adapter(**login_settings(h, **OAUTH_PASSWORD)) as adapter:
        stream = DealStream(adapter)
        pages = stream.changed_since(None)
        first = next(pages)
        h.sandbox.expire_sessions()
        rest = deals_of(pages)
        stream.close()
        assert {d.id for d in (*first.deals, *rest)} == h.won_deal_ids()
        assert adapter.call_stats().by_endpoint["login"] == 2


def test_given_session_dies_again_right_after_renewal_then_auth_error_not_a_loop(h):
    with h.new_adapter(**login_settings(h, **SOAP)) as adapter:
        adapter.check_schema()
        h.sandbox.controls.add_fault("expired_auth", endpoint="query", count=2)
        with pytest.raises(AuthError):
            list(read_deals(adapter, None))
        assert adapter.call_stats().by_endpoint["login"] == 2
        assert h.sandbox.controls.snapshot()["query"] == 2


def test_the_live_fields_are_listed_for_the_field_picker_as_describe_shows_them(h):
    from connector.mapping.compat import CrmKind
    from connector.port import SupportsFieldList

    assert isinstance(h.adapter, SupportsFieldList)
    fields = {f.name: f for f in h.adapter.crm_fields(RecordKind.DEAL)}
    assert fields["Referral_Status__c"].kind is CrmKind.PICKLIST and fields["Referral_Status__c"].own
    assert "declined" in fields["Referral_Status__c"].options
    assert fields["CloseDate"].kind is CrmKind.DATE and not fields["CloseDate"].own
    contacts = {f.name: f for f in h.adapter.crm_fields(RecordKind.CONTACT)}
    assert contacts["Email"].kind is CrmKind.FORMATTED_TEXT


def test_given_a_number_mapped_to_a_text_field_then_check_notes_it_and_the_write_sends_its_text(h):
    """connector/mapping/compat.py: a number fits a text field, written as its text (``write_as``)."""
    fields = dict(h.fieldmap.fields)
    del fields["handoff_missing"]
    fields["nps_score"] = dataclasses.replace(fields["nps_score"], crm_name="Handoff_Missing__c")
    mapping = dataclasses.replace(h.fieldmap, fields=fields)
    with h.new_adapter(fieldmap=mapping) as probe:
        [note] = [p for p in probe.check_schema() if p.mapping_key == "fields.nps_score"]
    assert note.note and note.write_as is FieldType.TEXT and "the textarea field takes this number value" in note.problem
    deal = active_deals(h.adapter)[0]
    with h.new_adapter(fieldmap=mapping.fitted(write_as={"nps_score": FieldType.TEXT})) as adapter:
        [result] = adapter.apply([UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=deal.id, values={
            "nps_score": "9"}), deal_id=deal.id, reason="t")])
    assert result.outcome is Outcome.UPDATED
    opportunity = next(r for r in h.sandbox.records("Opportunity") if r["Id"] == deal.id)
    assert opportunity["Handoff_Missing__c"] == "9"
