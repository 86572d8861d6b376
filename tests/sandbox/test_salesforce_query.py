"""SOQL query conformance: simple-salesforce's query / query_more / query_all_iter against the sandbox.

Sources: facts §1 (SDK paging calls), §4 (query response shape, batchSize, datetime format);
SOQL reference pages cited per test.
"""

from __future__ import annotations

import datetime as dt

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

WON = "SELECT Id FROM Opportunity WHERE IsWon = true"


def _won_count(org) -> int:
    return sum(1 for r in org.sandbox.records("Opportunity") if r["IsWon"])


def test_given_more_rows_than_page_size_when_query_all_iter_then_every_won_deal_once(sf_org_factory):
    # facts §1: query_all_iter follows nextRecordsUrl while done is false; §4: pages may be < 2,000.
    org = sf_org_factory(page_size=7)
    ids = [r["Id"] for r in org.sf.query_all_iter(WON + " ORDER BY Id")]
    assert len(ids) == len(set(ids)) == _won_count(org)
    assert org.sandbox.controls.snapshot()["query_more"] == -(-len(ids) // 7) - 1


def test_given_paged_query_then_total_size_is_full_count_and_next_url_is_host_relative(sf_org_factory):
    # facts §4: totalSize = full count; nextRecordsUrl /services/data/vXX.X/query/01g...-N.
    org = sf_org_factory(page_size=10)
    first = org.sf.query(WON)
    assert first["totalSize"] == _won_count(org) and first["done"] is False
    assert len(first["records"]) == 10
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-10")
    second = org.sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert second["totalSize"] == first["totalSize"] and len(second["records"]) == 10


def test_given_last_page_then_done_true_and_no_next_url(sf_org_factory):
    # facts §4: last page done:true, no nextRecordsUrl.
    org = sf_org_factory(page_size=10)
    page = org.sf.query(WON)
    while not page["done"]:
        page = org.sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
    assert "nextRecordsUrl" not in page


def test_given_batch_size_header_then_pages_have_that_size(sf_org_factory):
    # facts §4 / headers-queryoptions: Sforce-Query-Options: batchSize=N, 200..2,000.
    org = sf_org_factory(page_size=7)
    org.sandbox.load(_more_deals())
    page = org.sf.query("SELECT Id FROM Opportunity", headers={"Sforce-Query-Options": "batchSize=200"})
    assert len(page["records"]) == 200 and page["nextRecordsUrl"].endswith("-200")


def test_given_batch_size_below_minimum_then_clamped_to_200(sf_org_factory):
    # headers-queryoptions: "The minimum is 200, the maximum is 2,000".
    org = sf_org_factory(page_size=7)
    org.sandbox.load(_more_deals())
    page = org.sf.query("SELECT Id FROM Opportunity", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(page["records"]) == 200


def _more_deals():
    from connector.sandbox.demo import scaled_dataset
    return scaled_dataset(300, anchor=dt.date(2026, 3, 2))


def test_given_records_change_between_pages_then_later_pages_keep_the_query_snapshot(sf_org_factory):
    # Server-side cursor: the result set is fixed when the query runs (facts §4, resources-query).
    org = sf_org_factory(page_size=5)
    first = org.sf.query("SELECT Id, Name FROM Opportunity WHERE IsWon = true ORDER BY Id")
    later_id = org.sandbox.records("Opportunity")[-1]["Id"]
    rest_ids = sorted(r["Id"] for r in org.sandbox.records("Opportunity") if r["IsWon"])[5:]
    org.sandbox.edit("Opportunity", rest_ids[0], {"Name": "Renamed After Query"})
    org.sandbox.edit("Opportunity", later_id, {"StageName": "Closed Won"})
    seen = org.sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)["records"]
    assert seen[0]["Id"] == rest_ids[0] and seen[0]["Name"] != "Renamed After Query"


def test_given_unknown_or_foreign_locator_then_400_invalid_query_locator(sf_org_factory):
    # A locator the server did not issue (or issued to another user) is INVALID_QUERY_LOCATOR.
    org = sf_org_factory(page_size=5)
    with pytest.raises(SalesforceMalformedRequest) as err:
        org.sf.query_more("/services/data/v59.0/query/01gDn0000000999AAA-5", identifier_is_url=True)
    assert err.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_given_fully_read_cursor_then_it_is_released(sf_org_factory):
    org = sf_org_factory(page_size=25)  # the demo's won deals fit in two pages
    first = org.sf.query(WON)
    last = org.sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert last["done"]
    with pytest.raises(SalesforceMalformedRequest):
        org.sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)


