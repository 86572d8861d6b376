"""Renewal deals under kill -9: a sync run creating renewal deals is SIGKILLed right after the CRM
made them (before the state store recorded them), then at a seeded moment, then finishes; the CRM
must hold exactly the renewal deals one uninterrupted run makes, each once.

The runs are real processes (tests/reliability/driver.py) against the HubSpot sandbox in both task
key modes and the Salesforce sandbox, with the built-in mappings' renewal deal key field enabled
and the new-business playbook creating renewal deals a year ahead."""

from __future__ import annotations

import collections

import pytest

from connector.sandbox.demo import demo_dataset
from tests.reliability.crm import ANCHOR, CRMS, open_crm
from tests.reliability.driver import RENEWAL_DEALS_MADE
from tests.reliability.runs import run_child, run_here


def renewal_deals(crm) -> collections.Counter:
    return collections.Counter(d.key for d in crm._harness().renewal_deals())


@pytest.mark.parametrize("name", CRMS)
def test_given_kill_9_after_the_renewal_deals_were_made_then_each_exists_exactly_once(name, tmp_path):
    dataset = demo_dataset(anchor=ANCHOR)
    with open_crm(name, dataset, page_size=10, renewal_deals=True) as clean:
        run_here(clean, f"sqlite:///{tmp_path / 'reference.db'}")
        reference = renewal_deals(clean)
    assert reference and max(reference.values()) == 1
    store = f"sqlite:///{tmp_path / 'state.db'}"
    with open_crm(name, dataset, page_size=10, renewal_deals=True) as crm:
        killed = run_child(crm, store, tmp_path, kill={"point": RENEWAL_DEALS_MADE, "n": 1})
        assert killed.crashed, killed.result
        made = renewal_deals(crm)
        assert made and max(made.values()) == 1  # in the CRM, not in the state store
        again = run_child(crm, store, tmp_path, kill_after_seconds=0.4)
        assert again.crashed or again.exit_code in (0, 1), again.result
        run_here(crm, store)
        final = run_here(crm, store)
        after = renewal_deals(crm)
    assert after == reference, (sorted(set(after) ^ set(reference))[:5], max(after.values()))
    assert final.plan_counts.get("create_deal", 0) == len(
        [r for r in final.rejected if r.action.kind.value == "create_deal"])  # only refusals are tried again
