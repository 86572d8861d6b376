"""Renewal deals end to end: the sync job with ``create_renewal_deal`` on the built-in new-business
playbook, a real state store, and each CRM (the in-memory one; HubSpot as a portal that refuses
unique task keys, one that grants them, and one whose deal key property has no unique values;
Salesforce). Each customer deal in its window gets exactly one renewal deal, a re-run makes none,
and neither a crash between the CRM's answer and the state write nor a lost answer makes a second."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt

import pytest

from connector.actions import CreateDeal
from connector.errors import ConfigError, RetriableError
from jobs.core.playbook_set import PlaybookSet
from jobs.state import SqlStateStore
from jobs.state import open_store as open_sqlite_store
from jobs.sync import SyncJob, run_sync
from tests.builders import renewal_deal_mapping, renewal_deal_playbooks
from tests.contract.conftest import open_crm_harness

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
CRMS = ["fake", "hubspot-refuse", "hubspot-grant", "hubspot-refuse+plain-deal-key", "salesforce"]


@pytest.fixture(params=CRMS)
def harness(request):
    name, _, variant = request.param.partition("+")
    provider = name.partition("-")[0]
    fieldmap = renewal_deal_mapping("hubspot" if provider == "fake" else provider)
    with open_crm_harness(name, fieldmap=fieldmap, **({"page_size": 10} if name == "fake" else {})) as h:
        if variant:
            h.sandbox.define_property("deals", "afterclose_renewal_key")
        h.adapter.setup()
        yield h


def playbooks(h) -> PlaybookSet:
    """The built-in set, its new-business playbook creating renewal deals up to a year ahead (so
    most demo customers are in the window on the test's day)."""
    return renewal_deal_playbooks(h.provider, h.adapter.fieldmap)


def new_job(h, store) -> SyncJob:
    return SyncJob(scope=f"{h.provider}:test", adapter=h.adapter, store=store, fieldmap=h.adapter.fieldmap,
                   playbook=playbooks(h), clock=lambda: NOW)


def open_store(tmp_path):
    return open_sqlite_store(f"sqlite:///{tmp_path / 'state.db'}")


def renewal_deal_keys(h) -> collections.Counter:
    return collections.Counter(d.key for d in h.renewal_deals())


def planned_deals(report) -> int:
    """Renewal deals planned, less those the CRM refuses every run (a deactivated deal owner: the
    CRM's words are reported and the create is tried again next run, as for tasks)."""
    refused = sum(1 for r in report.rejected if isinstance(r.action, CreateDeal))
    return report.plan_counts.get("create_deal", 0) - refused


def test_given_renewal_deals_on_when_run_twice_then_one_per_customer_deal_and_none_the_second_time(harness, tmp_path):
    with open_store(tmp_path) as store:
        first = run_sync(new_job(harness, store))
        made = renewal_deal_keys(harness)
        assert len(made) >= 5 and max(made.values()) == 1
        assert planned_deals(first) == len(made)
        second = run_sync(new_job(harness, store))
    assert planned_deals(second) == 0 and renewal_deal_keys(harness) == made
    assert {r.action.key for r in second.rejected if isinstance(r.action, CreateDeal)} == {
        r.action.key for r in first.rejected if isinstance(r.action, CreateDeal)}


def test_given_a_crash_after_the_crm_made_the_renewal_deals_before_the_state_write_then_rerun_makes_no_second(
        harness, tmp_path, monkeypatch):
    original = SqlStateStore.commit_page

    def killed_when_recording_renewal_deals(self, scope, job, run_id, results, *args, **kwargs):
        if any(isinstance(r.action, CreateDeal) for r in results):
            raise KeyboardInterrupt("killed between the CRM write and the state write")
        return original(self, scope, job, run_id, results, *args, **kwargs)

    with open_store(tmp_path) as store:
        monkeypatch.setattr(SqlStateStore, "commit_page", killed_when_recording_renewal_deals)
        with pytest.raises(KeyboardInterrupt):
            run_sync(new_job(harness, store))
        made = renewal_deal_keys(harness)
        assert made and max(made.values()) == 1  # the CRM has them; the store does not know
        monkeypatch.setattr(SqlStateStore, "commit_page", original)
        run_sync(new_job(harness, store))
        final = run_sync(new_job(harness, store))
    after = renewal_deal_keys(harness)
    assert set(made) <= set(after) and max(after.values()) == 1  # the rest of the run came after the crash
    assert planned_deals(final) == 0


def test_given_the_answer_to_the_renewal_deal_creates_is_lost_then_rerun_makes_no_second(harness, tmp_path,
                                                                                           monkeypatch):
    apply = harness.adapter.apply
    lost = []

    def answer_lost(actions):
        results = apply(actions)
        if not lost and any(isinstance(a, CreateDeal) for a in actions):
            lost.append(actions)
            raise RetriableError("the answer was lost after the CRM wrote", provider=harness.provider)
        return results

    monkeypatch.setattr(harness.adapter, "apply", answer_lost)
    with open_store(tmp_path) as store:
        with contextlib.suppress(RetriableError):  # the run may end on it: what matters is the next run
            run_sync(new_job(harness, store))
        assert lost
        made = renewal_deal_keys(harness)
        run_sync(new_job(harness, store))
        final = run_sync(new_job(harness, store))
    after = renewal_deal_keys(harness)
    assert set(made) <= set(after) and max(after.values()) == 1
    assert planned_deals(final) == 0


def test_given_a_made_renewal_deal_is_won_then_it_gets_the_renewal_playbook_and_the_customer_one_ladder(
        harness, tmp_path):
    with open_store(tmp_path) as store:
        run_sync(new_job(harness, store))
        made = harness.renewal_deals()[0]
        harness.mark_won(made.crm_id)
        report = run_sync(new_job(harness, store))
    assert report.playbooks[made.crm_id] == "renewal"
    [deal] = [d for stamps in harness.adapter.scan_ids([made.crm_id]) for d in harness.adapter.enrich(stamps)]
    assert playbooks(harness).choose(deal).playbook.renewal_deal


def test_given_the_state_store_is_lost_then_the_next_run_finds_the_renewal_deals_by_key_and_makes_none(harness,
                                                                                                     tmp_path):
    with open_store(tmp_path) as store:
        run_sync(new_job(harness, store))
    made = renewal_deal_keys(harness)
    (tmp_path / "state.db").unlink()
    with open_store(tmp_path) as store:
        again = run_sync(new_job(harness, store))
        final = run_sync(new_job(harness, store))
    assert renewal_deal_keys(harness) == made and max(made.values()) == 1
    assert planned_deals(again) == len(made)  # planned again, each found in the CRM by its key
    assert planned_deals(final) == 0


def test_given_a_stage_the_crm_lacks_then_the_run_stops_before_any_write_naming_the_playbook(harness, tmp_path):
    job = new_job(harness, open_store(tmp_path))
    wrong = dataclasses.replace(job.playbook, segments=tuple(
        dataclasses.replace(s, playbook=dataclasses.replace(s.playbook, create_renewal_deal=dataclasses.replace(
            s.playbook.create_renewal_deal, stage="no_such_stage"))) if s.playbook.create_renewal_deal else s
        for s in job.playbook.segments))
    writes_before = harness.write_calls()
    with job.store, pytest.raises(ConfigError) as stopped:
        run_sync(dataclasses.replace(job, playbook=wrong))
    assert "playbook 'new_business': create_renewal_deal:" in str(stopped.value)
    assert "'no_such_stage'" in str(stopped.value)
    assert harness.write_calls() == writes_before and not renewal_deal_keys(harness)