def test_given_relationship_fields_then_parents_nested_with_attributes(sf_shared):
    # "Understanding Query Results" (SOQL reference): parents are nested objects with attributes.
    rec = sf_shared.sf.query("SELECT Id, Owner.Email, Account.Name, Account.Owner.Name FROM Opportunity "
                          "WHERE IsWon = true ORDER BY Id LIMIT 1")["records"][0]
    assert rec["attributes"]["type"] == "Opportunity"
    assert rec["attributes"]["url"] == f"/services/data/v59.0/sobjects/Opportunity/{rec['Id']}"
    assert rec["Owner"]["attributes"]["type"] == "User" and "@vendor.example" in rec["Owner"]["Email"]
    assert rec["Account"]["Name"] == "Acme Corp"
    assert rec["Account"]["Owner"]["attributes"]["type"] == "User"


def test_given_deal_without_account_then_relationship_is_null(sf_org):
    sb = sf_org.sandbox
    deal = sf_org.sf.Opportunity.create({"Name": "No Account", "StageName": "Prospecting",
                                         "CloseDate": "2026-04-01"})["id"]
    rec = sf_org.sf.query(format_soql("SELECT Account.Name FROM Opportunity WHERE Id = {}", deal))["records"][0]
    assert rec["Account"] is None and sb.records("Opportunity")


def test_given_child_subquery_then_contact_roles_nested_or_null_when_none(sf_shared):
    # Parent-to-child subquery results: {totalSize, done, records}; no children -> null.
    recs = sf_shared.sf.query_all(
        "SELECT Id, Name, (SELECT ContactId, Role, IsPrimary, Contact.Email FROM OpportunityContactRoles "
        "ORDER BY IsPrimary DESC) FROM Opportunity WHERE IsWon = true")["records"]
    lonely = next(r for r in recs if r["Name"] == "Lonely Deal Without Contacts")
    assert lonely["OpportunityContactRoles"] is None
    with_roles = next(r for r in recs if r["OpportunityContactRoles"])
    roles = with_roles["OpportunityContactRoles"]
    assert roles["done"] is True and roles["totalSize"] == len(roles["records"]) == 2
    assert roles["records"][0]["IsPrimary"] is True
    assert roles["records"][0]["attributes"]["type"] == "OpportunityContactRole"
    assert "@" in roles["records"][0]["Contact"]["Email"]


def test_given_subquery_on_object_name_instead_of_relationship_then_invalid_type(sf_shared):
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_shared.sf.query("SELECT Id, (SELECT Id FROM OpportunityContactRole) FROM Opportunity")
    assert err.value.content[0]["errorCode"] == "INVALID_TYPE"


@pytest.mark.parametrize("name", ["O'Reilly & Sons \"Premium\" 🚀", "Back\\slash; DROP TABLE deals;--",
                                  "Café Ñandú — año 2"])
def test_given_quotes_backslashes_unicode_via_format_soql_then_exact_match(sf_shared, name):
    # SOQL "Quoted String Escape Sequences"; simple-salesforce format_soql escapes (facts §1).
    recs = sf_shared.sf.query(format_soql("SELECT Name FROM Opportunity WHERE Name = {}", name))["records"]
    assert [r["Name"] for r in recs] == [name]


def test_given_where_with_and_or_not_in_like_null_then_matches_python_filter(sf_shared):
    sb = sf_shared.sandbox
    soql = ("SELECT Id FROM Opportunity WHERE (StageName IN ('Closed Won', 'Closed Lost') AND NOT Amount < 20000) "
            "AND (Name LIKE '%deal%' OR LeadSource = null) AND OwnerId NOT IN ({})")
    inactive = sb.demo_ids["User"][5]
    got = {r["Id"] for r in sf_shared.sf.query_all(soql.format(f"'{inactive}'"))["records"]}
    expected = {r["Id"] for r in sb.records("Opportunity")
                if r["IsClosed"] and not (r["Amount"] or 0) < 20000
                and ("deal" in r["Name"].lower() or r["LeadSource"] is None) and r["OwnerId"] != inactive}
    assert got == expected and got


def test_given_text_equality_then_case_insensitive(sf_shared):
    # SOQL string comparison is case-insensitive (SOQL reference, comparison operators).
    recs = sf_shared.sf.query("SELECT Name FROM Account WHERE Name = 'ACME CORP'")["records"]
    assert [r["Name"] for r in recs] == ["Acme Corp"]


