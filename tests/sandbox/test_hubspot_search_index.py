"""The sandbox's modified-date index (store.py ``by_modified``) answers a keyset search exactly as
a scan of every record does, after any mix of writes, archives and lagged indexing."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.sandbox.demo import scaled_dataset
from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.hubspot import search as hs_search
from connector.sandbox.hubspot.schema import OBJECT_TYPES

DEALS = OBJECT_TYPES["deals"]


def keyset_body(floor_ms: int) -> dict:
    modified = {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(floor_ms)}
    return {"filterGroups": [[{"propertyName": "dealstage", "operator": "IN", "values": ["closedwon"]}, modified],
                             [{"propertyName": "amount", "operator": "HAS_PROPERTY"}, modified]],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}], "limit": 200}


def scanned(sb: HubSpotSandbox, body: dict) -> list[int]:
    """Every record tested and sorted, the way search answered before the index."""
    schema = sb.backend.store.schema["deals"]
    groups = [{"filters": g} for g in body["filterGroups"]]
    predicate = hs_search._compile_groups(groups, schema)
    sort = hs_search._sort_rule(body["sorts"], schema)
    return hs_search._matches(sb.backend, DEALS, predicate, sort, [], None)


def indexed(sb: HubSpotSandbox, body: dict) -> list[int]:
    groups = [{"filters": g} for g in body["filterGroups"]]
    request = dict(body, filterGroups=groups, limit=200)
    with sb.backend.store.lock:
        ids, after = [], 0
        while True:
            _, page = hs_search.search(sb.backend, hs_search.SearchCache(), DEALS, dict(request, after=str(after)))
            ids += [int(r["id"]) for r in page["results"]]
            if "paging" not in page:
                return ids
            after += 200


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), edits=st.integers(0, 60), archives=st.integers(0, 5))
def test_given_writes_and_archives_then_keyset_search_matches_a_full_scan(seed, edits, archives):
    rng = random.Random(seed)
    sb = HubSpotSandbox(seed=seed)
    sb.load(scaled_dataset(120, seed=seed % 7))
    deal_ids = sorted(sb.backend.store.types["deals"].records)
    with sb.backend.store.lock:
        for _ in range(edits):
            sb.edit("deals", str(rng.choice(deal_ids)), {"description": f"edit {rng.random()}"})
        for record_id in rng.sample(deal_ids, archives):
            rec = sb.backend.store.get("deals", record_id)
            if rec is not None:
                sb.backend.store.archive("deals", rec, now_ms=rec.updated_ms + 1)
        stamps = sorted(r.updated_ms for r in sb.backend.store.types["deals"].records.values())
    floor = stamps[rng.randrange(len(stamps) // 2)]  # at least half of the deals lie above it
    body = keyset_body(floor)
    expected = scanned(sb, body)
    assert expected, "the query matches nothing: the comparison would prove nothing"
    assert indexed(sb, body) == expected
