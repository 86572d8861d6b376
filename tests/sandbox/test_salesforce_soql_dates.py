"""SOQL date literals, date functions, nested child subqueries and the constructs the sandbox does
not model, through simple-salesforce.

Sources (docs/salesforce-api-notes.md, "Query"): SOQL "Date Formats and Date Literals in WHERE",
"Date Functions", "convertTimezone()", "Understanding Relationship Query Limitations" (five levels
from v58.0); time-zone reading [STRICT] documented in soql_dates.py.

The org's clock stands at Wednesday 2026-03-04 15:00 UTC (07:00 in Los Angeles, the integration
user's default time zone); weeks start on Sunday (en_US). Expected ranges are written out by hand.
"""

from __future__ import annotations

import datetime as dt

import pytest
import simple_salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.sandbox.salesforce import SalesforceSandbox, sdk_session
from tests.sandbox.salesforce_fixtures import SfOrg

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
FIRST_DAY, LAST_DAY = dt.date(2023, 12, 1), dt.date(2029, 1, 31)
D = dt.date

EXPECTED = {
    "TODAY": (D(2026, 3, 4), D(2026, 3, 4)), "YESTERDAY": (D(2026, 3, 3), D(2026, 3, 3)),
    "TOMORROW": (D(2026, 3, 5), D(2026, 3, 5)),
    "THIS_WEEK": (D(2026, 3, 1), D(2026, 3, 7)), "LAST_WEEK": (D(2026, 2, 22), D(2026, 2, 28)),
    "NEXT_WEEK": (D(2026, 3, 8), D(2026, 3, 14)),
    "THIS_MONTH": (D(2026, 3, 1), D(2026, 3, 31)), "LAST_MONTH": (D(2026, 2, 1), D(2026, 2, 28)),
    "NEXT_MONTH": (D(2026, 4, 1), D(2026, 4, 30)),
    "LAST_90_DAYS": (D(2025, 12, 4), D(2026, 3, 4)), "NEXT_90_DAYS": (D(2026, 3, 5), D(2026, 6, 2)),
    "LAST_N_DAYS:3": (D(2026, 3, 1), D(2026, 3, 4)), "NEXT_N_DAYS:3": (D(2026, 3, 5), D(2026, 3, 7)),
    "N_DAYS_AGO:3": (D(2026, 3, 1), D(2026, 3, 1)),
    "LAST_N_WEEKS:2": (D(2026, 2, 15), D(2026, 2, 28)), "NEXT_N_WEEKS:2": (D(2026, 3, 8), D(2026, 3, 21)),
    "N_WEEKS_AGO:2": (D(2026, 2, 15), D(2026, 2, 21)),
    "LAST_N_MONTHS:2": (D(2026, 1, 1), D(2026, 2, 28)), "NEXT_N_MONTHS:2": (D(2026, 4, 1), D(2026, 5, 31)),
    "N_MONTHS_AGO:2": (D(2026, 1, 1), D(2026, 1, 31)),
    "THIS_QUARTER": (D(2026, 1, 1), D(2026, 3, 31)), "LAST_QUARTER": (D(2025, 10, 1), D(2025, 12, 31)),
    "NEXT_QUARTER": (D(2026, 4, 1), D(2026, 6, 30)),
    "LAST_N_QUARTERS:2": (D(2025, 7, 1), D(2025, 12, 31)), "NEXT_N_QUARTERS:2": (D(2026, 4, 1), D(2026, 9, 30)),
    "N_QUARTERS_AGO:2": (D(2025, 7, 1), D(2025, 9, 30)),
    "THIS_YEAR": (D(2026, 1, 1), D(2026, 12, 31)), "LAST_YEAR": (D(2025, 1, 1), D(2025, 12, 31)),
    "NEXT_YEAR": (D(2027, 1, 1), D(2027, 12, 31)),
    "LAST_N_YEARS:2": (D(2024, 1, 1), D(2025, 12, 31)), "NEXT_N_YEARS:2": (D(2027, 1, 1), D(2028, 12, 31)),
    "N_YEARS_AGO:2": (D(2024, 1, 1), D(2024, 12, 31)),
}
# With no custom fiscal year and the standard one starting in January, fiscal = calendar.
FISCAL = {
    "THIS_FISCAL_QUARTER": "THIS_QUARTER", "LAST_FISCAL_QUARTER": "LAST_QUARTER", "NEXT_FISCAL_QUARTER": "NEXT_QUARTER",
    "LAST_N_FISCAL_QUARTERS:2": "LAST_N_QUARTERS:2", "NEXT_N_FISCAL_QUARTERS:2": "NEXT_N_QUARTERS:2",
    "N_FISCAL_QUARTERS_AGO:2": "N_QUARTERS_AGO:2", "THIS_FISCAL_YEAR": "THIS_YEAR", "LAST_FISCAL_YEAR": "LAST_YEAR",
    "NEXT_FISCAL_YEAR": "NEXT_YEAR", "LAST_N_FISCAL_YEARS:2": "LAST_N_YEARS:2",
    "NEXT_N_FISCAL_YEARS:2": "NEXT_N_YEARS:2", "N_FISCAL_YEARS_AGO:2": "N_YEARS_AGO:2",
}


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _daily_org(factory, **kwargs):
    """One Opportunity closing on every day from FIRST_DAY to LAST_DAY."""
    org = factory(demo=False, **kwargs)
    org.sandbox.clock = lambda: NOW
    for day in _days(FIRST_DAY, LAST_DAY):
        org.sandbox.store.insert_raw("Opportunity", {"Name": f"close {day}", "StageName": "Prospecting",
                                                     "CloseDate": day})
    return org


