"""Idempotency keys: stable, unique per deal + touch point + cycle, short, and readable back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.model import Provider
from jobs.core.keys import MAX_KEY_LENGTH, is_task_key, parse_key, task_key

touch_point_ids = st.from_regex(r"[a-z][a-z0-9_]{0,39}", fullmatch=True)
deal_ids = st.text(min_size=1, max_size=300)
cycles = st.integers(min_value=0, max_value=9999)


def test_given_hubspot_deal_then_key_reads_like_the_documented_example():
    assert task_key(Provider.HUBSPOT, "123456", "renewal_review", 2) == "ac1:hubspot:123456:renewal_review:2"


def test_given_salesforce_18_char_id_then_id_is_kept_in_clear():
    key = task_key("salesforce", "006Dn00000AbCdEFGH", "kickoff", 0)
    assert key == "ac1:salesforce:006Dn00000AbCdEFGH:kickoff:0"
    assert parse_key(key).deal_id == "006Dn00000AbCdEFGH"


def test_given_deal_id_with_colon_then_it_is_hashed_and_key_still_parses():
    key = task_key(Provider.HUBSPOT, "weird:id with spaces", "kickoff", 0)
    parsed = parse_key(key)
    assert parsed.deal_id is None
    assert parsed.belongs_to("weird:id with spaces")
    assert not parsed.belongs_to("weird:id with spaces!")


def test_given_very_long_deal_id_then_key_fits_a_255_char_text_field():
    key = task_key(Provider.SALESFORCE, "x" * 5000, "a" * 40, 9999)
    assert len(key) <= MAX_KEY_LENGTH


@pytest.mark.parametrize("bad", ["", "ac1:hubspot:1:kickoff", "ac1:zoho:1:kickoff:0", "ac2:hubspot:1:kickoff:0",
                                 "ac1:hubspot:1:Kickoff:0", "ac1:hubspot:1:kickoff:-1", "kickoff"])
def test_given_foreign_or_malformed_key_then_parse_names_it(bad):
    with pytest.raises(ValueError, match="task key|not an AfterClose task key"):
        parse_key(bad)
    assert not is_task_key(bad)


@pytest.mark.parametrize("touch_point, cycle", [("Kickoff", 0), ("kick-off", 0), ("kickoff", -1), ("kickoff", 10000)])
def test_given_invalid_parts_then_building_a_key_fails_with_the_part_named(touch_point, cycle):
    with pytest.raises(ValueError, match="touch point|cycle"):
        task_key(Provider.HUBSPOT, "1", touch_point, cycle)


@given(provider=st.sampled_from(list(Provider)), deal_id=deal_ids, touch_point=touch_point_ids, cycle=cycles)
def test_keys_round_trip_and_fit_the_crm_field(provider, deal_id, touch_point, cycle):
    key = task_key(provider, deal_id, touch_point, cycle)
    parsed = parse_key(key)
    assert len(key) <= MAX_KEY_LENGTH
    assert (parsed.provider, parsed.touch_point, parsed.cycle) == (provider, touch_point, cycle)
    assert parsed.belongs_to(deal_id)
    assert parsed.deal_id in (deal_id, None)
    assert task_key(provider, deal_id, touch_point, cycle) == key  # stable


@given(a=st.tuples(deal_ids, touch_point_ids, cycles), b=st.tuples(deal_ids, touch_point_ids, cycles))
def test_different_deal_touch_point_or_cycle_never_share_a_key(a, b):
    if a != b:
        assert task_key(Provider.HUBSPOT, *a) != task_key(Provider.HUBSPOT, *b)
