"""No won deal may be skipped by a run, even though the run's own writes change the order in
which the CRM returns deals.

The trap: a search that pages by offset (HubSpot's ``after``) over deals sorted by modified date,
while the sync job writes each page's deals back (handoff status) before it reads the next page.
Every write-back moves that deal to the end of the sorted result, so the next offset skips as
many unread deals as were just written, and the cursor then moves past them for good. This suite
measured 1,200 of 2,006 won deals handled by one run before connector/hubspot/pull.py switched to
keyset paging (docs/reliability.md); this test keeps it from coming back. Salesforce's query
cursor is a snapshot, so it is immune, and checked the same way.
"""

from __future__ import annotations

import pytest

from connector.sandbox.demo import scaled_dataset
from tests.reliability import figures
from tests.reliability.crm import ANCHOR, CRMS, open_crm
from tests.reliability.runs import run_here


@pytest.mark.parametrize("provider", CRMS)
def test_given_deals_written_while_search_pages_then_no_won_deal_is_skipped(provider, tmp_path):
    with open_crm(provider, scaled_dataset(150, anchor=ANCHOR, seed=5), page_size=20) as crm:
        report = run_here(crm, f"sqlite:///{tmp_path / 'state.db'}")
        won = crm._harness().won_deal_ids()
    handled = {action.deal_id for action in report.plan_actions}
    figures.record("offset_paging", provider=provider, won=len(won), handled=len(won & handled))
    assert won - handled == set(), f"{len(won - handled)} of {len(won)} won deals never handled"
