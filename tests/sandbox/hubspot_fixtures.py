"""HubSpot sandbox fixtures: a demo-loaded sandbox served on loopback, and the real SDK client."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import httpx
import hubspot
import pytest

from connector.sandbox.demo import demo_dataset
from connector.sandbox.hubspot import HubSpotSandbox

ANCHOR = dt.date(2025, 3, 14)


@dataclass
class HubSpotRig:
    sb: HubSpotSandbox
    client: hubspot.HubSpot
    base_url: str
    token: str

    def deal_id(self, demo_key: int) -> str:
        return self.sb.demo_ids["deals"][demo_key]

    def owner_id(self, demo_key: int) -> str:
        return self.sb.demo_ids["owners"][demo_key]


class FakeClock:
    """The sandbox's injectable clock: time moves only when a test says so."""

    def __init__(self, start: float = 1_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def raw(rig: HubSpotRig, method: str, path: str, *, token: str | None = None, **kwargs) -> httpx.Response:
    """One HTTP call without the SDK: for routes the SDK lacks, and to see the JSON as sent."""
    headers = {"Authorization": f"Bearer {token or rig.token}"}
    return httpx.request(method, rig.base_url + path, headers=headers, timeout=10, trust_env=False, **kwargs)


def error_json(exc) -> dict:
    """The JSON body of an SDK ApiException."""
    return json.loads(exc.body)


def sdk_client(token: str, base_url: str) -> hubspot.HubSpot:
    """The real SDK with client-side validation ON: every reply is checked against the SDK's
    generated models (required fields, enums), so a reply HubSpot would never send fails the test.
    Extra kwargs are set on every sub-package ``Configuration`` (hubspot/discovery/discovery_base.py)."""
    return hubspot.HubSpot(access_token=token, host=base_url, client_side_validation=True)


def make_rig(sb: HubSpotSandbox):
    """Serve ``sb`` and yield a rig with an SDK client pointed at it."""
    with sb.serve() as endpoint:
        client = sdk_client(endpoint.token, endpoint.base_url)
        yield HubSpotRig(sb=sb, client=client, base_url=endpoint.base_url, token=endpoint.token)


class _Switch:
    """One loopback server for the session, forwarding to the current test's sandbox: a server
    stop costs ~0.2 s, a fresh sandbox per test costs nothing. (``hs_factory`` still uses serve().)"""

    target = None

    async def __call__(self, scope, receive, send):
        await self.target(scope, receive, send)


@pytest.fixture(scope="session")
def _hubspot_switch():
    from connector.sandbox.server import serve_in_thread

    switch = _Switch()
    with serve_in_thread(switch) as running:
        yield switch, running.base_url


@pytest.fixture
def hs(_hubspot_switch):
    """A fresh sandbox with the demo data set (fixed anchor) and an SDK client."""
    switch, base_url = _hubspot_switch
    sb = HubSpotSandbox()
    sb.load(demo_dataset(ANCHOR))
    switch.target = sb.app
    client = sdk_client(sb.token, base_url)
    yield HubSpotRig(sb=sb, client=client, base_url=base_url, token=sb.token)


@pytest.fixture
def hs_factory():
    """Build a served sandbox with custom knobs: ``rig = hs_factory(search_lag=0.3)``."""
    stack = []

    def build(*, demo: bool = True, **knobs) -> HubSpotRig:
        sb = HubSpotSandbox(**knobs)
        if demo:
            sb.load(demo_dataset(ANCHOR))
        gen = make_rig(sb)
        stack.append(gen)
        return next(gen)

    yield build
    for gen in reversed(stack):
        gen.close()
