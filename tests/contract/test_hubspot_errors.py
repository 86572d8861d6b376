"""The HubSpot adapter's pure parts: SDK exceptions -> ErrorFacts, settings validation, the rate
budget, 207 matching. No server: these pin the behaviour the sandbox tests rely on."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import urllib3.exceptions as u3
from hubspot.crm.deals.exceptions import ApiException as DealsApiException
from hubspot.crm.objects.tasks.exceptions import ServiceException as TasksServiceException

from connector.errors import ConfigError, QuotaExhaustedError, RateLimitedError, RetriableError
from connector.hubspot.adapter import HubSpotAdapter
from connector.hubspot.batch import Input, match
from connector.hubspot.budget import RateBudget
from connector.hubspot.errors import facts_of
from connector.hubspot.settings import HubSpotSettings
from connector.mapping import builtin_mapping, load_mapping
from connector.retry import classify
from tests.builders import settings_problems


def _api_error(cls, status, body, headers=None):
    exc = cls(status=status, reason="x")
    exc.body = json.dumps(body).encode()
    exc.headers = headers or {}
    return exc


def test_given_429_from_any_sdk_sub_package_when_classified_then_rate_limited_with_retry_after():
    exc = _api_error(DealsApiException, 429, {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                                              "policyName": "TEN_SECONDLY_ROLLING", "correlationId": "c-1"},
                     {"Retry-After": "3"})
    facts = facts_of(exc, endpoint="POST /crm/v3/objects/deals/search")
    error = classify(facts)
    assert isinstance(error, RateLimitedError) and error.retry_after == 3.0
    assert (error.correlation_id, error.error_code) == ("c-1", "TEN_SECONDLY_ROLLING")


def test_given_daily_policy_429_when_classified_then_quota_exhausted():
    exc = _api_error(DealsApiException, 429, {"message": "You have reached your daily limit.", "policyName": "DAILY"})
    assert isinstance(classify(facts_of(exc)), QuotaExhaustedError)


def test_given_5xx_from_tasks_package_and_urllib3_failures_when_classified_then_retriable():
    server = _api_error(TasksServiceException, 503, {"message": "busy", "category": "INTERNAL_ERROR"})
    timeout = u3.ReadTimeoutError(None, "/crm", "read timed out")
    refused = u3.MaxRetryError(None, "/crm", reason=u3.NewConnectionError(None, "refused"))
    reset = u3.ProtocolError("Connection aborted.")
    for exc in (server, timeout, refused, reset):
        assert isinstance(classify(facts_of(exc)), RetriableError), exc
    assert facts_of(timeout).timeout and facts_of(refused).transport


def test_given_exception_not_from_the_sdk_when_classified_then_left_alone():
    assert facts_of(KeyError("bug")) is None


def test_given_no_credentials_or_half_oauth_when_settings_built_then_config_error_names_the_key():
    assert HubSpotSettings().credential_problems()[0][0] == "access_token"
    assert HubSpotSettings(client_id="a", client_secret="b").credential_problems()[0][0] == "refresh_token"
    assert "hubspot.budget_share" in settings_problems(hubspot={"access_token": "t", "budget_share": 1.5})
    with pytest.raises(ConfigError, match="access_token"):
        HubSpotAdapter(settings=HubSpotSettings(), fieldmap=load_mapping(builtin_mapping("hubspot")))
    assert "pat-secret" not in repr(HubSpotSettings(access_token="pat-secret"))


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_given_budget_share_when_calls_burst_then_the_call_after_the_share_waits_for_the_window():
    clock = _Clock()
    budget = RateBudget(per_ten_seconds=HubSpotSettings(access_token="t").ten_second_budget,
                        search_per_second=2.5, clock=clock, sleep=clock.sleep)
    waits = [budget.acquire(search=False) for _ in range(96)]
    assert waits[:95] == [0.0] * 95 and waits[95] == pytest.approx(10.0)
    search_waits = [budget.acquire(search=True) for _ in range(3)]
    assert search_waits[:2] == [0.0, 0.0] and search_waits[2] > 0  # 2.5/s: two in any 0.8 s


def test_given_portal_nearly_spent_header_when_observed_then_next_call_pauses():
    clock = _Clock()
    budget = RateBudget(per_ten_seconds=100, search_per_second=5, clock=clock, sleep=clock.sleep)
    budget.observe({"X-HubSpot-RateLimit-Remaining": "1", "X-HubSpot-RateLimit-Max": "190"})
    assert budget.acquire(search=False) > 0


def test_given_207_without_echoed_trace_ids_when_matched_then_errors_pair_by_context_ids():
    inputs = [Input(trace=f"t{i}", ref=str(100 + i), item=i) for i in range(3)]
    reply = SimpleNamespace(
        results=[SimpleNamespace(id="100", object_write_trace_id=None, properties={}),
                 SimpleNamespace(id="102", object_write_trace_id=None, properties={})],
        errors=[SimpleNamespace(message="Object 101 not found", category="OBJECT_NOT_FOUND",
                                context={"ids": ["101"]}, errors=[], id=None)],
    )
    matched = match(inputs, reply, refs_of=lambda r: [r.id])
    assert [i.item for i, _ in matched.succeeded] == [0, 2]
    assert [(i.item, f.code) for i, f in matched.failed] == [(1, "OBJECT_NOT_FOUND")]
