"""Crash anywhere: kill -9 a sync run at seeded points, run once more, and the CRM must hold
exactly what one uninterrupted run leaves there, with no task twice.

Each campaign chains its kills on one sandbox and one SQLite state store, like a container that
keeps being killed and restarted; the reference is an uninterrupted run on a fresh sandbox with
the same data and the same fixed clock. The fast variant runs in ``make test``; the 2,000-deal
variant with 24 kill points per CRM runs in ``make soak``.
"""

from __future__ import annotations

import random
import time

import pytest

from connector.sandbox.demo import scaled_dataset
from tests.reliability import figures
from tests.reliability.crm import ANCHOR, CRMS, CrmState, open_crm
from tests.reliability.driver import KILL_POINTS
from tests.reliability.runs import run_child, run_here

TIMER = "timer"


def kill_plan(seed: int, count: int, run_seconds: float, max_n: int) -> list[dict]:
    """``count`` seeded kill points cycling through every kind, so each campaign includes kills
    between the CRM write and the ledger write (after_apply) and at arbitrary moments (timer).
    Each lands within the first ``max_n`` pages (or write calls) of its run, so a chain of kills
    does not run out of work before its last kill."""
    rng = random.Random(seed)
    kinds = [*KILL_POINTS, TIMER]
    plan = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == TIMER:
            plan.append({"point": TIMER, "seconds": round(rng.uniform(0.05, min(1.5, max(0.1, run_seconds / 3))), 3)})
        else:
            plan.append({"point": kind, "n": rng.randint(1, 2 * max_n if kind == "after_write_call" else max_n)})
    return plan


def reference_state(provider: str, dataset, page_size: int, tmp_path) -> tuple[CrmState, float]:
    with open_crm(provider, dataset, page_size=page_size) as crm:
        started = time.monotonic()
        run_here(crm, f"sqlite:///{tmp_path / 'reference.db'}")
        return crm.snapshot(), time.monotonic() - started


def crash_campaign(provider: str, *, deals: int, page_size: int, kills: int, seed: int, tmp_path,
                   max_n: int = 1) -> dict:
    dataset = scaled_dataset(deals, anchor=ANCHOR, seed=seed)
    reference, seconds = reference_state(provider, dataset, page_size, tmp_path)
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    crashed: dict[str, int] = {}
    with open_crm(provider, dataset, page_size=page_size) as crm:
        for point in kill_plan(seed, kills, seconds, max_n):
            if point["point"] == TIMER:
                # A fresh process needs a moment before it reaches the CRM; count that in.
                run = run_child(crm, store_url, tmp_path, kill_after_seconds=point["seconds"] + 0.1)
            else:
                run = run_child(crm, store_url, tmp_path, kill=point)
            assert run.crashed or run.exit_code in (0, 1), f"{point}: exit {run.exit_code} {run.result}"
            if run.crashed:
                crashed[point["point"]] = crashed.get(point["point"], 0) + 1
        final = run_child(crm, store_url, tmp_path)
        after = crm.snapshot()
    assert final.exit_code in (0, 1), final.result
    outcome = {"provider": provider, "deals": deals, "won_tasks": len(reference.tasks), "kill_points": kills,
               "crashed": sum(crashed.values()), "crashed_by_point": crashed, "duplicates": after.duplicates,
               "differences": len(after.differences(reference, limit=10_000))}
    figures.record("crash_campaign", **outcome)
    assert after.duplicates == 0, f"duplicate tasks after {crashed} crashes"
    assert after == reference, "\n".join(after.differences(reference))
    return outcome


@pytest.mark.parametrize("provider", CRMS)
def test_given_run_killed_at_seeded_points_when_run_again_then_crm_equals_an_uninterrupted_run(provider, tmp_path):
    outcome = crash_campaign(provider, deals=200, page_size=15, kills=6, seed=11, tmp_path=tmp_path)
    assert outcome["crashed"] >= 5
    assert outcome["crashed_by_point"].get("after_apply", 0) >= 1  # between the CRM write and the ledger write


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("provider", CRMS)
def test_given_2000_won_deals_and_24_kill_points_when_run_again_then_crm_equals_an_uninterrupted_run(
        provider, tmp_path):
    outcome = crash_campaign(provider, deals=2360, page_size=20, kills=24, seed=2026, tmp_path=tmp_path)
    assert outcome["crashed"] >= 20
    assert outcome["crashed_by_point"].get("after_apply", 0) >= 5