@pytest.fixture(scope="module")
def daily():
    """A read-only org shared by the module (one Opportunity a day, the clock fixed at NOW)."""
    sandbox = SalesforceSandbox()
    with sandbox.serve() as endpoint:
        sf = simple_salesforce.Salesforce(instance_url=endpoint.base_url, session_id=endpoint.token,
                                          session=sdk_session(endpoint.ca_path))
        yield _daily_org(lambda **_: SfOrg(sandbox=sandbox, endpoint=endpoint, sf=sf))


def _count(org, where: str) -> int:
    return org.sf.query(f"SELECT COUNT() FROM Opportunity WHERE {where}")["totalSize"]


def _closes(org, where: str) -> set[dt.date]:
    records = org.sf.query_all(f"SELECT CloseDate FROM Opportunity WHERE {where}")["records"]
    return {dt.date.fromisoformat(r["CloseDate"]) for r in records}


@pytest.mark.parametrize("literal", [*EXPECTED, *FISCAL])
def test_given_each_documented_date_literal_then_equals_matches_exactly_its_range(daily, literal):
    first, last = EXPECTED[FISCAL.get(literal, literal)]
    assert _closes(daily, f"CloseDate = {literal}") == set(_days(first, last))


@pytest.mark.parametrize("literal", ["THIS_WEEK", "LAST_N_QUARTERS:2", "NEXT_FISCAL_YEAR"])
def test_given_less_and_greater_than_a_date_literal_then_before_its_start_and_after_its_end(daily, literal):
    first, last = EXPECTED[FISCAL.get(literal, literal)]
    assert _count(daily, f"CloseDate < {literal}") == (first - FIRST_DAY).days
    assert _count(daily, f"CloseDate > {literal}") == (LAST_DAY - last).days
    assert _count(daily, f"CloseDate >= {literal}") == (LAST_DAY - first).days + 1


def test_given_fiscal_year_starting_in_april_then_fiscal_literals_and_functions_follow_it(sf_org_factory):
    org = _daily_org(sf_org_factory, fiscal_year_start_month=4)
    assert _closes(org, "CloseDate = THIS_FISCAL_YEAR") == set(_days(D(2025, 4, 1), D(2026, 3, 31)))
    assert _closes(org, "CloseDate = THIS_FISCAL_QUARTER") == set(_days(D(2026, 1, 1), D(2026, 3, 31)))
    # A fiscal year is named after the calendar year it ends in.
    assert min(_closes(org, "FISCAL_YEAR(CloseDate) = 2027")) == D(2026, 4, 1)
    assert _closes(org, "FISCAL_MONTH(CloseDate) = 1 AND CALENDAR_YEAR(CloseDate) = 2026") == set(
        _days(D(2026, 4, 1), D(2026, 4, 30)))


