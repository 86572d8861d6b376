"""Auth, rate limits and injected faults as the SDK sees them; call counting and latency.

Sources: facts §3 (401 body, 429 body/headers/Retry-After, search exempt from the ten-second
bucket), limits.py/gate.py docstrings for the doc URLs; Controls (connector/sandbox/controls.py).
"""

from __future__ import annotations

import time

import hubspot
import pytest
import urllib3
from hubspot.crm.deals import ApiException, PublicObjectSearchRequest
from hubspot.crm.deals.exceptions import ServiceException, UnauthorizedException
from hubspot.crm.objects.tasks import ApiException as TaskApiException
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate

from connector.sandbox.controls import FaultKind
from tests.sandbox.hubspot_fixtures import error_json

SEARCH = "POST /crm/v3/objects/deals/search"


def _search(client):
    return client.crm.deals.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(limit=1))


def _get(rig):
    return rig.client.crm.deals.basic_api.get_by_id(deal_id=rig.deal_id(0))


def _create_task(rig):
    return rig.client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": "2025-03-20T09:00:00Z"}))


def test_given_wrong_token_then_401_invalid_authentication_json(hs):
    # error-handling doc: 401 category INVALID_AUTHENTICATION with a correlationId
    stranger = hubspot.HubSpot(access_token="not-the-token", host=hs.base_url)
    with pytest.raises(UnauthorizedException) as caught:
        _search(stranger)
    body = error_json(caught.value)
    assert body["category"] == "INVALID_AUTHENTICATION" and len(body["correlationId"]) == 36


def test_given_expired_auth_fault_then_401_once_then_ok(hs):
    # brief: an injected EXPIRED_AUTH fault answers 401 the same way
    hs.sb.controls.add_fault(FaultKind.EXPIRED_AUTH, endpoint=SEARCH, count=1)
    with pytest.raises(UnauthorizedException) as caught:
        _search(hs.client)
    assert error_json(caught.value)["category"] == "INVALID_AUTHENTICATION"
    assert _search(hs.client).total == len(hs.sb.records("deals"))


def test_given_ten_second_limit_then_headers_count_down_and_429_with_retry_after(hs_factory):
    # facts §3: X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds; 429 TEN_SECONDLY_ROLLING + Retry-After
    rig = hs_factory(rate_limit_per_10s=3)
    api = rig.client.crm.deals.basic_api
    reply = api.get_by_id_with_http_info(deal_id=rig.deal_id(0))
    headers = reply[2]
    assert headers["X-HubSpot-RateLimit-Max"] == "3" and headers["X-HubSpot-RateLimit-Remaining"] == "2"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    _create_task(rig), _create_task(rig)
    # POST, because urllib3's default Retry re-sends a GET after Retry-After by itself (see below)
    with pytest.raises(TaskApiException) as caught:
        _create_task(rig)
    body = error_json(caught.value)
    assert caught.value.status == 429 and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["errorType"] == "RATE_LIMIT" and 1 <= int(caught.value.headers["Retry-After"]) <= 10
    assert _search(rig.client).total == len(rig.sb.records("deals"))  # search is exempt from the ten-second bucket


def test_given_search_per_second_limit_then_429_secondly_and_other_calls_unaffected(hs_factory):
    # facts §3: search has its own per-second limit (X-HubSpot-RateLimit-Secondly headers)
    rig = hs_factory(search_per_second=2, rate_limit_per_10s=100)
    _search(rig.client)
    info = rig.client.crm.deals.search_api.do_search_with_http_info(
        public_object_search_request=PublicObjectSearchRequest(limit=1))
    assert info[2]["X-HubSpot-RateLimit-Secondly"] == "2" and info[2]["X-HubSpot-RateLimit-Secondly-Remaining"] == "0"
    with pytest.raises(ApiException) as caught:
        _search(rig.client)
    assert error_json(caught.value)["policyName"] == "SECONDLY" and "Retry-After" in caught.value.headers
    assert _get(rig).id == rig.deal_id(0)


def test_given_daily_limit_then_429_daily_and_daily_headers(hs_factory):
    # facts §3: X-HubSpot-RateLimit-Daily(-Remaining); policyName DAILY
    rig = hs_factory(daily_limit=2)
    headers = rig.client.crm.deals.basic_api.get_by_id_with_http_info(deal_id=rig.deal_id(0))[2]
    assert headers["X-HubSpot-RateLimit-Daily"] == "2" and headers["X-HubSpot-RateLimit-Daily-Remaining"] == "1"
    _get(rig)
    with pytest.raises(ApiException) as caught:
        _search(rig.client)
    assert error_json(caught.value)["policyName"] == "DAILY"


