"""Failures between AfterClose and HubSpot: rate limits, auth, timeouts, dropped connections,
the daily quota, OAuth token refresh, and the call count formula of docs/hubspot-adapter.md."""

from __future__ import annotations

import math
import threading
import urllib.parse

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connector.errors import AuthError, QuotaExhaustedError
from connector.hubspot import HubSpotAdapter, HubSpotSettings
from connector.sandbox.server import serve_in_thread
from tests.contract.hubspot_harness import FAST_RETRY, hubspot_fieldmap, hubspot_harness
from tests.streams import read_deals

SEARCH = "POST /crm/v3/objects/deals/search"


class FakeTime:
    """One clock for the sandbox and the adapter: the adapter's sleeps move it forward at once."""

    def __init__(self) -> None:
        self._now = 1_000.0
        self._lock = threading.Lock()
        self.slept = 0.0

    def clock(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)
            self.slept += max(0.0, seconds)


def _pull(h) -> list[str]:
    return [d.id for p in read_deals(h.adapter, None) for d in p.deals]


def test_given_429_storm_with_retry_after_when_pulling_then_converges_and_waits_are_counted():
    time = FakeTime()
    with hubspot_harness(clock=time.clock, sleep=time.sleep) as h:
        h.sandbox.controls.add_fault("rate_limit", endpoint="POST *", rate=0.5, count=6, retry_after=2.0)
        assert set(_pull(h)) == h.won_deal_ids()
        fired = sum(rule.fired for rule in h.sandbox.controls.rules)
        assert fired >= 1
        assert h.adapter.call_stats().rate_limit_wait_seconds >= 2.0 * fired  # Retry-After: 2 s each


def test_given_budget_larger_than_the_portal_allows_when_pulling_then_429s_are_waited_out():
    time = FakeTime()
    sandbox = {"rate_limit_per_10s": 4, "clock": time.clock}
    with hubspot_harness(sandbox_options=sandbox, settings={"rate_limit_per_10s": 1_000},
                         clock=time.clock, sleep=time.sleep) as h:
        assert set(_pull(h)) == h.won_deal_ids()
        assert h.adapter.call_stats().rate_limit_wait_seconds > 0


def test_given_budget_within_the_portal_limit_when_pulling_then_no_429_and_client_waits_counted():
    time = FakeTime()
    sandbox = {"rate_limit_per_10s": 6, "search_per_second": 2, "clock": time.clock}
    settings = {"rate_limit_per_10s": 6, "budget_share": 0.5, "search_per_second": 2}
    with hubspot_harness(sandbox_options=sandbox, settings=settings, retry=FAST_RETRY,
                         clock=time.clock, sleep=time.sleep, page_size=10) as h:
        calls_before = h.sandbox.controls.total_calls()
        ids = _pull(h)
        assert set(ids) == h.won_deal_ids()
        stats = h.adapter.call_stats()
        assert stats.total == h.sandbox.controls.total_calls() - calls_before  # not one call refused
        assert stats.rate_limit_wait_seconds >= 10.0  # 3 calls per 10 s: the pull spans several windows


def test_given_wrong_token_when_called_then_auth_error_without_retry():
    with hubspot_harness(settings={"access_token": "pat-wrong"}) as h:
        with pytest.raises(AuthError) as caught:
            h.adapter.check_schema()
        assert caught.value.status == 401 and caught.value.error_code == "INVALID_AUTHENTICATION"
        assert h.sandbox.controls.total_calls() == 1


def test_given_daily_quota_spent_when_called_then_quota_error_without_retry():
    with hubspot_harness() as h:
        h.sandbox.controls.add_fault("quota", endpoint="*")
        with pytest.raises(QuotaExhaustedError):
            list(read_deals(h.adapter, None))
        assert h.sandbox.controls.total_calls() == 1


def test_given_slow_reply_beyond_timeout_when_searching_then_retried_and_completed():
    with hubspot_harness(settings={"timeout_seconds": 0.3}) as h:
        h.sandbox.controls.add_fault("slow", endpoint=SEARCH, count=1, seconds=1.5)
        assert set(_pull(h)) == h.won_deal_ids()
        assert h.sandbox.controls.snapshot()[SEARCH] == 2