def test_given_week_starting_monday_then_this_week_runs_monday_to_sunday(sf_org_factory):
    org = _daily_org(sf_org_factory, week_start="Monday")
    assert _closes(org, "CloseDate = THIS_WEEK") == set(_days(D(2026, 3, 2), D(2026, 3, 8)))


def _stamped_org(factory, time_zone: str):
    org = factory(demo=False, time_zone=time_zone)
    # Now: 06:00 UTC on 4 March = 22:00 on 3 March in Los Angeles = 15:00 on 4 March in Tokyo.
    org.sandbox.clock = lambda: dt.datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
    for name, stamp in {"A": dt.datetime(2026, 3, 4, 5, 0, tzinfo=UTC),     # LA 3 Mar 21:00, Tokyo 4 Mar
                        "B": dt.datetime(2026, 3, 3, 10, 0, tzinfo=UTC),    # LA 3 Mar 02:00, Tokyo 3 Mar
                        "C": dt.datetime(2026, 3, 3, 16, 0, tzinfo=UTC)}.items():  # LA 3 Mar 08:00, Tokyo 4 Mar
        org.sandbox.store.insert_raw("Account", {"Name": name, "CreatedDate": stamp})
    return org


def _names(org, where: str) -> set[str]:
    return {r["Name"] for r in org.sf.query_all(f"SELECT Name FROM Account WHERE {where}")["records"]}


@pytest.mark.parametrize("time_zone, today, yesterday", [
    ("America/Los_Angeles", {"A", "B", "C"}, set()), ("UTC", {"A"}, {"B", "C"}), ("Asia/Tokyo", {"A", "C"}, {"B"})])
def test_given_users_time_zone_then_today_on_datetime_runs_local_midnight_to_midnight(sf_org_factory, time_zone,
                                                                                     today, yesterday):
    org = _stamped_org(sf_org_factory, time_zone)
    assert _names(org, "CreatedDate = TODAY") == today
    assert _names(org, "CreatedDate = YESTERDAY") == yesterday


def test_given_date_field_then_today_is_the_users_local_date(sf_org_factory):
    org = sf_org_factory(demo=False)
    org.sandbox.clock = lambda: dt.datetime(2026, 3, 4, 6, 0, tzinfo=UTC)  # still 3 March in Los Angeles
    org.sandbox.store.insert_raw("Opportunity", {"Name": "x", "StageName": "Prospecting", "CloseDate": D(2026, 3, 3)})
    assert _count(org, "CloseDate = TODAY") == 1
    assert _count(org, "CloseDate = YESTERDAY") == 0


def test_given_date_functions_on_datetime_then_utc_unless_convert_timezone(sf_org_factory):
    org = _stamped_org(sf_org_factory, "America/Los_Angeles")
    assert _names(org, "DAY_ONLY(CreatedDate) = 2026-03-04") == {"A"}
    assert _names(org, "DAY_ONLY(convertTimezone(CreatedDate)) = 2026-03-03") == {"A", "B", "C"}
    assert _names(org, "HOUR_IN_DAY(CreatedDate) = 5") == {"A"}
    assert _names(org, "HOUR_IN_DAY(convertTimezone(CreatedDate)) IN (21, 8)") == {"A", "C"}
    assert _names(org, "DAY_IN_WEEK(CreatedDate) = 4") == {"A"}  # Wednesday in UTC
    assert _names(org, "DAY_IN_WEEK(convertTimezone(CreatedDate)) = 3") == {"A", "B", "C"}  # Tuesday in LA


