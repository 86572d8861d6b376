"""HubSpot sandbox fixtures: a demo-loaded sandbox served on loopback, and the real SDK client."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

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


def error_json(exc) -> dict:
    """The JSON body of an SDK ApiException."""
    return json.loads(exc.body)


def make_rig(sb: HubSpotSandbox):
    """Serve ``sb`` and yield a rig with an SDK client pointed at it."""
    with sb.serve() as endpoint:
        client = hubspot.HubSpot(access_token=endpoint.token, host=endpoint.base_url)
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
    client = hubspot.HubSpot(access_token=sb.token, host=base_url)
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
