"""Search through the real SDK: operators, groups, limits, sort, paging, the 10,000 cap, index lag.

Source: search guide [DOC: https://developers.hubspot.com/docs/api-reference/search/guide.md] as
summarised in facts §3; tie order per facts §6.
"""

from __future__ import annotations

import time

import pytest
from hubspot.crm.deals import ApiException, PublicObjectSearchRequest
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate

from connector.sandbox.demo import scaled_dataset
from tests.sandbox.hubspot_fixtures import ANCHOR, error_json


def _search(hs, groups=(), **kw):
    request = PublicObjectSearchRequest(filter_groups=[{"filters": list(g)} for g in groups], **kw)
    return hs.client.crm.deals.search_api.do_search(public_object_search_request=request)


def _f(name, op, value=None, **kw):
    return {"propertyName": name, "operator": op, "value": value, **kw}


def _names(reply):
    return {r.properties["dealname"] for r in reply.results}


def test_given_paging_with_after_then_every_won_deal_seen_once_and_no_paging_on_last_page(hs):
    # facts §3: after is an offset string; paging absent on the last page; total counts all matches
    won = [d for d in hs.sb.records("deals") if d["properties"]["hs_is_closed_won"] == "true"]
    seen, after, pages = [], None, 0
    while True:
        reply = _search(hs, [[_f("hs_is_closed_won", "EQ", "true")]], limit=7, after=after, properties=["dealname"])
        assert reply.total == len(won)
        seen += [r.id for r in reply.results]
        pages += 1
        if reply.paging is None:
            break
        after = reply.paging.next.after
    assert sorted(seen) == sorted(d["id"] for d in won) and pages == -(-len(won) // 7)


def test_given_no_sort_then_creation_order_and_default_deal_properties(hs):
    # facts §3: default order creation date ascending; deal default properties
    reply = _search(hs, limit=5)
    assert [r.id for r in reply.results] == sorted((r.id for r in reply.results), key=int)
    assert set(reply.results[0].properties) == {"dealname", "amount", "closedate", "pipeline", "dealstage",
                                                "createdate", "hs_lastmodifieddate", "hs_object_id"}


def test_given_groups_then_or_between_groups_and_within_group(hs):
    # facts §3: filters in a group AND, groups OR
    lost = _search(hs, [[_f("dealstage", "EQ", "closedlost")]], limit=100)
    custom = _search(hs, [[_f("pipeline", "EQ", "75310246")]], limit=100)
    both = _search(hs, [[_f("dealstage", "EQ", "closedlost")], [_f("pipeline", "EQ", "75310246")]], limit=100)
    assert both.total == len(_names(lost) | _names(custom))
    narrowed = _search(hs, [[_f("pipeline", "EQ", "75310246"), _f("hs_is_closed_won", "EQ", "false")]], limit=100)
    assert narrowed.total == 1  # the one lost deal in the custom pipeline


@pytest.mark.parametrize("op, value, extra, expected", [
    ("EQ", "closedwon", {}, lambda stage: stage == "closedwon"),
    ("IN", None, {"values": ["closedlost", "75310250"]}, lambda stage: stage in ("closedlost", "75310250")),
    ("NOT_IN", None, {"values": ["closedwon", "closedlost"]}, lambda stage: stage not in ("closedwon", "closedlost")),
    ("NEQ", "closedwon", {}, lambda stage: stage != "closedwon"),
    ("HAS_PROPERTY", None, {}, lambda stage: True),
])
def test_given_operator_on_enumeration_then_matching_count(hs, op, value, extra, expected):
    # facts §2 Filter operators
    stages = [d["properties"]["dealstage"] for d in hs.sb.records("deals")]
    assert _search(hs, [[_f("dealstage", op, value, **extra)]], limit=1).total == sum(map(expected, stages))


def test_given_number_comparisons_and_between_then_numeric_not_lexical(hs):
    # facts §3: numeric comparison for number properties
    amounts = sorted(float(d["properties"]["amount"]) for d in hs.sb.records("deals"))
    assert _search(hs, [[_f("amount", "LT", "10000")]], limit=1).total == sum(a < 10000 for a in amounts)
    assert _search(hs, [[_f("amount", "GTE", "50000")]], limit=1).total == sum(a >= 50000 for a in amounts)
    assert _search(hs, [[_f("amount", "BETWEEN", "6250", highValue="8750")]], limit=1).total == 3
    assert _search(hs, [[_f("amount", "LTE", "5000")]], limit=1).total == 1


def test_given_datetime_filter_in_epoch_ms_or_iso_then_same_results(hs):
    # facts §3: datetime filter values are epoch ms strings (ISO accepted)
    records = hs.sb.records("deals")
    pivot = sorted(d["properties"]["hs_lastmodifieddate"] for d in records)[20]
    from connector.sandbox.hubspot.timefmt import parse_datetime_ms
    as_ms = str(parse_datetime_ms(pivot))
    by_ms = _search(hs, [[_f("hs_lastmodifieddate", "GT", as_ms)]], limit=1).total
    by_iso = _search(hs, [[_f("hs_lastmodifieddate", "GT", pivot)]], limit=1).total
    assert by_ms == by_iso == sum(d["properties"]["hs_lastmodifieddate"] > pivot for d in records)


def test_given_has_and_not_has_property_then_split_on_empty_values(hs):
    # facts §2 operators HAS_PROPERTY / NOT_HAS_PROPERTY
    has = _search(hs, [[_f("renewal_date", "HAS_PROPERTY")]], limit=1).total
    lacks = _search(hs, [[_f("renewal_date", "NOT_HAS_PROPERTY")]], limit=1).total
    assert has + lacks == len(hs.sb.records("deals")) and has == 14


def test_given_contains_token_then_word_match_with_wildcard(hs):
    # facts §2 operators CONTAINS_TOKEN / NOT_CONTAINS_TOKEN
    assert _names(_search(hs, [[_f("dealname", "CONTAINS_TOKEN", "lonely")]])) == {"Lonely Deal Without Contacts"}
    assert _search(hs, [[_f("dealname", "CONTAINS_TOKEN", "legac*")]]).total == 3
    with_token = [d for d in hs.sb.records("deals") if "deal" in d["properties"]["dealname"].lower().split()]
    assert len(with_token) == 4
    everything = len(hs.sb.records("deals"))
    assert _search(hs, [[_f("dealname", "NOT_CONTAINS_TOKEN", "deal")]], limit=1).total == everything - 4


def test_given_in_on_string_property_with_upper_case_then_no_match(hs):
    # facts §3: "IN on strings needs lowercase"; enumeration EQ is case-sensitive
    assert _search(hs, [[_f("dealname", "IN", values=["lonely deal without contacts"])]]).total == 1
    assert _search(hs, [[_f("dealname", "IN", values=["Lonely Deal Without Contacts"])]]).total == 0
    assert _search(hs, [[_f("dealstage", "EQ", "CLOSEDWON")]]).total == 0


def test_given_sort_descending_on_lastmodified_then_ordered_and_ties_not_by_id(hs):
    # facts §3: one sort rule; facts §6: ties must be broken by the client (the sandbox scrambles them)
    reply = _search(hs, sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}], limit=100,
                    properties=["dealname"])
    stamps = [r.properties["hs_lastmodifieddate"] for r in reply.results]
    assert stamps == sorted(stamps, reverse=True)
    ties = [int(r.id) for r in reply.results if r.properties["dealname"].startswith("Same Second Deal")]
    assert len(ties) == 3 and ties != sorted(ties)
    ascending = _search(hs, sorts=["hs_lastmodifieddate"], limit=100)
    assert [r.properties["hs_lastmodifieddate"] for r in ascending.results] == sorted(stamps)


