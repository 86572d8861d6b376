"""Limits, injected faults, call counting and TLS, seen through simple-salesforce.

Sources: facts §1 (exception classes per status, api_usage parsing, no retry), §4
(Sforce-Limit-Info, 403 REQUEST_LIMIT_EXCEEDED, 500/503 error lists), §0.2 (TLS trust).
"""

from __future__ import annotations

import time

import pytest
import requests
import simple_salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceGeneralError, SalesforceRefusedRequest

from connector.sandbox.controls import FaultKind
from connector.sandbox.salesforce import INTEGRATION_USERNAME, sdk_login_domain, sdk_session

COUNT_USERS = "SELECT COUNT() FROM User"


def test_given_daily_limit_then_calls_past_it_get_403_request_limit_exceeded(sf_org_factory):
    # facts §4: the org's daily cap is 403 REQUEST_LIMIT_EXCEEDED, not 429.
    org = sf_org_factory(daily_limit=3, demo=False)
    for _ in range(3):
        org.sf.query(COUNT_USERS)
    with pytest.raises(SalesforceRefusedRequest) as err:
        org.sf.query(COUNT_USERS)
    assert err.value.status == 403
    assert err.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def test_given_calls_then_sforce_limit_info_parsed_into_api_usage(sf_org_factory):
    # facts §1: Sforce-Limit-Info -> sf.api_usage['api-usage'] = Usage(used, total).
    org = sf_org_factory(daily_limit=1000, demo=False)
    org.sf.query(COUNT_USERS)
    org.sf.query(COUNT_USERS)
    usage = org.sf.api_usage["api-usage"]
    assert (usage.used, usage.total) == (2, 1000)


def test_given_limits_resource_then_daily_api_requests_max_and_remaining(sf_org_factory):
    org = sf_org_factory(daily_limit=50, demo=False)
    org.sf.query(COUNT_USERS)
    assert org.sf.limits()["DailyApiRequests"] == {"Max": 50, "Remaining": 48}


@pytest.mark.parametrize("status, code", [(500, "UNKNOWN_EXCEPTION"), (503, "SERVER_UNAVAILABLE")])
def test_given_server_error_fault_then_sdk_general_error_with_list_body(sf_org, status, code):
    # facts §1: 5xx -> SalesforceGeneralError (no retry); §4: 500/503 error lists.
    sf_org.sandbox.server_error_status = status
    sf_org.sandbox.controls.add_fault(FaultKind.SERVER_ERROR, endpoint="query", count=1)
    with pytest.raises(SalesforceGeneralError) as err:
        sf_org.sf.query(COUNT_USERS)
    assert err.value.status == status and err.value.content[0]["errorCode"] == code
    assert sf_org.sf.query(COUNT_USERS)["totalSize"] >= 1  # the fault fired once


def test_given_drop_before_then_transport_error_and_nothing_written(sf_org):
    sf_org.sandbox.controls.add_fault(FaultKind.DROP_BEFORE, endpoint="sobject_create", count=1)
    with pytest.raises(requests.exceptions.RequestException):
        sf_org.sf.Task.create({"Subject": "lost in transit"})
    assert sf_org.sandbox.records("Task") == []


def test_given_drop_after_then_transport_error_but_record_was_created(sf_org):
    # The reason clients must upsert by key rather than blindly retry a create (facts §6).
    sf_org.sandbox.controls.add_fault(FaultKind.DROP_AFTER, endpoint="sobject_create", count=1)
    with pytest.raises(requests.exceptions.RequestException):
        sf_org.sf.Task.create({"Subject": "created, reply lost"})
    assert [t["Subject"] for t in sf_org.sandbox.records("Task")] == ["created, reply lost"]


def test_given_expired_auth_fault_then_401_list_and_refreshable_client_recovers(sf_org):
    sf_org.sandbox.controls.add_fault(FaultKind.EXPIRED_AUTH, endpoint="query", count=1)
    with pytest.raises(SalesforceExpiredSession):
        sf_org.sf.query(COUNT_USERS)
    sf_org.sandbox.controls.add_fault(FaultKind.EXPIRED_AUTH, endpoint="query", count=1)
    refreshable = simple_salesforce.Salesforce(
        username=INTEGRATION_USERNAME, password="sandbox-password", security_token="sandboxsecuritytoken",
        domain=sdk_login_domain(sf_org.endpoint.base_url, soap=True), session=sdk_session(sf_org.endpoint.ca_path))
    assert refreshable.query(COUNT_USERS)["totalSize"] >= 1


def test_given_quota_fault_then_403(sf_org):
    sf_org.sandbox.controls.add_fault(FaultKind.QUOTA, endpoint="*", count=1)
    with pytest.raises(SalesforceRefusedRequest):
        sf_org.sf.Opportunity.describe()


def test_given_slow_fault_and_client_timeout_then_read_timeout(sf_org):
    sf_org.sandbox.controls.add_fault(FaultKind.SLOW, endpoint="query", count=1, seconds=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf_org.sf.query(COUNT_USERS, timeout=0.2)


def test_given_latency_then_every_call_waits(sf_org_factory):
    org = sf_org_factory(latency=0.15, demo=False)
    start = time.monotonic()
    org.sf.query(COUNT_USERS)
    assert time.monotonic() - start >= 0.15


def test_given_calls_then_counted_per_endpoint_label(sf_org_factory):
    org = sf_org_factory(page_size=10)
    list(org.sf.query_all_iter("SELECT Id FROM Opportunity"))
    org.sf.Task.create({"Subject": "a"})
    org.sf.restful("composite/sobjects", method="POST", json={"records": [{"attributes": {"type": "Task"}, "Subject": "b"}]})
    counts = org.sandbox.controls.snapshot()
    assert counts["query"] == 1 and counts["query_more"] >= 3
    assert counts["sobject_create"] == 1 and counts["collections_create"] == 1


def test_given_client_without_sandbox_ca_then_tls_verification_refuses(sf_org):
    # facts §0.2: only a client configured with the test CA may connect.
    plain = requests.Session()
    plain.trust_env = False
    sf = simple_salesforce.Salesforce(instance_url=sf_org.endpoint.base_url, session_id=sf_org.endpoint.token,
                                      session=plain)
    with pytest.raises(requests.exceptions.SSLError):
        sf.query(COUNT_USERS)


def test_given_http_instance_url_then_sdk_still_speaks_https(sf_org):
    # facts §0.1: simple-salesforce always builds https:// URLs, keeping a non-443 port.
    http_url = sf_org.endpoint.base_url.replace("https://", "http://")
    sf = simple_salesforce.Salesforce(instance_url=http_url, session_id=sf_org.endpoint.token,
                                      session=sdk_session(sf_org.endpoint.ca_path))
    assert sf.query(COUNT_USERS)["totalSize"] >= 1