@pytest.mark.parametrize("where, first, last", [
    ("CALENDAR_YEAR(CloseDate) = 2026", D(2026, 1, 1), D(2026, 12, 31)),
    ("CALENDAR_MONTH(CloseDate) = 2 AND CALENDAR_YEAR(CloseDate) = 2024", D(2024, 2, 1), D(2024, 2, 29)),
    ("CALENDAR_QUARTER(CloseDate) = 3 AND CALENDAR_YEAR(CloseDate) = 2025", D(2025, 7, 1), D(2025, 9, 30)),
    ("DAY_IN_YEAR(CloseDate) <= 3 AND CALENDAR_YEAR(CloseDate) = 2027", D(2027, 1, 1), D(2027, 1, 3)),
    ("DAY_IN_MONTH(CloseDate) >= 30 AND CALENDAR_MONTH(CloseDate) = 4 AND CALENDAR_YEAR(CloseDate) = 2026",
     D(2026, 4, 30), D(2026, 4, 30)),
    ("WEEK_IN_MONTH(CloseDate) = 5 AND CALENDAR_MONTH(CloseDate) = 3 AND CALENDAR_YEAR(CloseDate) = 2026",
     D(2026, 3, 29), D(2026, 3, 31)),
    ("WEEK_IN_YEAR(CloseDate) = 1 AND CALENDAR_YEAR(CloseDate) = 2026", D(2026, 1, 1), D(2026, 1, 7)),
    ("FISCAL_QUARTER(CloseDate) = 1 AND FISCAL_YEAR(CloseDate) = 2028", D(2028, 1, 1), D(2028, 3, 31)),
    ("DAY_ONLY(CreatedDate) = TODAY AND CloseDate = 2026-03-04", D(2026, 3, 4), D(2026, 3, 4)),
])
def test_given_date_function_in_where_then_matches_the_days_it_names(daily, where, first, last):
    assert _closes(daily, where) == set(_days(first, last))


def test_given_day_in_week_then_one_is_sunday(daily):
    sundays = _closes(daily, "DAY_IN_WEEK(CloseDate) = 1 AND CALENDAR_MONTH(CloseDate) = 3 "
                             "AND CALENDAR_YEAR(CloseDate) = 2026")
    assert sundays == {D(2026, 3, 1), D(2026, 3, 8), D(2026, 3, 15), D(2026, 3, 22), D(2026, 3, 29)}


@pytest.mark.parametrize("where, code", [
    ("HOUR_IN_DAY(CloseDate) = 3", "INVALID_FIELD"), ("DAY_ONLY(CloseDate) = 2026-03-04", "INVALID_FIELD"),
    ("CALENDAR_YEAR(CloseDate) = '2026'", "INVALID_FIELD"), ("CALENDAR_YEAR(Name) = 2026", "INVALID_FIELD"),
    ("CALENDAR_YEAR(convertTimezone(CloseDate)) = 2026", "INVALID_FIELD"),
    ("CloseDate = LAST_N_DAYS", "MALFORMED_QUERY"), ("CloseDate = LAST_FORTNIGHT", "MALFORMED_QUERY"),
])
def test_given_date_function_or_literal_misused_then_400_naming_it(daily, where, code):
    with pytest.raises(SalesforceMalformedRequest) as err:
        daily.sf.query(f"SELECT Id FROM Opportunity WHERE {where}")
    assert err.value.content[0]["errorCode"] == code


NESTED = ("SELECT Name, (SELECT Name, (SELECT Role, Contact.LastName FROM OpportunityContactRoles) "
          "FROM Opportunities) FROM Account")


def test_given_v58_then_three_level_child_subquery_nests_results(sf_org):
    records = sf_org.sf.query_all(NESTED)["records"]
    with_deals = [r for r in records if r["Opportunities"]]
    roles = [role for account in with_deals for deal in account["Opportunities"]["records"]
             if deal["OpportunityContactRoles"] for role in deal["OpportunityContactRoles"]["records"]]
    expected = sf_org.sf.query("SELECT COUNT() FROM OpportunityContactRole WHERE Opportunity.AccountId != null")
    assert roles and len(roles) == expected["totalSize"]
    assert {"Role", "Contact", "attributes"} <= set(roles[0])


def test_given_v57_then_nested_child_subquery_is_refused(sf_org):
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.client(version="57.0").query(NESTED)
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert "58.0" in err.value.content[0]["message"]


FIVE_LEVELS = ("SELECT Name, (SELECT Name, (SELECT Name, (SELECT Name, (SELECT Role, Contact.LastName "
               "FROM OpportunityContactRoles) FROM Opportunities) FROM ChildAccounts) FROM ChildAccounts) "
               "FROM Account WHERE Name = 'Five Levels Holding'")