def test_given_not_equal_then_nulls_included(sf_shared):
    # SOQL != matches records whose field is null (unlike SQL).
    got = sf_shared.sf.query_all("SELECT Id FROM Opportunity WHERE LeadSource != 'Web'")["totalSize"]
    expected = sum(1 for r in sf_shared.sandbox.records("Opportunity") if r["LeadSource"] != "Web")
    assert got == expected and any(r["LeadSource"] is None for r in sf_shared.sandbox.records("Opportunity"))


def test_given_and_or_mixed_without_parentheses_then_malformed_query(sf_shared):
    # SOQL has no precedence between AND and OR: parentheses are required.
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_shared.sf.query("SELECT Id FROM Opportunity WHERE IsWon = true AND Amount > 1 OR IsClosed = false")
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:" in err.value.content[0]["message"]


def test_given_datetime_literal_via_format_soql_then_filters_system_modstamp(sf_shared):
    # facts §1: format_soql renders datetimes as unquoted UTC "+00:00"; §4 literal formats.
    stamps = sorted(r["SystemModstamp"] for r in sf_shared.sandbox.records("Opportunity"))
    cut = stamps[len(stamps) // 2]
    got = sf_shared.sf.query_all(format_soql("SELECT Id FROM Opportunity WHERE SystemModstamp > {}", cut))["totalSize"]
    assert got == sum(1 for s in stamps if s > cut)
    z = sf_shared.sf.query_all("SELECT Id FROM Opportunity WHERE SystemModstamp > "
                            + cut.strftime("%Y-%m-%dT%H:%M:%SZ"))["totalSize"]
    assert z == got


def test_given_date_literal_and_date_functions_then_filters_close_date(sf_org):
    # SOQL date formats and date literals (TODAY, LAST_N_DAYS:n).
    sb = sf_org.sandbox
    sb.clock = lambda: dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    exact = sf_org.sf.query_all("SELECT Id FROM Opportunity WHERE CloseDate = 2026-03-02")["totalSize"]
    today = sf_org.sf.query_all("SELECT Id FROM Opportunity WHERE CloseDate = TODAY")["totalSize"]
    recent = sf_org.sf.query_all("SELECT Id FROM Opportunity WHERE CloseDate = LAST_N_DAYS:3")["totalSize"]
    records = sb.records("Opportunity")
    assert exact == today == sum(1 for r in records if r["CloseDate"] == dt.date(2026, 3, 2))
    assert recent == sum(1 for r in records if dt.date(2026, 2, 27) <= r["CloseDate"] <= dt.date(2026, 3, 2))


@pytest.mark.parametrize("where", ["CloseDate = '2026-03-02'", "SystemModstamp > 2026-03-01",
                                   "Amount > '5'", "IsWon = 'true'", "Name = 5"])
def test_given_filter_value_of_wrong_type_then_invalid_field(sf_shared, where):
    # "value of filter criterion for field 'X' must be of type date and should not be enclosed in quotes"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_shared.sf.query(f"SELECT Id FROM Opportunity WHERE {where}")
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "value of filter criterion" in err.value.content[0]["message"]


def test_given_order_by_several_fields_with_nulls_last_then_sorted(sf_shared):
    # SOQL ORDER BY: ASC/DESC, NULLS FIRST/LAST (default nulls first), case-insensitive text.
    recs = sf_shared.sf.query_all("SELECT LeadSource, Amount, Id FROM Opportunity "
                               "ORDER BY LeadSource DESC NULLS LAST, Amount ASC, Id")["records"]
    sources = [r["LeadSource"] for r in recs]
    non_null = [s for s in sources if s is not None]
    assert sources[len(non_null):] == [None] * (len(sources) - len(non_null))
    assert non_null == sorted(non_null, key=str.casefold, reverse=True)
    web = [r["Amount"] for r in recs if r["LeadSource"] == "Web"]
    assert web == sorted(web)


def test_given_order_by_default_then_nulls_first(sf_shared):
    recs = sf_shared.sf.query_all("SELECT Renewal_Date__c FROM Opportunity ORDER BY Renewal_Date__c")["records"]
    assert recs[0]["Renewal_Date__c"] is None and recs[-1]["Renewal_Date__c"] is not None


def test_given_order_by_ties_then_order_is_not_insertion_order_and_id_breaks_ties(sf_shared):
    # SOQL ORDER BY: "the order of results can vary if there are duplicate values"; add Id to fix it.
    tied = sf_shared.sf.query_all("SELECT Id FROM Opportunity WHERE Name LIKE 'Same Second Deal%' "
                               "ORDER BY SystemModstamp")["records"]
    fixed = sf_shared.sf.query_all("SELECT Id FROM Opportunity WHERE Name LIKE 'Same Second Deal%' "
                                "ORDER BY SystemModstamp, Id")["records"]
    by_id = sorted(r["Id"] for r in tied)
    assert [r["Id"] for r in fixed] == by_id
    assert [r["Id"] for r in tied] != by_id  # the sandbox (seed 0) deliberately scrambles ties


@pytest.mark.parametrize("soql, code", [
    ("SELECT Id FROM Opportunity WHERE", "MALFORMED_QUERY"),
    ("SELECT Id Name FROM Opportunity", "MALFORMED_QUERY"),
    ("SELEC Id FROM Opportunity", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE Name = 'unterminated", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE Name = 'bad \\q escape'", "MALFORMED_QUERY"),
    ("SELECT Foo__c FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Owner.Nope FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Nope.Name FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE Decision_Criteria__c = 'x'", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity ORDER BY Customer_Goal__c", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT Id FROM Deal__c", "INVALID_TYPE"),
    ("SELECT Id FROM Opportunity OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
])
def test_given_bad_soql_then_400_with_salesforce_error_code(sf_shared, soql, code):
    # facts §4: bad SOQL -> 400 MALFORMED_QUERY; unknown names INVALID_FIELD / INVALID_TYPE; long text
    # areas cannot be filtered or sorted (SOQL reference).
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf_shared.sf.query(soql)
    assert err.value.status == 400
    assert err.value.content[0]["errorCode"] == code


def test_given_values_then_json_types_and_salesforce_datetime_format(sf_shared):
    # facts §4: datetimes 2013-05-20T20:49:32.000+0000, dates YYYY-MM-DD, numbers/booleans native.
    rec = sf_shared.sf.query("SELECT Amount, IsWon, CloseDate, SystemModstamp, Probability FROM Opportunity "
                          "WHERE IsWon = true ORDER BY Id LIMIT 1")["records"][0]
    assert isinstance(rec["Amount"], float) and rec["IsWon"] is True and rec["Probability"] == 100
    assert dt.date.fromisoformat(rec["CloseDate"])
    assert len(rec["SystemModstamp"]) == 28 and rec["SystemModstamp"].endswith(".000+0000")
    assert dt.datetime.fromisoformat(rec["SystemModstamp"]).tzinfo is not None


def test_given_count_then_total_size_without_records(sf_shared):
    got = sf_shared.sf.query("SELECT COUNT() FROM Opportunity WHERE IsWon = true")
    assert got["totalSize"] == _won_count(sf_shared) and got["records"] == []


def test_given_limit_and_offset_then_window_of_sorted_rows(sf_shared):
    all_ids = [r["Id"] for r in sf_shared.sf.query_all("SELECT Id FROM Opportunity ORDER BY Id")["records"]]
    window = sf_shared.sf.query("SELECT Id FROM Opportunity ORDER BY Id LIMIT 5 OFFSET 3")
    assert [r["Id"] for r in window["records"]] == all_ids[3:8] and window["totalSize"] == 5


def test_given_deleted_record_then_query_hides_it_and_query_all_shows_it(sf_org):
    # queryAll includes deleted (recycle bin) records, query does not (resources-queryall).
    task = sf_org.sf.Task.create({"Subject": "To delete"})["id"]
    sf_org.sf.Task.delete(task)
    soql = format_soql("SELECT Id, IsDeleted FROM Task WHERE Id = {}", task)
    assert sf_org.sf.query(soql)["totalSize"] == 0
    assert sf_org.sf.query_all(soql, include_deleted=True)["records"][0]["IsDeleted"] is True


def test_given_fifteen_character_id_in_filter_then_matches_eighteen_character_id(sf_shared):
    deal_id = sf_shared.sandbox.demo_ids["Opportunity"][0]
    recs = sf_shared.sf.query(f"SELECT Id FROM Opportunity WHERE Id = '{deal_id[:15]}'")["records"]
    assert [r["Id"] for r in recs] == [deal_id]


def test_given_opportunity_stage_object_then_won_stages_queryable(sf_shared):
    # IsWon comes from OpportunityStage, not from the stage name.
    recs = sf_shared.sf.query("SELECT ApiName FROM OpportunityStage WHERE IsWon = true")["records"]
    assert [r["ApiName"] for r in recs] == ["Closed Won"]
