"""Raw CRM strings read by FieldType: a value, None for blank, or a ValueProblem; never an exception."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.mapping import FieldType
from jobs.core.values import ValueProblem, normalize_for_compare, parse

UTC = dt.UTC
T = FieldType


@pytest.mark.parametrize("type_", list(FieldType))
@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n "])
def test_given_blank_value_then_none_for_every_type(type_, raw):
    assert parse(type_, raw) is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-01-31", dt.date(2026, 1, 31)),
    (" 2026-01-31 ", dt.date(2026, 1, 31)),
    ("2026-01-31T00:00:00Z", dt.date(2026, 1, 31)),
    ("2013-05-20T20:49:32.000+0000", dt.date(2013, 5, 20)),  # Salesforce's datetime form
    ("2026-01-31T23:30:00-05:00", dt.date(2026, 2, 1)),       # the day in UTC
    ("1769817600000", dt.date(2026, 1, 31)),                  # HubSpot epoch milliseconds
])
def test_given_date_forms_crms_send_then_parsed_to_the_day(raw, expected):
    assert parse(T.DATE, raw) == expected


@pytest.mark.parametrize("raw", ["next spring", "31.01.2026", "2026-02-30", "2026-13-01", "20260131",
                                 "2026-W05-1", "12", "٢٠٢٦-٠١-٣١", "9999999999999999"])
def test_given_unreadable_date_then_problem_quotes_the_value(raw):
    problem = parse(T.DATE, raw)
    assert isinstance(problem, ValueProblem)
    assert repr(raw)[:20].strip("'") in problem.reason or "…" in problem.reason


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-01-31", dt.datetime(2026, 1, 31, tzinfo=UTC)),
    ("2019-10-30T03:30:17.883Z", dt.datetime(2019, 10, 30, 3, 30, 17, 883000, tzinfo=UTC)),
    ("2026-01-31T10:00:00", dt.datetime(2026, 1, 31, 10, tzinfo=UTC)),
    ("1577836800000", dt.datetime(2020, 1, 1, tzinfo=UTC)),
])
def test_given_datetime_forms_then_aware_datetime(raw, expected):
    value = parse(T.DATETIME, raw)
    assert value == expected and value.tzinfo is not None


@pytest.mark.parametrize(("raw", "expected"), [
    ("5", Decimal(5)), ("5.0", Decimal(5)), ("-3.25", Decimal("-3.25")), ("+7", Decimal(7)),
    (".5", Decimal("0.5")), ("1e3", Decimal(1000)), ("1.5E-2", Decimal("0.015")),
])
def test_given_plain_number_then_decimal(raw, expected):
    assert parse(T.NUMBER, raw) == expected


@pytest.mark.parametrize("raw", ["abc", "1,5", "1,000", "NaN", "Infinity", "$5", "5 %", "1e999", "٣", "0x10"])
def test_given_unreadable_number_then_problem(raw):
    assert isinstance(parse(T.NUMBER, raw), ValueProblem)


def test_given_decimal_comma_then_reason_says_use_a_point():
    assert "use a point" in parse(T.NUMBER, "1,5").reason


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("True", True), ("FALSE", False)])
def test_given_true_or_false_in_any_case_then_bool(raw, expected):
    assert parse(T.BOOL, raw) is expected


@pytest.mark.parametrize("raw", ["yes", "1", "on"])
def test_given_other_bool_spellings_then_problem(raw):
    assert isinstance(parse(T.BOOL, raw), ValueProblem)


def test_given_enum_value_in_options_then_kept_exactly():
    assert parse(T.ENUM, " promoter ", ("promoter", "passive")) == "promoter"


def test_given_enum_value_outside_options_then_problem_lists_options():
    problem = parse(T.ENUM, "Promoter", ("promoter", "passive"))
    assert isinstance(problem, ValueProblem) and "promoter, passive" in problem.reason


def test_given_text_then_stripped():
    assert parse(T.TEXT, "  goal  ") == "goal"


def test_given_long_value_then_reason_quotes_it_shortened():
    problem = parse(T.NUMBER, "x" * 100_000)
    assert len(problem.reason) < 120


@pytest.mark.parametrize(("type_", "a", "b"), [
    (T.NUMBER, "5", "5.0"),
    (T.NUMBER, "1000", "1e3"),
    (T.NUMBER, "0", "-0.00"),
    (T.DATE, "2026-01-01", "2026-01-01T00:00:00Z"),
    (T.DATE, "2026-01-01", "1767225600000"),
    (T.DATETIME, "2026-01-01", "2026-01-01T00:00:00Z"),
    (T.DATETIME, "2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00.000+0000"),
    (T.BOOL, "True", "true"),
    (T.TEXT, " x ", "x"),
])
def test_given_same_value_in_two_spellings_then_normalized_equal(type_, a, b):
    assert normalize_for_compare(type_, a) == normalize_for_compare(type_, b)


@pytest.mark.parametrize(("type_", "a", "b"), [
    (T.NUMBER, "5", "5.1"),
    (T.DATE, "2026-01-01", "2026-01-02"),
    (T.NUMBER, "5", "five"),
])
def test_given_different_values_then_normalized_differ(type_, a, b):
    assert normalize_for_compare(type_, a) != normalize_for_compare(type_, b)


def test_given_blank_then_normalized_none():
    assert normalize_for_compare(T.NUMBER, "  ") is None


@given(type_=st.sampled_from(list(FieldType)), raw=st.none() | st.text(),
       options=st.lists(st.text(), max_size=3))
def test_parse_never_raises(type_, raw, options):
    result = parse(type_, raw, tuple(options))
    assert result is None or isinstance(result, (ValueProblem, str, Decimal, bool, dt.date))


@given(type_=st.sampled_from(list(FieldType)),
       raw=st.text() | st.dates().map(str) | st.datetimes(timezones=st.timezones()).map(str)
       | st.decimals(allow_nan=False, allow_infinity=False).map(str))
def test_normalize_for_compare_is_idempotent(type_, raw):
    once = normalize_for_compare(type_, raw)
    assert normalize_for_compare(type_, once) == once