def test_given_dropped_connections_and_server_errors_when_pulling_then_retried_and_completed():
    with hubspot_harness() as h:
        h.sandbox.controls.add_fault("drop_before", endpoint="POST /crm/v4/*", count=1)
        h.sandbox.controls.add_fault("server_error", endpoint="GET *", count=2)
        assert set(_pull(h)) == h.won_deal_ids()


@pytest.mark.parametrize("mode", ["refuse", "grant"])
def test_given_demo_data_when_pulled_and_written_then_call_count_matches_the_documented_formula(mode):
    """docs/hubspot-adapter.md, "Call formula": the minimum the API's batch sizes allow, the same in
    both task key modes."""
    with hubspot_harness(mode=mode) as h:
        won = sorted(h.won_deal_ids(), key=int)
        contacts = {c for d in won for c in h.sandbox.associated_ids("deals", d, "contacts")}
        companies = {c for d in won for c in h.sandbox.associated_ids("deals", d, "companies")}
        assert len(won) <= 200  # one search page: contacts and companies below are per page
        pull = 1 + 2 + math.ceil(len(won) / 200) + 2 + math.ceil(len(contacts) / 100) + math.ceil(len(companies) / 100)
        deals = [d for p in read_deals(h.adapter, None) for d in p.deals]
        assert h.adapter.call_stats().total == pull

        from connector.actions import UpdateRecord
        from connector.model import RecordKind, RecordUpdate
        from tests.contract.test_hubspot_writes import _creates

        active = [d for d in deals if d.owner.active]
        writes = [UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=d.id,
                                                   values={"handoff_status": "complete"}), deal_id=d.id, reason="r")
                  for d in deals]
        h.adapter.apply(_creates(active) + writes)
        # + 1: the task properties read that tells the key mode (a run's check_schema makes it anyway)
        apply_calls = 1 + math.ceil(len(active) / 100) + math.ceil(len(deals) / 100)
        assert h.adapter.call_stats().total == pull + apply_calls
        assert h.sandbox.controls.total_calls() == pull + apply_calls


# -- OAuth: the refresh-token grant, against a tiny token server -----------------------------

def _oauth_portal(issued: list[str]):
    async def token(request: Request):
        form = urllib.parse.parse_qs((await request.body()).decode())
        field = lambda name: (form.get(name) or [None])[0]  # noqa: E731
        if (field("grant_type"), field("refresh_token"), field("client_secret")) != (
                "refresh_token", "refresh-1", "secret-1"):
            return JSONResponse({"status": "BAD_REFRESH_TOKEN", "message": "invalid"}, status_code=400)
        issued.append(f"access-{len(issued) + 1}")
        return JSONResponse({"access_token": issued[-1], "refresh_token": "refresh-1", "expires_in": 1800,
                             "token_type": "bearer"})

    async def pipelines(request: Request):
        if request.headers.get("authorization") != f"Bearer {issued[-1] if issued else ''}":
            return JSONResponse({"status": "error", "category": "INVALID_AUTHENTICATION", "message": "no"},
                                status_code=401)
        stage = {"id": "closedwon", "label": "Won", "displayOrder": 0, "archived": False,
                 "metadata": {"isClosed": "true", "probability": "1.0"}}
        return JSONResponse({"results": [{"id": "default", "label": "Sales", "displayOrder": 0,
                                          "archived": False, "stages": [stage]}]})

    return Starlette(routes=[Route("/oauth/v1/token", token, methods=["POST"]),
                             Route("/crm/v3/pipelines/deals", pipelines, methods=["GET"])])


def test_given_oauth_app_when_calling_then_access_token_obtained_by_refresh_grant_once_and_used():
    issued: list[str] = []
    with serve_in_thread(_oauth_portal(issued)) as server:
        settings = HubSpotSettings(base_url=server.base_url, client_id="app-1", client_secret="secret-1",
                                   refresh_token="refresh-1")
        adapter = HubSpotAdapter(settings=settings, fieldmap=hubspot_fieldmap(), retry=FAST_RETRY)
        try:
            from connector.hubspot.stages import read_deal_stages

            client = adapter._client  # the stage read is the smallest real call
            assert read_deal_stages(client).won == frozenset({"closedwon"})
            assert read_deal_stages(client).won == frozenset({"closedwon"})
            assert issued == ["access-1"]
            assert adapter.call_stats().by_endpoint["POST /oauth/v1/token"] == 1
        finally:
            adapter.close()
