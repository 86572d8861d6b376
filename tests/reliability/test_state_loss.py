"""State loss: the state database is deleted after a run; the next run re-learns AfterClose's
tasks from the CRM by key and must neither duplicate a task nor rewrite anything."""

from __future__ import annotations

import pytest

from connector.sandbox.demo import scaled_dataset
from tests.reliability import figures
from tests.reliability.crm import ANCHOR, CRMS, open_crm
from tests.reliability.runs import run_here


def assert_state_loss_duplicates_and_rewrites_nothing(provider: str, *, deals: int, page_size: int, tmp_path) -> dict:
    state = tmp_path / "state.db"
    with open_crm(provider, scaled_dataset(deals, anchor=ANCHOR, seed=3), page_size=page_size) as crm:
        first = run_here(crm, f"sqlite:///{state}")
        before = crm.snapshot()
        state.unlink()
        writes_before, calls_before = crm.write_calls(), sum(crm.calls().values())
        again = run_here(crm, f"sqlite:///{state}")
        after = crm.snapshot()
        writes = crm.write_calls() - writes_before
        calls = sum(crm.calls().values()) - calls_before
    figures.record("state_loss", provider=provider, deals=deals, tasks=len(before.tasks), duplicates=after.duplicates,
                   write_calls_after_loss=writes, calls_after_loss=calls, rejected_retried=len(again.rejected))
    assert after.duplicates == 0
    assert after == before, "\n".join(after.differences(before))
    assert again.outcomes.get("created", 0) == 0 and again.outcomes.get("updated", 0) == 0
    # Only records the CRM refused last time are sent again (they are retried by design).
    assert writes == 0 if not first.rejected else writes <= len(first.rejected)
    return {"writes": writes}


@pytest.mark.parametrize("provider", CRMS)
def test_given_state_database_deleted_when_run_again_then_no_duplicate_and_no_redundant_write(provider, tmp_path):
    assert_state_loss_duplicates_and_rewrites_nothing(provider, deals=100, page_size=25, tmp_path=tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("provider", CRMS)
def test_given_2000_won_deals_and_state_deleted_when_run_again_then_no_duplicate_and_no_redundant_write(
        provider, tmp_path):
    assert_state_loss_duplicates_and_rewrites_nothing(provider, deals=2360, page_size=200, tmp_path=tmp_path)
