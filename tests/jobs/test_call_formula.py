"""The API calls of a sync run stay at the call formula, on a fixed data set, for both CRMs.

The formula is the lower bound of tests/bench/bounds.py (the API batch maxima applied to the work
done) plus what AfterClose knowingly adds: one search per 200 (HubSpot) or one query batch per
2,000 (Salesforce) deals it wrote back, because the walk passes over its own write-backs so the
next run need not re-read them, and on HubSpot the tie group re-read at each search restart. ``make bench`` measures the same at 1,000 - 50,000 deals;
this keeps a regression from reaching it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections import Counter

import pytest

from connector.hubspot import HubSpotAdapter, HubSpotSettings
from connector.mapping import builtin_mapping, load_mapping
from connector.salesforce import SalesforceAdapter, SalesforceSettings
from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.salesforce import SalesforceSandbox
from jobs.state import StateStore, open_store
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.sync import SyncJob, run_sync
from tests.bench import bounds
from tests.bench.scenario import won_dataset

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc)
WON = 450  # three search pages, one deal page: small enough to run in seconds
DATA = won_dataset(WON)


@contextlib.contextmanager
def hubspot_adapters(**options):
    """A factory of HubSpot adapters over one sandbox: each run gets a new one, as in production."""
    sandbox = HubSpotSandbox()
    sandbox.load(DATA)
    with sandbox.serve() as endpoint:
        settings = HubSpotSettings(access_token=endpoint.token, base_url=endpoint.base_url,
                                   rate_limit_per_10s=2_000, search_per_second=100.0)
        fieldmap = load_mapping(builtin_mapping("hubspot"))
        with HubSpotAdapter(settings=settings, fieldmap=fieldmap) as admin:
            admin.setup()
        yield lambda: HubSpotAdapter(settings=settings, fieldmap=fieldmap, **options)


@contextlib.contextmanager
def salesforce_adapters():
    sandbox = SalesforceSandbox(page_size=2_000)
    sandbox.load(DATA)
    with sandbox.serve() as endpoint:
        settings = SalesforceSettings(instance_url=endpoint.base_url, access_token=endpoint.token,
                                      ca_bundle=str(endpoint.ca_path))
        yield lambda: SalesforceAdapter(settings=settings, fieldmap=load_mapping(builtin_mapping("salesforce")))


def run_and_count(new_adapter, store: StateStore, group) -> tuple[Counter, Counter, Counter]:
    with new_adapter() as adapter:
        job = SyncJob(scope="formula", adapter=adapter, store=store, fieldmap=adapter.fieldmap,
                      playbook=DEFAULT_PLAYBOOK, clock=lambda: NOW)
        report = run_sync(job)
        spent = Counter(adapter.call_stats().by_endpoint)
    by_group: Counter = Counter()
    for label, n in spent.items():
        by_group[group(label)] += n
    actions = Counter(a.kind.value for a in report.plan_actions)
    return by_group, Counter(report.outcomes), actions


def work(outcomes: Counter, actions: Counter, *, first_run: bool, schema_reads: int, deals: int,
         contacts: int = 0, companies: int = 0) -> bounds.Work:
    return bounds.Work(deals=deals, contacts=contacts, companies=companies, created=outcomes["created"],
                       task_updates=actions["update_task"] + actions["close_task"],
                       record_writes={"deal": actions["update_record"]}, schema_reads=schema_reads,
                       first_run=first_run)


def writes(outcomes: Counter) -> dict:
    return {k: n for k, n in outcomes.items() if k not in ("skipped", "unchanged")}


def linked(deals) -> tuple[int, int]:
    return (len({r.contact for d in deals for r in d.contacts}),
            len({d.company for d in deals if d.company is not None}))


def test_given_fixed_data_when_hubspot_syncs_then_calls_are_the_bound_plus_one_search_per_200_own_writes(tmp_path):
    won = DATA.won_deals()
    contacts, companies = linked(won)
    with hubspot_adapters() as adapter, open_store(f"sqlite:///{tmp_path}/s.db") as store:
        calls, outcomes, actions = run_and_count(adapter, store, bounds.hubspot_group)
        bound = bounds.hubspot_calls(work(outcomes, actions, first_run=True, schema_reads=3, deals=len(won),
                                          contacts=contacts, companies=companies))
        own_write_searches = math.ceil(actions["update_record"] / 200)
        assert calls["deal search"] <= bound["deal search"] + 1 + own_write_searches + 1
        for group in ("fixed reads", "associations", "contacts + companies", "writes"):
            assert calls[group] == bound[group], group
        # The next run finds nothing to do: the fixed reads and one empty search, no write.
        again, outcomes, _ = run_and_count(adapter, store, bounds.hubspot_group)
    assert again == Counter({"fixed reads": 3 + 1 + 2, "deal search": 1})
    assert not writes(outcomes)


def test_given_write_backs_between_search_pages_when_hubspot_syncs_then_every_won_deal_is_handled_once(tmp_path):
    # Each page's write-backs move its deals to the end of the search order: offset paging
    # skipped 200 deals per page (measured: 600 of 840 won deals handled) and lost them for good.
    with hubspot_adapters(deal_page_size=100) as new_adapter, open_store(f"sqlite:///{tmp_path}/s.db") as store:
        with new_adapter() as adapter:
            job = SyncJob(scope="formula", adapter=adapter, store=store, fieldmap=adapter.fieldmap,
                          playbook=DEFAULT_PLAYBOOK, clock=lambda: NOW)
            report = run_sync(job)
    assert report.deals_seen == len(DATA.won_deals())
    assert report.plan_counts["update_record"] == len(DATA.won_deals())


def test_given_fixed_data_when_salesforce_syncs_then_calls_are_the_bound_plus_one_query_per_2000_own_writes(tmp_path):
    won = DATA.won_deals()
    with salesforce_adapters() as adapter, open_store(f"sqlite:///{tmp_path}/s.db") as store:
        calls, outcomes, actions = run_and_count(adapter, store, bounds.salesforce_group)
        bound = bounds.salesforce_calls(work(outcomes, actions, first_run=True, schema_reads=3, deals=len(won)))
        # The "any AfterClose task here?" probe is a query too: compare writes and the total, plus
        # the pass over its own write-backs: one query batch per 2,000 deals written.
        own_write_queries = math.ceil(actions["update_record"] / 2_000)
        assert calls["writes"] == bound["writes"]
        assert sum(calls.values()) == sum(bound.values()) + own_write_queries
        again, outcomes, _ = run_and_count(adapter, store, bounds.salesforce_group)
    assert again == Counter({"fixed reads": 3, "deal query": 1})
    assert not writes(outcomes)


@pytest.mark.parametrize("won, expected", [(1_000, {"deal search": 5, "associations": 2, "writes": 20}),
                                           (10_000, {"deal search": 50, "associations": 20, "writes": 200})])
def test_given_the_batch_maxima_then_the_hubspot_bound_is_what_the_issue_says(won, expected):
    w = bounds.Work(deals=won, contacts=0, companies=0, created=won, task_updates=0, record_writes={"deal": won},
                    schema_reads=3, first_run=True)
    calls = bounds.hubspot_calls(w)
    assert {k: calls[k] for k in expected} == expected
