"""Speed: the benchmark and the reliability suite need thousands of deals per second on loopback
(brief) and a 50,000-deal portal that loads in seconds."""

from __future__ import annotations

import time

import pytest
from hubspot.crm.deals import PublicObjectSearchRequest

from connector.sandbox.demo import scaled_dataset
from tests.sandbox.hubspot_fixtures import ANCHOR


def test_given_5000_deals_then_search_pages_all_won_deals_at_over_1000_per_second(hs_factory):
    rig = hs_factory(demo=False)
    rig.sb.load(scaled_dataset(5_000, anchor=ANCHOR))
    won = sum(1 for d in rig.sb.records("deals") if d["properties"]["hs_is_closed_won"] == "true")
    started, seen, after = time.monotonic(), 0, None
    while True:
        reply = rig.client.crm.deals.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(
            filter_groups=[{"filters": [{"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"}]}],
            sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}], limit=200, after=after,
            properties=["dealname", "amount", "renewal_date"]))
        seen += len(reply.results)
        if reply.paging is None:
            break
        after = reply.paging.next.after
    assert seen == won
    assert seen / (time.monotonic() - started) > 1_000


@pytest.mark.slow
def test_given_50000_deals_then_load_takes_seconds():
    from connector.sandbox.hubspot import HubSpotSandbox
    data = scaled_dataset(50_000, anchor=ANCHOR)
    started = time.monotonic()
    sb = HubSpotSandbox()
    sb.load(data)
    assert time.monotonic() - started < 15
    assert len(sb.demo_ids["deals"]) == 50_000
