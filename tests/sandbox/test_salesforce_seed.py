"""Demo seeding: the neutral demo data set as Salesforce records (connector/sandbox/demo.py), plus
ids and load speed."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from connector.sandbox.demo import demo_dataset, scaled_dataset
from connector.sandbox.salesforce import SalesforceSandbox
from connector.sandbox.salesforce.ids import checksum_suffix, normalize_id

ANCHOR = dt.date(2026, 3, 2)


@pytest.fixture(scope="module")
def seeded():
    data = demo_dataset(anchor=ANCHOR)
    sandbox = SalesforceSandbox()
    sandbox.load(data)
    return data, sandbox


def test_given_demo_stages_then_won_lost_open_map_to_salesforce_stages(seeded):
    data, sb = seeded
    by_id = {r["Id"]: r for r in sb.records("Opportunity")}
    expected = {"won": ("Closed Won", True), "lost": ("Closed Lost", False), "open": ("Prospecting", False)}
    for deal in data.deals:
        record = by_id[sb.demo_ids["Opportunity"][deal.key]]
        assert (record["StageName"], record["IsWon"]) == expected[deal.stage], deal.name


def test_given_demo_fields_then_canonical_fields_land_in_default_salesforce_fields(seeded):
    data, sb = seeded
    by_id = {r["Id"]: r for r in sb.records("Opportunity")}
    deal = data.deals[0]
    record = by_id[sb.demo_ids["Opportunity"][deal.key]]
    assert record["LeadSource"] == deal.fields["first_touch_channel"]
    assert record["Decision_Criteria__c"] == deal.fields["decision_criteria"]
    assert record["Customer_Goal__c"] == deal.fields["customer_goal"]
    assert record["Success_Criteria__c"] == deal.fields["success_criteria"]
    assert record["Renewal_Date__c"] == deal.fields["renewal_date"]
    assert record["SystemModstamp"] == record["LastModifiedDate"] == deal.modified_at


def test_given_values_a_real_org_cannot_hold_then_adjusted_as_salesforce_would(seeded):
    data, sb = seeded
    names = {r["Name"] for r in sb.records("Opportunity")}
    assert all(len(n) <= 120 for n in names)  # Opportunity.Name is 120 characters
    garbled = next(r for r in sb.records("Opportunity") if r["Name"] == "Garbled Renewal Inc")
    assert garbled["Renewal_Date__c"] is None  # a date field cannot store "next spring"


def test_given_demo_contact_roles_then_one_row_each_with_primary_flag(seeded):
    data, sb = seeded
    roles = sb.records("OpportunityContactRole")
    assert len(roles) == sum(len(d.contacts) for d in data.deals)
    deal = data.deals[0]
    mine = [r for r in roles if r["OpportunityId"] == sb.demo_ids["Opportunity"][deal.key]]
    assert [(r["ContactId"], r["IsPrimary"]) for r in mine] == [
        (sb.demo_ids["Contact"][c.contact], c.primary) for c in deal.contacts]


def test_given_demo_owners_then_users_with_active_flags(seeded):
    data, sb = seeded
    users = {r["Id"]: r for r in sb.records("User")}
    for owner in data.owners:
        assert users[sb.demo_ids["User"][owner.key]]["IsActive"] is owner.active


def test_given_same_load_order_then_same_ids():
    a, b = SalesforceSandbox(), SalesforceSandbox()
    data = demo_dataset(anchor=ANCHOR)
    assert a.load(data) == b.load(data)


def test_given_ids_then_18_characters_with_prefix_and_valid_checksum(seeded):
    _, sb = seeded
    deal = sb.demo_ids["Opportunity"][0]
    assert deal.startswith("006") and len(deal) == 18 and checksum_suffix(deal[:15]) == deal[15:]
    assert normalize_id(deal[:15]) == deal and normalize_id(deal[:15] + "AAA") is None
    assert sb.demo_ids["Account"][0].startswith("001") and sb.demo_ids["Contact"][0].startswith("003")


def test_given_scaled_dataset_then_loads_quickly():
    data = scaled_dataset(5_000, anchor=ANCHOR)
    start = time.monotonic()
    SalesforceSandbox().load(data)
    assert time.monotonic() - start < 2.0


@pytest.mark.slow
def test_given_50k_deals_then_load_in_seconds_and_query_pages_thousands_per_second(sf_org_factory):
    org = sf_org_factory(demo=False)
    data = scaled_dataset(50_000, anchor=ANCHOR)
    start = time.monotonic()
    org.sandbox.load(data)
    assert time.monotonic() - start < 10
    start = time.monotonic()
    count = sum(1 for _ in org.sf.query_all_iter("SELECT Id, Name, SystemModstamp FROM Opportunity WHERE IsWon = true",
                                                 headers={"Sforce-Query-Options": "batchSize=2000"}))
    assert count == sum(1 for d in data.deals if d.stage == "won")
    assert count / (time.monotonic() - start) > 2_000
