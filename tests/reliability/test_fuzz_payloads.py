"""Garbage from the CRM: property-based fuzzing of the payloads the adapters parse.

Whatever a page holds (odd unicode, nulls, huge strings, wrong types, bad dates, duplicate ids,
a paging cursor that repeats), reading it ends in deals, or in one of AfterClose's own errors
naming what was wrong (a ``CrmError``: the run stops cleanly and keeps its cursor). Never a bare
``KeyError``/``AttributeError`` traceback, never an endless loop.

The adapters' parsing code is fed directly, through a stand-in for the one client object each
adapter sends every call through; the HTTP layer itself is covered by the sandbox suites.
"""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from connector.errors import CrmError
from connector.mapping import FieldType
from tests.reliability.crm import mapping_for

# No shrinking: a failure prints the case as generated, and the fast suite stays fast.
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                phases=[Phase.explicit, Phase.reuse, Phase.generate])
MAX_CALLS = 40

odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "\u202e\u0627", "🚀" * 3, "null", "NaN", "2026-13-45", "2026-02-30T25:61:00Z",
                     "-1", "1e309", "' OR Id != null", "\\", "9" * 40]),
    st.integers(min_value=1, max_value=50_000).map(lambda n: "x" * n),  # huge strings
)
junk = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), odd_text),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(odd_text, inner, max_size=3)),
                    max_leaves=6)


def calls_ran_out() -> AssertionError:
    return AssertionError(f"more than {MAX_CALLS} calls for a few pages: the reader loops")


# -- Salesforce: query pages -> deals ------------------------------------------------------------

def sf_record(draw_values: dict) -> dict:
    record = {"attributes": {"type": "Opportunity"}, "Id": "0065g00000AbCdEAAZ", "Name": "Deal", "StageName": "Closed Won",
              "IsWon": True, "CloseDate": "2026-01-15", "SystemModstamp": "2026-01-31T00:00:00.000+0000",
              "OwnerId": "0055g00000AbCdEAAZ", "Owner": {"Email": "a@b.c", "Name": "A", "IsActive": True},
              "AccountId": "0015g00000AbCdEAAZ", "Account": {"Name": "Acme"}, "OpportunityContactRoles": None}
    record.update(draw_values)
    return record


sf_keys = st.sampled_from(["Id", "Name", "StageName", "IsWon", "CloseDate", "SystemModstamp", "OwnerId", "Owner",
                           "AccountId", "Account", "OpportunityContactRoles", "Amount", "Decision_Criteria__c",
                           "Renewal_Date__c"])
sf_pages = st.lists(
    st.fixed_dictionaries({
        "records": st.one_of(st.lists(st.dictionaries(sf_keys, junk, max_size=4).map(sf_record), max_size=4), junk),
        "done": st.one_of(st.booleans(), junk),
        "nextRecordsUrl": st.one_of(st.just("/services/data/v59.0/query/01g-2000"), odd_text, junk),
    }),
    min_size=1, max_size=4,
)


class FakeSalesforceClient:
    def __init__(self, pages: list):
        self.pages, self.calls = list(pages), 0

    def query(self, soql: str):
        return self._next()

    def query_more(self, url: str):
        return self._next()

    def _next(self):
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise calls_ran_out()
        return self.pages.pop(0) if self.pages else {"records": [], "done": True}


@FUZZ
@given(pages=sf_pages)
def test_given_garbage_salesforce_pages_then_deals_or_a_crm_error_never_a_crash(pages):
    from connector.salesforce.pull import stream_deals

    try:
        for page in stream_deals(FakeSalesforceClient(pages), "SELECT Id FROM Opportunity", mapping_for("salesforce")):
            assert all(deal.last_modified.tzinfo for deal in page)
    except CrmError as error:
        assert str(error)


# -- HubSpot: deal search pages (the walk past the 10,000 cap) -------------------------------------

hs_result = st.builds(
    lambda deal_id, modified, props: SimpleNamespace(
        id=deal_id, properties={"hs_lastmodifieddate": modified, "dealstage": "closedwon", **props},
        updated_at=None),
    deal_id=st.one_of(st.sampled_from(["101", "102", "101"]), odd_text),
    modified=st.one_of(st.sampled_from(["2026-01-31T00:00:00Z", "1769817600000", "2026-01-31T00:00:00.000Z"]),
                       odd_text, st.none()),
    props=st.dictionaries(odd_text, st.one_of(st.none(), odd_text), max_size=3),
)
hs_pages = st.lists(
    st.builds(lambda results, after: SimpleNamespace(
        results=results, paging=SimpleNamespace(next=SimpleNamespace(after=after)) if after is not None else None),
        results=st.lists(hs_result, max_size=4),
        after=st.one_of(st.none(), st.sampled_from(["4", "4", "8", "0", "-4"]), odd_text)),
    min_size=1, max_size=5,
)


class FakeHubSpotClient:
    def __init__(self, pages: list):
        self.pages, self.calls = list(pages), 0

    def call(self, label, api_path, method, /, **kwargs):
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise calls_ran_out()
        return self.pages.pop(0) if self.pages else SimpleNamespace(results=[], paging=None)


@FUZZ
@given(pages=hs_pages)
def test_given_garbage_hubspot_search_pages_then_deals_or_a_crm_error_never_a_crash(pages):
    from connector.hubspot.search import DealSearchWalk

    walk = DealSearchWalk(FakeHubSpotClient(pages), filter_groups=[[]], properties=["dealname"], page_size=4,
                          result_cap=8)
    try:
        for released in walk.walk(None):
            assert all(deal.modified.tzinfo for deal in released)
    except CrmError as error:
        assert str(error)


@FUZZ
@given(raw=junk, kind=st.sampled_from(list(FieldType)))
def test_given_any_hubspot_property_value_then_field_value_is_text_or_none(raw, kind):
    from connector.hubspot.pull import field_value

    spec = next(iter(mapping_for("hubspot").fields.values()))
    value = field_value(type(spec)(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__}, "type": kind}), raw)
    assert value is None or isinstance(value, str)