def test_given_rate_limit_and_quota_faults_then_same_429_shapes(hs):
    # brief: injected RATE_LIMIT renders the same 429; QUOTA -> 429 DAILY
    hs.sb.controls.add_fault(FaultKind.RATE_LIMIT, endpoint=SEARCH, count=1, retry_after=7)
    hs.sb.controls.add_fault(FaultKind.QUOTA, endpoint="GET *", count=1)
    with pytest.raises(ApiException) as caught:
        _search(hs.client)
    assert caught.value.headers["Retry-After"] == "7"
    assert error_json(caught.value)["policyName"] == "TEN_SECONDLY_ROLLING"
    with pytest.raises(ApiException) as caught:
        _get(hs)
    assert error_json(caught.value)["policyName"] == "DAILY" and "Retry-After" not in caught.value.headers


def test_given_429_on_a_get_then_sdk_default_retry_waits_retry_after_and_succeeds(hs):
    # urllib3 Retry default (SDK retries=None): GET is retried on 429 when Retry-After is present
    # (facts §2: POST is not) - so an adapter sees only POST 429s unless it configures Retry itself.
    hs.sb.controls.add_fault(FaultKind.RATE_LIMIT, endpoint="GET /crm/v3/objects/deals/{objectId}", count=1,
                             retry_after=1)
    hs.sb.controls.reset_calls()
    assert _get(hs).id == hs.deal_id(0)
    assert hs.sb.controls.snapshot()["GET /crm/v3/objects/deals/{objectId}"] == 2


def test_given_server_error_fault_then_500_502_503_json_then_ok(hs):
    # brief: SERVER_ERROR renders HubSpot's JSON error body with 500/502/503
    hs.sb.controls.add_fault(FaultKind.SERVER_ERROR, endpoint=SEARCH, count=3)
    statuses = []
    for _ in range(3):
        with pytest.raises(ServiceException) as caught:
            _search(hs.client)
        statuses.append(caught.value.status)
        assert error_json(caught.value)["status"] == "error"
    assert statuses == [500, 502, 503] and _search(hs.client).total == len(hs.sb.records("deals"))


def test_given_drop_before_then_transport_error_and_nothing_written(hs):
    # brief: DROP_BEFORE: the request is not carried out, the client sees a transport error
    hs.sb.controls.add_fault(FaultKind.DROP_BEFORE, endpoint="POST /crm/v3/objects/tasks", count=1)
    with pytest.raises(urllib3.exceptions.HTTPError):
        _create_task(hs)
    assert hs.sb.records("tasks") == []


def test_given_drop_after_then_transport_error_but_task_written(hs):
    # brief: DROP_AFTER: carried out, then the response is lost (why creates must be keyed: facts §6)
    hs.sb.controls.add_fault(FaultKind.DROP_AFTER, endpoint="POST /crm/v3/objects/tasks", count=1)
    with pytest.raises(urllib3.exceptions.HTTPError):
        _create_task(hs)
    assert len(hs.sb.records("tasks")) == 1


def test_given_slow_fault_beyond_client_timeout_then_timeout_error(hs):
    # facts §0.7: pass _request_timeout; SLOW answers after `seconds`
    hs.sb.controls.add_fault(FaultKind.SLOW, endpoint=SEARCH, count=1, seconds=1.0)
    with pytest.raises(urllib3.exceptions.HTTPError):
        hs.client.crm.deals.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(limit=1),
                                                 _request_timeout=0.3)


def test_given_calls_then_counted_per_endpoint_label(hs):
    # brief: one endpoint label per route, e.g. "POST /crm/v3/objects/deals/search"
    hs.sb.controls.reset_calls()
    _search(hs.client), _search(hs.client), _get(hs)
    hs.client.crm.owners.owners_api.get_page()
    assert hs.sb.controls.snapshot() == {SEARCH: 2, "GET /crm/v3/objects/deals/{objectId}": 1,
                                         "GET /crm/v3/owners/": 1}


def test_given_latency_then_each_call_takes_at_least_that(hs):
    # brief: latency per call (Controls.latency)
    hs.sb.controls.latency = 0.15
    started = time.monotonic()
    _get(hs)
    assert time.monotonic() - started >= 0.15