@pytest.mark.parametrize("request_kw, needle", [
    ({"limit": 201}, "limit"),
    ({"sorts": ["amount", "dealname"]}, "one sort"),
    ({"filter_groups": [{"filters": [_f("amount", "GT", "1")]}] * 6}, "filter groups"),
    ({"filter_groups": [{"filters": [_f("amount", "GT", "1")] * 7}]}, "in a group"),
    ({"filter_groups": [{"filters": [_f("amount", "GT", "1")] * 6}] * 4}, "in all"),
    ({"filter_groups": [{"filters": [_f("nope", "EQ", "1")]}]}, "does not exist"),
    ({"filter_groups": [{"filters": [_f("amount", "LIKE", "1")]}]}, "operator"),
])
def test_given_request_beyond_limits_then_400(hs, request_kw, needle):
    # facts §3: <=5 groups, <=6 filters each, 18 total; limit <= 200; one sort rule
    with pytest.raises(ApiException) as caught:
        hs.client.crm.deals.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(**request_kw))
    assert caught.value.status == 400 and needle in error_json(caught.value)["message"]


def test_given_search_past_10000_results_then_400(hs_factory):
    # facts §3: "10,000-result cap; paging beyond -> 400"
    rig = hs_factory(demo=False)
    rig.sb.load(scaled_dataset(10_050, anchor=ANCHOR))
    first = _search(rig, limit=200, after="9800", properties=["dealname"])
    assert first.total == 10_050 and first.paging.next.after == "10000"
    with pytest.raises(ApiException) as caught:
        _search(rig, limit=200, after="10000")
    assert caught.value.status == 400 and "10000" in error_json(caught.value)["message"]


def test_given_search_lag_then_new_record_invisible_and_edit_shows_old_state_until_indexed(hs_factory):
    # facts §3 "new writes appear with delay"; facts §6 search-then-create breaks under lag
    rig = hs_factory(search_lag=0.4)
    deal_id = rig.deal_id(0)
    rig.sb.edit("deals", deal_id, {"dealname": "Renamed"})
    hit = _search(rig, [[_f("hs_object_id", "EQ", deal_id)]], properties=["dealname"])
    assert hit.results[0].properties["dealname"] == "Acme Corp - Platform 2026"  # old state
    read = rig.client.crm.deals.basic_api.get_by_id(deal_id=deal_id, properties=["dealname"])
    assert read.properties["dealname"] == "Renamed"  # reads see writes at once
    task = rig.client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": "2025-03-20T09:00:00Z", "afterclose_key": "lagging"}))
    tasks = rig.client.crm.objects.tasks.search_api.do_search
    from hubspot.crm.objects.tasks import PublicObjectSearchRequest as TaskSearch
    by_key = TaskSearch(filter_groups=[{"filters": [_f("afterclose_key", "EQ", "lagging")]}])
    assert tasks(public_object_search_request=by_key).total == 0
    time.sleep(0.5)
    assert tasks(public_object_search_request=by_key).results[0].id == task.id
    assert _search(rig, [[_f("hs_object_id", "EQ", deal_id)]], properties=["dealname"]).results[0].properties[
        "dealname"] == "Renamed"


def test_given_free_text_query_then_matches_dealname_words(hs):
    # search guide: `query` searches default text properties
    assert _names(_search(hs, query="garbled renewal")) == {"Garbled Renewal Inc"}


def test_given_archived_deal_then_search_no_longer_finds_it(hs):
    # facts §3: archived excluded
    hs.client.crm.deals.basic_api.archive(deal_id=hs.deal_id(18))
    assert _search(hs, [[_f("hs_object_id", "EQ", hs.deal_id(18))]]).total == 0
