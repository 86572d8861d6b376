"""Playbook conditions: which deals a playbook is for, and the reason the plan gives."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jobs.core.conditions import ALWAYS, AllOf, AnyOf, FieldTest, describe, evaluate, fact, field_names
from tests.builders import complete_fields, make_deal, make_owner


def deal(**fields):
    return make_deal(fields=complete_fields(**fields))


@pytest.mark.parametrize("value, holds", [("Renewal", True), (" renewal ", True), ("RENEWAL", True),
                                          ("Renewals", False), (None, False), ("", False)])
def test_given_equals_then_text_matches_without_case_or_surrounding_spaces(value, holds):
    assert evaluate(FieldTest(field="deal_type", equals="renewal"), deal(deal_type=value)).holds is holds


def test_given_a_list_then_one_of_and_none_of_are_opposites_except_on_an_empty_value():
    one_of = FieldTest(field="deal_type", one_of=("existingbusiness", "Existing Customer - Upgrade"))
    none_of = FieldTest(field="deal_type", not_one_of=("existingbusiness", "Existing Customer - Upgrade"))
    upgrade, new, empty = deal(deal_type="existing customer - upgrade"), deal(deal_type="newbusiness"), deal()
    assert [evaluate(one_of, d).holds for d in (upgrade, new, empty)] == [True, False, False]
    assert [evaluate(none_of, d).holds for d in (upgrade, new, empty)] == [False, True, True]


@pytest.mark.parametrize("amount, holds", [("49999.99", False), ("50000", True), ("50000.00", True),
                                           ("249999", True), ("250000", False), ("lots", False), (None, False)])
def test_given_a_range_then_at_least_is_inclusive_and_below_exclusive(amount, holds):
    mid_market = FieldTest(field="amount", at_least=Decimal(50000), below=Decimal(250000))
    assert evaluate(mid_market, make_deal(amount=amount)).holds is holds


def test_given_equals_a_number_then_numbers_compare_not_texts():
    assert evaluate(FieldTest(field="amount", equals=Decimal(25000)), make_deal(amount="25000.00")).holds


def test_given_empty_tests_then_blank_counts_as_empty():
    filled = FieldTest(field="csm_owner", empty=False)
    assert evaluate(filled, deal(csm_owner="csm-7")).holds
    assert not evaluate(filled, deal(csm_owner="   ")).holds
    assert evaluate(FieldTest(field="csm_owner", empty=True), deal()).holds


def test_given_all_and_any_then_they_combine_and_the_reason_names_the_facts_that_decided():
    enterprise = AllOf(parts=(FieldTest(field="deal_type", equals="newbusiness"),
                              FieldTest(field="amount", at_least=Decimal(50000))))
    big = make_deal(amount="75000", fields=complete_fields(deal_type="newbusiness"))
    small = make_deal(amount="9000", fields=complete_fields(deal_type="newbusiness"))
    verdict = evaluate(enterprise, big)
    assert verdict.holds and verdict.because == ("deal_type is 'newbusiness': newbusiness and "
                                                 "amount is '75000': at least 50000")
    assert evaluate(enterprise, small) == type(verdict)(False, "amount is '9000', not at least 50000")
    either = AnyOf(parts=(FieldTest(field="amount", at_least=Decimal(50000)),
                          FieldTest(field="owner_id", equals="vip")))
    assert evaluate(either, make_deal(amount="10", owner=make_owner(id="vip"))).because == "owner_id is 'vip': vip"


def test_given_built_in_facts_then_conditions_read_them_and_a_mapped_field_of_the_same_name_wins():
    owned = make_deal(owner=make_owner(id="o-9", email="ada@vendor.example"))
    assert fact(owned, "owner_email") == "ada@vendor.example" and fact(owned, "contacts") == "1"
    assert fact(owned, "stage") == "closedwon" and fact(owned, "company_name") == "Acme Corp"
    assert fact(make_deal(fields={"stage": "mapped"}), "stage") == "mapped"


def test_the_default_condition_holds_for_every_deal():
    assert evaluate(ALWAYS, make_deal(fields={})).holds and describe(ALWAYS) == "every deal"


@pytest.mark.parametrize("kwargs, message", [
    (dict(field="amount"), "tests nothing"),
    (dict(field="amount", at_least=Decimal(10), below=Decimal(10)), "no amount can match"),
])
def test_given_a_test_that_cannot_work_then_it_is_refused_naming_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FieldTest(**kwargs)


def test_field_names_point_at_each_test_for_error_messages():
    condition = AllOf(parts=(FieldTest(field="a", empty=True),
                             AnyOf(parts=(FieldTest(field="b", empty=True), FieldTest(field="c", empty=True)))))
    assert list(field_names(condition)) == [("when.all[0].field", "a"), ("when.all[1].any[0].field", "b"),
                                            ("when.all[1].any[1].field", "c")]
