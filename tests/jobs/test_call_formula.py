"""The API calls of a sync run stay at the call formula, on a fixed data set, for both CRMs.

The formula is the lower bound of tests/bench/bounds.py (the API batch maxima applied to the work
done) plus what AfterClose knowingly adds: one search per 200 (HubSpot) or one query batch per
2,000 (Salesforce) deals it wrote back, because the walk passes over its own write-backs so the
next run need not re-read them, and on HubSpot the tie group re-read at each search restart and
the look-back window's search pages on the next run. ``make bench`` measures the same at 1,000 - 50,000 deals;
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
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.state import StateStore, open_store
from jobs.sync import SyncJob, run_sync
from tests.bench import bounds
from tests.bench.scenario import won_dataset

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
WON = 450  # three search pages, one deal page: small enough to run in seconds
DATA = won_dataset(WON)


MODES = ["refuse", "grant"]
"""The HubSpot sandbox's task uniqueness: a portal that refuses unique task properties, one that grants them."""
LOOKUPS = ("POST /crm/v4/associations/deals/tasks/batch/read", "POST /crm/v3/objects/tasks/batch/read")


@contextlib.contextmanager
def hubspot_sandbox(mode: str = "refuse", **options):
    """(a factory of HubSpot adapters over one sandbox, the sandbox): each run gets a new adapter,
    as in production. The sandbox's reads do not lag: no settle delay."""
    sandbox = HubSpotSandbox(task_uniqueness=mode)
    sandbox.load(DATA)
    with sandbox.serve() as endpoint:
        settings = HubSpotSettings(access_token=endpoint.token, base_url=endpoint.base_url,
                                   rate_limit_per_10s=2_000, search_per_second=100.0, settle_seconds=0.0)
        fieldmap = load_mapping(builtin_mapping("hubspot"))
        with HubSpotAdapter(settings=settings, fieldmap=fieldmap) as admin:
            admin.setup()
        yield (lambda: HubSpotAdapter(settings=settings, fieldmap=fieldmap, **options)), sandbox


@contextlib.contextmanager
def hubspot_adapters(mode: str = "refuse", **options):
    with hubspot_sandbox(mode, **options) as (factory, _sandbox):
        yield factory


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


@pytest.mark.parametrize("mode", MODES)
def test_given_fixed_data_when_hubspot_syncs_then_calls_are_the_bound_plus_one_search_per_200_own_writes(
        mode, tmp_path):
    """The same in both task key modes: writing every create ahead costs the state store a
    transaction per batch, and HubSpot no call."""
    won = DATA.won_deals()
    contacts, companies = linked(won)
    with hubspot_adapters(mode) as adapter, open_store(f"sqlite:///{tmp_path}/s.db") as store:
        calls, outcomes, actions = run_and_count(adapter, store, bounds.hubspot_group)
        bound = bounds.hubspot_calls(work(outcomes, actions, first_run=True, schema_reads=3, deals=len(won),
                                          contacts=contacts, companies=companies))
        own_write_searches = math.ceil(actions["update_record"] / 200)
        assert calls["deal search"] <= bound["deal search"] + 1 + own_write_searches + 1
        for group in ("fixed reads", "associations", "contacts + companies", "writes"):
            assert calls[group] == bound[group], group
        # The next run finds nothing to do: the fixed reads and the search pages of the look-back
        # window (docs/hubspot-adapter.md), no enrichment, no write. The first run's write-backs are
        # its newest changes, all inside the window: one search page per 200 of them.
        again, outcomes, _ = run_and_count(adapter, store, bounds.hubspot_group)
    window_pages = max(1, math.ceil(actions["update_record"] / 200))
    assert again == Counter({"fixed reads": 3 + 1 + 2, "deal search": window_pages})
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


def _won_stage(sandbox: HubSpotSandbox, deal_id: str, won: bool) -> None:
    record = next(r for r in sandbox.records("deals") if r["id"] == deal_id)
    pipeline = sandbox.backend.pipelines[record["properties"].get("pipeline") or "default"]
    stage = next(s.id for s in pipeline.stages if s.closed and s.won == won)
    sandbox.edit("deals", deal_id, {"dealstage": stage})