def test_given_v58_then_five_levels_of_child_subqueries_the_documented_limit_are_answered(sf_org):
    # "In API version 58.0 and later, SOQL queries can contain up to five levels of parent-to-child
    # relationships" (SOQL reference, relationships_query_using): Account > ChildAccounts > ChildAccounts >
    # Opportunities > OpportunityContactRoles is five, the outer query being the first.
    sf = sf_org.sf
    top = sf.Account.create({"Name": "Five Levels Holding"})["id"]
    middle = sf.Account.create({"Name": "Five Levels Region", "ParentId": top})["id"]
    leaf = sf.Account.create({"Name": "Five Levels Branch", "ParentId": middle})["id"]
    deal = sf.Opportunity.create({"Name": "Five Levels Deal", "AccountId": leaf, "StageName": "Closed Won",
                                  "CloseDate": "2026-03-01"})["id"]
    contact = sf.Contact.create({"LastName": "Deepley", "AccountId": leaf})["id"]
    sf.OpportunityContactRole.create({"OpportunityId": deal, "ContactId": contact, "Role": "Decision Maker"})

    records = sf.query(FIVE_LEVELS)["records"]

    assert [r["Name"] for r in records] == ["Five Levels Holding"]
    regions = records[0]["ChildAccounts"]["records"]
    assert [r["Name"] for r in regions] == ["Five Levels Region"]
    branches = regions[0]["ChildAccounts"]["records"]
    assert [r["Name"] for r in branches] == ["Five Levels Branch"]
    deals = branches[0]["Opportunities"]["records"]
    assert [r["Name"] for r in deals] == ["Five Levels Deal"]
    roles = deals[0]["OpportunityContactRoles"]["records"]
    assert [(r["Role"], r["Contact"]["LastName"]) for r in roles] == [("Decision Maker", "Deepley")]
    # One level fewer is what v57 and earlier allow at most: there the same query is refused.
    with pytest.raises(SalesforceMalformedRequest):
        sf_org.client(version="57.0").query(FIVE_LEVELS)


def test_given_six_levels_of_child_subqueries_then_refused_even_on_v58(sf_org):
    query = ("SELECT Id, (SELECT Id, (SELECT Id, (SELECT Id, (SELECT Id, (SELECT Id FROM F) FROM E) FROM D) "
             "FROM C) FROM B) FROM Account")
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_org.sf.query(query)
    assert "at most 5 levels" in err.value.content[0]["message"]


@pytest.mark.parametrize("soql, construct", [
    ("SELECT FIELDS(ALL) FROM Account LIMIT 200", "FIELDS()"),
    ("SELECT TYPEOF What WHEN Account THEN Name END FROM Task", "TYPEOF"),
    ("SELECT SUM(Amount) FROM Opportunity", "aggregate function SUM()"),
    ("SELECT StageName FROM Opportunity GROUP BY StageName", "GROUP BY"),
    ("SELECT Id FROM Contact WHERE AccountId IN (SELECT Id FROM Account)", "semi-joins and anti-joins"),
    ("SELECT Id FROM Contact WHERE AccountId NOT IN (SELECT Id FROM Account)", "semi-joins and anti-joins"),
    ("SELECT Id FROM Account WITH SECURITY_ENFORCED", "WITH"),
    ("SELECT Id FROM Account FOR UPDATE", "FOR VIEW"),
    ("SELECT Id FROM Account USING SCOPE Mine", "USING SCOPE"),
    ("SELECT toLabel(StageName) FROM Opportunity", "toLabel() in the SELECT list"),
    ("SELECT Id FROM Opportunity ORDER BY CALENDAR_YEAR(CloseDate)", "CALENDAR_YEAR() in ORDER BY"),
    ("SELECT Id FROM Opportunity WHERE LeadSource INCLUDES ('Web')", "INCLUDES / EXCLUDES"),
])
def test_given_soql_the_sandbox_does_not_model_then_malformed_query_names_the_construct(sf_shared, soql, construct):
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_shared.sf.query(soql)
    error = err.value.content[0]
    assert error["errorCode"] == "MALFORMED_QUERY"
    assert f"not supported by this sandbox: {construct}" in error["message"]
