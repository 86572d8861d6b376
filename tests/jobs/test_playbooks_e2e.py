"""The built-in playbooks end to end on both CRMs: real adapter, real SDK, sandbox CRM, real state
store, the demo data set (with its long-standing customer, renewal deals and expansions)."""

from __future__ import annotations

import collections
import datetime as dt
import importlib
from pathlib import Path

import pytest

from connector.mapping import builtin_mapping, load_mapping
from connector.model import Provider
from connector.sandbox.demo import demo_dataset
from jobs.config import Settings
from jobs.playbooks import build_playbooks
from jobs.state import StateStore
from jobs.state import open_store as open_sqlite_store
from jobs.sync import SyncJob, run_sync
from tests.jobs.test_sync_e2e import write_calls

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
LADDER = ("renewal_planning", "renewal_review", "renewal_proposal", "renewal_decision")
EXPANSION = {"hubspot": "existingbusiness", "salesforce": "Existing Customer - Upgrade"}
CREDENTIALS = {"hubspot": {"access_token": "pat-na1-test"},
               "salesforce": {"instance_url": "https://example.my.salesforce.com", "access_token": "00D-test"}}


@pytest.fixture(params=["hubspot", "salesforce"])
def harness(request):
    fieldmap = load_mapping(builtin_mapping(request.param))
    module = importlib.import_module(f"tests.contract.{request.param}_harness")
    with module.open_harness(fieldmap=fieldmap) as h:
        h.adapter.setup()
        yield h


def new_job(h, store: StateStore, clock=lambda: NOW) -> SyncJob:
    settings = Settings.from_mapping({"crm": {"provider": h.provider}, h.provider: CREDENTIALS[h.provider]})
    playbooks = build_playbooks(settings, h.adapter.fieldmap)
    return SyncJob(scope=f"{h.provider}:test", adapter=h.adapter, store=store, fieldmap=h.adapter.fieldmap,
                   playbook=playbooks.set, clock=clock)


def open_store(path: Path) -> StateStore:
    return open_sqlite_store(f"sqlite:///{path}")


def demo_id(h, name: str) -> str:
    key = next(d.key for d in demo_dataset(NOW.date()).deals if d.name == name)
    return h.deal_id(key)


def open_keys(h, deal_id: str, touch_points=LADDER) -> set[str]:
    return {t.key for t in h.tasks() if t.deal_id == deal_id and t.status == "open"
            and t.key.split(":")[3] in touch_points}


def test_given_the_built_in_playbooks_when_run_twice_then_each_deal_has_one_playbook_and_nothing_is_written_again(
        harness, tmp_path):
    with open_store(tmp_path / "state.db") as store:
        first = run_sync(new_job(harness, store))
        keys = collections.Counter(t.key for t in harness.tasks())
        assert max(keys.values()) == 1 and first.outcomes["created"] > 100
        assert first.playbook_counts == {"new_business": 33, "expansion": 7, "renewal": 2}
        assert set(first.playbooks) == harness.won_deal_ids()
        writes = write_calls(harness)
        second = run_sync(new_job(harness, store))
    assert second.outcomes.get("created", 0) == 0 and second.outcomes.get("updated", 0) == 0
    assert write_calls(harness) - writes <= 1  # only the inactive owner's refused tasks are tried again
    kickoffs = {t.deal_id for t in harness.tasks() if ":kickoff:" in t.key}
    expansions = {harness.deal_id(d.key) for d in demo_dataset(NOW.date()).deals if d.deal_type == "expansion"}
    assert kickoffs and not kickoffs & expansions  # an expansion gets an adoption check, not a second kickoff
    assert {t.deal_id for t in harness.tasks() if ":adoption_check:" in t.key} == expansions