def _tasks_on(sandbox: HubSpotSandbox, deal_ids) -> int:
    return sum(len(sandbox.associated_ids("deals", d, "tasks")) for d in deal_ids)


@pytest.mark.parametrize("mode", MODES)
def test_given_a_crash_between_crm_write_and_state_write_when_the_next_run_recovers_then_lookups_are_the_formula(
        mode, tmp_path, monkeypatch):
    """docs/hubspot-adapter.md, "Call formula": recovering T tasks the crashed run made on D deals.
    Without unique keys: ceil(D/1,000) association reads and ceil(T/100) task reads, and no create
    is sent again. With them: each create batch is sent again, refused, and read by key."""
    from jobs.state import SqlStateStore

    with hubspot_sandbox(mode) as (adapter, sandbox), open_store(f"sqlite:///{tmp_path}/s.db") as store:
        won_ids = [sandbox.demo_ids["deals"][d.key] for d in DATA.won_deals()][:60]
        for deal_id in won_ids:
            _won_stage(sandbox, deal_id, won=False)
        run_and_count(adapter, store, bounds.hubspot_group)
        for deal_id in won_ids:
            _won_stage(sandbox, deal_id, won=True)
        original = SqlStateStore.commit_page
        monkeypatch.setattr(SqlStateStore, "commit_page",
                            lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt("killed")))
        with pytest.raises(KeyboardInterrupt):
            run_and_count(adapter, store, bounds.hubspot_group)
        monkeypatch.setattr(SqlStateStore, "commit_page", original)
        made = _tasks_on(sandbox, won_ids)
        in_doubt = len(store.creates_in_doubt("formula"))
        sandbox.controls.reset_calls()
        _, outcomes, actions = run_and_count(adapter, store, bounds.hubspot_group)
        calls = sandbox.controls.snapshot()
    assert made == in_doubt > 100
    if mode == "refuse":
        assert [calls.get(label, 0) for label in LOOKUPS] == [math.ceil(len(won_ids) / 1_000), math.ceil(made / 100)]
        assert calls.get("POST /crm/v3/objects/tasks/batch/create", 0) == 0
    else:
        sent = math.ceil(actions["create_task"] / 100)
        assert calls["POST /crm/v3/objects/tasks/batch/create"] == sent
        assert [calls.get(label, 0) for label in LOOKUPS] == [0, sent]
    assert outcomes.get("created", 0) == 0 and outcomes["unchanged"] == made


@pytest.mark.parametrize("mode", MODES)
def test_given_the_state_store_lost_when_the_next_run_relearns_then_lookups_are_the_formula(mode, tmp_path):
    """Re-learning D deals (one deal page) whose tasks are T, with K keys planned (tasks and
    skips): without unique keys ceil(D/1,000) association reads and ceil(T/100) task reads; with
    them ceil(K/100) reads by key. No write either way."""
    with hubspot_sandbox(mode) as (adapter, sandbox):
        with open_store(f"sqlite:///{tmp_path}/s.db") as store:
            _, _, first_actions = run_and_count(adapter, store, bounds.hubspot_group)
        (tmp_path / "s.db").unlink()
        won_ids = [sandbox.demo_ids["deals"][d.key] for d in DATA.won_deals()]
        tasks = _tasks_on(sandbox, won_ids)
        sandbox.controls.reset_calls()
        with open_store(f"sqlite:///{tmp_path}/s.db") as store:
            _, outcomes, _ = run_and_count(adapter, store, bounds.hubspot_group)
        calls = sandbox.controls.snapshot()
    assert outcomes.get("created", 0) == 0 and outcomes.get("updated", 0) == 0
    planned = first_actions["create_task"] + first_actions["skip"]
    if mode == "refuse":
        assert [calls.get(label, 0) for label in LOOKUPS] == [math.ceil(len(won_ids) / 1_000), math.ceil(tasks / 100)]
    else:
        assert [calls.get(label, 0) for label in LOOKUPS] == [0, math.ceil(planned / 100)]
