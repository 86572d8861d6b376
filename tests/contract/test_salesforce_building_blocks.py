"""Salesforce adapter pieces that need no server: SOQL building, paging rules, error facts,
settings validation, write payloads. The sandbox-backed behaviour is in test_salesforce_adapter.py."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from connector.actions import CloseTask, CreateTask, Outcome, UpdateRecord, UpdateTask
from connector.errors import (
    AuthError,
    ConfigError,
    FatalCrmError,
    PagingError,
    QuotaExhaustedError,
    RetriableError,
    TlsError,
)
from connector.mapping import builtin_mapping, load_mapping
from connector.model import Cursor, Priority, RecordKind, RecordUpdate, TaskSpec, TaskType
from connector.retry import classify
from connector.salesforce import AuthFlow, SalesforceAdapter, SalesforceSettings, soql, writes
from connector.salesforce.errors import facts_of
from connector.salesforce.paging import QueryPaginator
from connector.salesforce.pull import as_text
from tests.builders import settings_problems

UTC = dt.UTC
MAPPING = load_mapping(builtin_mapping("salesforce"))


def spec(**kw) -> TaskSpec:
    values = dict(key="ac1:salesforce:006:kickoff:0", deal_id="006Dn0000000001AAA", touch_point="kickoff",
                  subject="Kickoff", body="Body", due_at=dt.datetime(2026, 3, 5, 9, tzinfo=UTC),
                  owner_id="005Dn0000000001AAA", priority=Priority.HIGH, type=TaskType.TODO,
                  contact_id="003Dn0000000001AAA")
    values.update(kw)
    return TaskSpec(**values)


# --- SOQL ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("hostile", ["x' OR Name != '", "back\\slash\\' OR '1'='1", "Café — 🚀 \"q\"\n"])
def test_given_hostile_task_key_when_building_query_then_it_stays_one_quoted_literal(hostile):
    query = soql.tasks_by_keys("AfterClose_Key__c", [hostile, "plain"])
    literal = query.split(" IN (", 1)[1].rsplit(") ORDER BY", 1)[0]
    # Every quote inside the value is escaped, so the list holds exactly two literals.
    assert literal.count("'") - literal.count("\\'") == 4
    assert "OR Name" not in query.replace(hostile.replace("'", "\\'"), "")


def test_given_cursor_then_query_reads_from_its_second_and_orders_by_stamp_then_id():
    cursor = Cursor(modified=dt.datetime(2026, 2, 28, 6, 0, 0, 123000, tzinfo=UTC), deal_id="006x")
    query = soql.won_deals_since(MAPPING, cursor)
    assert "SystemModstamp >= 2026-02-28T06:00:00+00:00" in query
    assert "(IsWon = true OR Handoff_Status__c != null)" in query
    assert query.endswith("ORDER BY SystemModstamp, Id")
    assert "Owner.IsActive" in query and "FROM OpportunityContactRoles)" in query


def test_given_mapping_with_non_api_field_name_then_config_error_names_the_key():
    bad = load_mapping(builtin_mapping("salesforce"))
    spec_ = bad.fields["customer_goal"]
    fields = dict(bad.fields)
    fields["customer_goal"] = type(spec_)(canonical="customer_goal", record=spec_.record,
                                          crm_name="Goal__c FROM User --", type=spec_.type)
    broken = type(bad)(provider=bad.provider, source="x.toml", fields=fields, handoff_rules=(),
                       templates=bad.templates, task_key_field=bad.task_key_field)
    with pytest.raises(ConfigError, match="fields.customer_goal"):
        soql.deal_columns(broken)


def test_given_many_long_keys_then_in_lists_are_bounded_by_count_and_length():
    keys = [f"key-{n}-" + "x" * 100 for n in range(500)]
    chunks = list(soql.in_list_chunks(keys))
    assert sum(len(c) for c in chunks) == 500
    assert all(len(c) <= 200 and sum(len(k) + 3 for k in c) <= soql.IN_LIST_MAX_CHARS for c in chunks)


# --- paging ------------------------------------------------------------------------------------

def test_given_done_false_without_next_url_then_paging_error():
    paginator = QueryPaginator()
    page = {"done": False, "records": [], "totalSize": 3}
    paginator.records(page)
    with pytest.raises(PagingError, match="no nextRecordsUrl"):
        paginator.next_url(page)


def test_given_repeated_next_url_then_paging_error():
    paginator = QueryPaginator()
    page = {"done": False, "records": [], "nextRecordsUrl": "/services/data/v59.0/query/01g-200"}
    paginator.records(page)
    assert paginator.next_url(page)
    paginator.records(page)
    with pytest.raises(PagingError, match="repeated"):
        paginator.next_url(page)


def test_given_next_url_on_another_host_then_paging_error():
    paginator = QueryPaginator()
    page = {"done": False, "records": [], "nextRecordsUrl": "https://evil.example/services/x"}
    paginator.records(page)
    with pytest.raises(PagingError, match="not a path"):
        paginator.next_url(page)


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("exc", "expected"), [
    (SalesforceRefusedRequest("u", 403, "query", [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "cap"}]),
     QuotaExhaustedError),
    (SalesforceExpiredSession("u", 401, "query", [{"errorCode": "INVALID_SESSION_ID", "message": "x"}]), AuthError),
    (SalesforceRefusedRequest("u", 403, "query", [{"errorCode": "INSUFFICIENT_ACCESS", "message": "x"}]), AuthError),
    (SalesforceMalformedRequest("u", 400, "query", [{"errorCode": "MALFORMED_QUERY", "message": "x"}]),
     FatalCrmError),
    (SalesforceGeneralError("u", 503, "query", "<html>down</html>"), RetriableError),
    (SalesforceAuthenticationFailed(503, "<html>maintenance</html>"), RetriableError),
    (SalesforceAuthenticationFailed("invalid_grant", "authentication failure"), AuthError),
    (requests.exceptions.ReadTimeout("slow"), RetriableError),
    (requests.exceptions.ConnectionError("reset"), RetriableError),
    # A certificate that cannot be verified: a set-up problem (a FatalCrmError that exits 2).
    (requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), TlsError),
])
def test_given_sdk_exception_then_classified_for_what_caller_does_next(exc, expected):
    error = classify(facts_of(exc, "query"))
    assert type(error) is expected
    assert error.provider == "salesforce"


def test_given_quota_error_then_vendor_code_and_message_survive():
    exc = SalesforceRefusedRequest("u", 403, "q", [{"errorCode": "REQUEST_LIMIT_EXCEEDED",
                                                      "message": "TotalRequests Limit exceeded."}])
    error = classify(facts_of(exc, "query"))
    assert error.error_code == "REQUEST_LIMIT_EXCEEDED" and "TotalRequests" in str(error)


def test_given_unknown_exception_then_not_classified():
    assert facts_of(KeyError("bug")) is None


# --- settings ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "flow"), [
    (dict(instance_url="https://x.my.salesforce.com", access_token="t"), AuthFlow.DIRECT),
    (dict(username="u", password="p", security_token="s"), AuthFlow.PASSWORD_SOAP),
    (dict(username="u", password="p", consumer_key="k", consumer_secret="s"), AuthFlow.PASSWORD_OAUTH),
    (dict(username="u", consumer_key="k", private_key_file="key.pem"), AuthFlow.JWT),
    (dict(consumer_key="k", consumer_secret="s", domain="acme.my"), AuthFlow.CLIENT_CREDENTIALS),
])
def test_given_credentials_then_matching_login_flow(kwargs, flow):
    assert SalesforceSettings(**kwargs).auth_flow() is flow


@pytest.mark.parametrize(("kwargs", "key"), [
    (dict(), "salesforce"),
    (dict(instance_url="http://127.0.0.1:1", access_token="t"), "salesforce.instance_url"),
    (dict(instance_url="https://x", access_token="t", api_version="v59.0"), "salesforce.api_version"),
    (dict(instance_url="https://x", access_token="t", daily_reserve_share=1.0), "salesforce.daily_reserve_share"),
    (dict(consumer_key="k", consumer_secret="s"), "salesforce.domain"),
])
def test_given_bad_settings_then_config_error_names_the_key(kwargs, key):
    assert key in settings_problems(crm={"provider": "salesforce"}, salesforce=kwargs)


def test_given_adapter_built_without_any_login_then_config_error_names_the_section():
    with pytest.raises(ConfigError, match="no way to log in"):
        SalesforceAdapter(settings=SalesforceSettings(), fieldmap=load_mapping(builtin_mapping("salesforce")))


def test_given_settings_then_secrets_never_print():
    text = repr(SalesforceSettings(username="u", password="hunter2", security_token="tok123"))
    assert "hunter2" not in text and "tok123" not in text


# --- write payloads -----------------------------------------------------------------------------

def test_given_task_spec_then_record_carries_links_key_and_salesforce_picklist_values():
    record = writes.task_record(spec(subject="S" * 300), MAPPING)
    assert record["AfterClose_Key__c"] == "ac1:salesforce:006:kickoff:0"
    assert (record["WhatId"], record["WhoId"], record["OwnerId"]) == (
        "006Dn0000000001AAA", "003Dn0000000001AAA", "005Dn0000000001AAA")
    assert (record["Priority"], record["Type"], record["Status"]) == ("High", "Other", "Not Started")
    assert record["ActivityDate"] == "2026-03-05" and len(record["Subject"]) == 255


def test_given_write_back_values_then_typed_for_salesforce_and_none_clears():
    action = UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id="006Dn0000000001AAA", values={
        "nps_score": "9", "nps_date": "2026-03-01", "handoff_missing": None}), deal_id="006", reason="t")
    record = writes.record_update(action, MAPPING)
    assert record["NPS_Score__c"] == 9 and record["NPS_Date__c"] == "2026-03-01"
    assert record["Handoff_Missing__c"] is None


@pytest.mark.parametrize(("values", "code"), [
    ({"no_such_field": "x"}, "UNMAPPED_FIELD"),
    ({"customer_goal": "x"}, "NOT_A_WRITE_BACK_FIELD"),
    ({"nps_score": "nine"}, "INVALID_VALUE"),
])
def test_given_unwritable_update_then_refused_with_reason(values, code):
    action = UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id="006", values=values),
                          deal_id="006", reason="t")
    with pytest.raises(writes.Refused) as caught:
        writes.record_update(action, MAPPING)
    assert caught.value.code == code


def test_given_same_record_twice_then_it_goes_to_separate_collections():
    items = ["a", "b", "a", "c"] + [f"x{n}" for n in range(300)]
    chunks = writes.chunks(items, lambda x: x)
    assert all(len(c) == len(set(c)) and len(c) <= 200 for c in chunks)
    assert [x for c in chunks for x in c] == items


def test_given_collection_results_then_outcomes_follow_created_flag_and_errors():
    create = CreateTask(spec=spec(), reason="t")
    pending = writes.Pending(0, create, {})
    assert writes.outcome_of(pending, {"id": "00T1", "success": True, "created": True}).outcome is Outcome.CREATED
    again = writes.outcome_of(pending, {"id": "00T1", "success": True, "created": False})
    assert again.outcome is Outcome.UPDATED and again.crm_id == "00T1"
    refused = writes.outcome_of(pending, {"success": False, "errors": [
        {"statusCode": "INACTIVE_OWNER_OR_USER", "message": "operation performed with inactive user",
         "fields": ["OwnerId"]}]})
    assert refused.outcome is Outcome.REJECTED and refused.error_code == "INACTIVE_OWNER_OR_USER"
    assert "inactive user" in refused.message and "OwnerId" in refused.message
    update = writes.Pending(0, UpdateTask(spec=spec(), crm_id=None, changes=("due",), reason="t"), {})
    assert writes.outcome_of(update, {"id": "00T1", "success": True, "created": False}).outcome is Outcome.UPDATED
    close = writes.Pending(0, CloseTask(key="k", deal_id="006", crm_id="00T1", reason="t"), {"Id": "00T1"})
    deleted = writes.outcome_of(close, {"success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED",
                                                                      "message": "entity is deleted"}]})
    assert deleted.outcome is Outcome.UNCHANGED


@pytest.mark.parametrize(("raw", "text"), [(9.0, "9"), (12500.5, "12500.5"), (True, "true"), ("", None),
                                           (None, None), ("  ", "  "), ("2026-03-01", "2026-03-01")])
def test_given_raw_salesforce_value_then_rendered_as_text(raw, text):
    assert as_text(raw) == text


def test_given_concurrency_cap_then_backed_off_not_treated_as_daily_quota():
    exc = SalesforceRefusedRequest("u", 403, "q", [{"errorCode": "REQUEST_LIMIT_EXCEEDED",
                                                      "message": "ConcurrentPerOrgLongTxn Limit exceeded."}])
    error = classify(facts_of(exc, "query"))
    assert isinstance(error, RetriableError) and not isinstance(error, QuotaExhaustedError)


def test_given_unknown_extras_key_then_config_error_names_it():
    mapping = load_mapping(builtin_mapping("salesforce"))
    broken = type(mapping)(provider=mapping.provider, source="sf.toml", fields=mapping.fields,
                           handoff_rules=(), templates=mapping.templates, task_key_field="AfterClose_Key__c",
                           extras={"task_colour": {"open": "Red"}})
    with pytest.raises(ConfigError, match="salesforce.task_colour"):
        writes.check_extras(broken)


def test_given_renamed_task_status_in_extras_then_records_use_it():
    mapping = load_mapping(builtin_mapping("salesforce"))
    custom = type(mapping)(provider=mapping.provider, source="sf.toml", fields=mapping.fields,
                           handoff_rules=(), templates=mapping.templates, task_key_field="AfterClose_Key__c",
                           extras={"task_status": {"open": "Offen"}})
    writes.check_extras(custom)
    assert writes.task_record(spec(), custom)["Status"] == "Offen"


def test_given_deal_with_more_contact_roles_than_one_batch_then_child_pages_are_followed():
    from connector.salesforce.pull import to_deal

    class FollowOnly:
        """Stands in for SalesforceClient: answers the one child nextRecordsUrl, counts calls."""
        calls: list[str] = []

        def query_more(self, url):
            self.calls.append(url)
            return {"done": True, "totalSize": 3, "records": [
                {"ContactId": "003C", "Role": "Evaluator", "IsPrimary": False, "Contact": None}]}

    record = {
        "Id": "006A", "Name": "Big", "StageName": "Closed Won", "IsWon": True, "CloseDate": "2026-03-01",
        "Amount": 5000.0, "SystemModstamp": "2026-03-01T10:00:00.000+0000", "OwnerId": None,
        "OpportunityContactRoles": {"done": False, "totalSize": 3, "nextRecordsUrl": "/services/data/v59.0/query/01gX-2",
                                    "records": [{"ContactId": "003A", "Role": "Decision Maker", "IsPrimary": True,
                                                 "Contact": {"Email": "a@x.example", "Name": "A"}},
                                                {"ContactId": "003B", "Role": None, "IsPrimary": False,
                                                 "Contact": {"Email": None, "Name": "B"}}]},
    }
    client = FollowOnly()
    deal = to_deal(client, record, MAPPING)
    assert [c.id for c in deal.contacts] == ["003A", "003B", "003C"]
    assert client.calls == ["/services/data/v59.0/query/01gX-2"]
    assert deal.main_contact.id == "003A" and deal.amount == "5000" and deal.owner is None
    assert deal.last_modified == dt.datetime(2026, 3, 1, 10, tzinfo=UTC)