def test_given_a_customer_whose_renewals_are_renewal_deals_then_only_the_latest_carries_the_renewal_ladder(
        harness, tmp_path):
    with open_store(tmp_path / "state.db") as store:
        run_sync(new_job(harness, store))
    first = demo_id(harness, "Hooli - Platform (first contract)")
    second = demo_id(harness, "Hooli - Renewal (2nd year)")
    latest = demo_id(harness, "Hooli - Renewal (3rd year)")
    assert open_keys(harness, first) == open_keys(harness, second) == set()
    assert {k.split(":")[3] for k in open_keys(harness, latest)} == set(LADDER)
    assert not [t for t in harness.tasks() if t.deal_id in (first, second)]  # not even created and closed


def test_given_a_deal_moves_to_the_expansion_playbook_then_its_future_tasks_are_noted_then_closed_never_deleted(
        harness, tmp_path):
    deal = demo_id(harness, "Initech - Enterprise rollout")
    with open_store(tmp_path / "state.db") as store:
        run_sync(new_job(harness, store))
        before = {t.key: t for t in harness.tasks() if t.deal_id == deal}
        kickoff = next(t for t in before.values() if ":kickoff:" in t.key)
        harness.complete_task(kickoff.crm_id)
        harness.set_field(deal, "deal_type", EXPANSION[harness.provider])
        later = lambda: NOW + dt.timedelta(hours=1)  # noqa: E731 - a clock
        noted = run_sync(new_job(harness, store, clock=later))
        # Each open task says why it is being closed; the adoption check is new; the kickoff the rep
        # completed is read back from the CRM first and left as it is.
        assert noted.outcomes["updated"] == len(before) - 1 and noted.outcomes["created"] == 1
        assert kickoff.key not in {a.key for a in noted.plan_actions}
        closed = run_sync(new_job(harness, store, clock=later))
        assert closed.outcomes["closed"] == len(before) - 1
        after = {t.key: t for t in harness.tasks() if t.deal_id == deal}
        again = run_sync(new_job(harness, store, clock=later))
    assert set(before) < set(after)  # nothing deleted, one task added
    assert [k.split(":")[3] for k in set(after) - set(before)] == ["adoption_check"]
    assert after[kickoff.key].status == "completed"
    assert {k for k, t in after.items() if t.status == "open"} == set(after) - set(before)
    assert again.outcomes.get("created", 0) == again.outcomes.get("updated", 0) == 0


def test_given_the_latest_renewal_deal_is_lost_then_the_renewal_deal_before_it_carries_the_renewals_again(
        harness, tmp_path):
    second = demo_id(harness, "Hooli - Renewal (2nd year)")
    latest = demo_id(harness, "Hooli - Renewal (3rd year)")
    with open_store(tmp_path / "state.db") as store:
        run_sync(new_job(harness, store))
        harness.mark_lost(latest)
        run_sync(new_job(harness, store, clock=lambda: NOW + dt.timedelta(hours=1)))
    assert open_keys(harness, latest) == set()
    assert {k.split(":")[3] for k in open_keys(harness, second)} == set(LADDER)


def test_given_the_state_store_is_lost_then_the_book_is_refilled_and_nothing_is_written_twice(harness, tmp_path):
    path = tmp_path / "state.db"
    with open_store(path) as store:
        run_sync(new_job(harness, store))
    tasks = {t.key: (t.due_date, t.status, t.owner_id) for t in harness.tasks()}
    path.unlink()
    writes = write_calls(harness)
    with open_store(path) as store:
        again = run_sync(new_job(harness, store))
        assert store.customer_deal(f"{harness.provider}:test", demo_id(harness, "Hooli - Renewal (3rd year)"))
    assert again.outcomes.get("created", 0) == 0
    assert {t.key: (t.due_date, t.status, t.owner_id) for t in harness.tasks()} == tasks
    # The inactive owner's refused tasks, tried again: with its page, and (its renewal touch points,
    # held until every deal was read) at the end of the run.
    assert write_calls(harness) - writes <= 2


@pytest.mark.parametrize("provider", [p.value for p in Provider])
def test_the_demo_data_holds_every_kind_of_customer_the_playbooks_tell_apart(provider):
    kinds = collections.Counter(d.deal_type for d in demo_dataset(NOW.date()).won_deals())
    assert kinds["renewal"] == 2 and kinds["expansion"] == 7 and kinds["new"] >= 3
