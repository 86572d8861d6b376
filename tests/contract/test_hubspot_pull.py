"""Reading deals from the HubSpot sandbox through the real SDK: the window walk past 10,000
results, equal timestamps, custom pipelines, resumable cursors, enrichment."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace

import pytest

from connector.errors import PagingError
from connector.hubspot.search import DealSearchWalk
from connector.model import Cursor
from connector.sandbox.demo import scaled_dataset
from jobs.sync import DealStream
from tests.contract.hubspot_harness import ANCHOR, hubspot_harness
from tests.streams import handled_by, read_deals, read_deals_by_id

UTC = dt.UTC


def _ids(pages) -> list[str]:
    return [d.id for p in pages for d in p.deals]


def test_given_demo_data_when_pulled_then_every_won_deal_once_oldest_first_with_owner_company_contacts():
    with hubspot_harness() as h:
        pages = list(read_deals(h.adapter, None))
        deals = [d for p in pages for d in p.deals]
        assert {d.id for d in deals} == h.won_deal_ids()
        assert len(deals) == len({d.id for d in deals})
        keys = [(d.last_modified, int(d.id)) for d in deals]
        assert keys == sorted(keys)
        acme = next(d for d in deals if d.id == h.deal_id(0))
        assert acme.is_won and acme.stage == "closedwon"
        assert acme.owner.name == "Ada Lovelace" and acme.owner.active
        assert acme.company.name == "Acme Corp"
        assert acme.main_contact.is_primary and acme.main_contact.role == "Decision Maker"
        assert acme.fields["renewal_date"] == "2027-03-02"
        assert acme.fields["decision_criteria"].startswith("Total cost")
        assert acme.fields["handoff_status"] is None


def test_given_deal_of_inactive_owner_when_pulled_then_owner_known_as_inactive():
    with hubspot_harness() as h:
        deals = {d.name: d for p in read_deals(h.adapter, None) for d in p.deals}
        owner = deals["Orphaned Account Co"].owner
        # HubSpot blanks a deactivated owner's name; the email still says who it was.
        assert owner.email == "former.rep@vendor.example" and owner.active is False


def test_given_custom_pipeline_with_numeric_stage_ids_when_pulled_then_its_won_deals_included():
    with hubspot_harness() as h:
        deals = [d for p in read_deals(h.adapter, None) for d in p.deals if "Partner Channel" in d.name]
        assert len(deals) == 3
        assert all(d.is_won and d.stage.isdigit() for d in deals)


def test_given_deal_handled_then_lost_when_pulled_then_it_comes_back_not_won():
    with hubspot_harness() as h:
        deal_id = h.deal_id(0)
        h.set_field(deal_id, "handoff_status", "complete")
        h.mark_lost(deal_id)
        deals = {d.id: d for p in read_deals(h.adapter, None) for d in p.deals}
        assert deals[deal_id].is_won is False
        never_handled_lost = {r["id"] for r in h.sandbox.records("deals")} - h.won_deal_ids() - {deal_id}
        assert not never_handled_lost & set(deals)


def test_given_three_deals_in_one_millisecond_when_paged_two_at_a_time_then_none_lost_or_repeated():
    with hubspot_harness(page_size=2) as h:
        pages = list(read_deals(h.adapter, None))
        ids = _ids(pages)
        same = {d.id for p in pages for d in p.deals if d.name.startswith("Same Second Deal")}
        assert len(same) == 3
        assert sorted(ids) == sorted(h.won_deal_ids())


def test_given_crash_after_any_page_when_resumed_from_its_cursor_then_nothing_lost_or_repeated():
    data = scaled_dataset(120, anchor=ANCHOR)  # three deals per modified second: ties everywhere
    with hubspot_harness(data, page_size=7) as h:
        everything = _ids(read_deals(h.adapter, None))
        for stop_after in (1, 4, 9):
            stream = DealStream(h.adapter)
            pages = stream.changed_since(None)
            seen, cursor, handled = [], None, {}
            for _ in range(stop_after):
                page = next(pages)
                seen += [d.id for d in page.deals]
                cursor = page.cursor
                handled |= page.handled  # what the sync records with the cursor
            pages.close()
            stream.close()
            # The resumed read looks back past the cursor (all this data lies within the window)
            # and skips exactly the deals handled before it.
            resumed = read_deals(h.adapter, cursor, handled=handled)
            assert seen + _ids(resumed) == everything
            # Pages inside the window never move the cursor back before where the read began.
            assert all(p.cursor == cursor or p.cursor.modified > cursor.modified for p in resumed)


def test_given_more_results_than_the_search_cap_when_pulled_then_window_restarts_cover_all_once():
    data = scaled_dataset(500, anchor=ANCHOR)
    with hubspot_harness(data, page_size=50, search_result_cap=100) as h:
        ids = _ids(read_deals(h.adapter, None))
        assert len(ids) == len(set(ids))
        assert set(ids) == h.won_deal_ids()
        assert len(ids) > 100 * 3


def test_given_more_deals_in_one_timestamp_than_a_window_when_pulled_then_paged_by_id_without_looping():
    burst = dt.datetime(2026, 2, 27, 12, 0, tzinfo=UTC)
    many = scaled_dataset(250, anchor=ANCHOR)
    deals = tuple(dataclasses.replace(d, modified_at=burst) for d in many.deals)
    data = dataclasses.replace(many, deals=deals)
    with hubspot_harness(data, page_size=20, search_result_cap=100) as h:
        ids = _ids(read_deals(h.adapter, None))
        assert len(ids) == len(set(ids)) == len(h.won_deal_ids())
        assert [int(i) for i in ids] == sorted(int(i) for i in ids)


def test_given_cursor_inside_a_burst_larger_than_a_window_when_resumed_then_rest_of_burst_follows():
    burst = dt.datetime(2026, 2, 27, 12, 0, tzinfo=UTC)
    many = scaled_dataset(250, anchor=ANCHOR)
    data = dataclasses.replace(many, deals=tuple(dataclasses.replace(d, modified_at=burst) for d in many.deals))
    # The walk's own resume inside a tie group: no look-back (tests/jobs/test_sync_lookback.py has it).
    with hubspot_harness(data, page_size=20, search_result_cap=100, settings={"search_lookback_seconds": 0}) as h:
        everything = _ids(read_deals(h.adapter, None))
        middle = everything[150]
        rest = _ids(read_deals(h.adapter, Cursor(modified=burst, deal_id=middle)))
        assert rest == everything[151:]


@pytest.mark.slow
def test_given_12000_deals_when_pulled_then_more_than_10000_won_deals_arrive_once():
    data = scaled_dataset(12_000, anchor=ANCHOR)
    with hubspot_harness(data) as h:
        ids = _ids(read_deals(h.adapter, None))
        assert len(ids) > 10_000
        assert len(ids) == len(set(ids))
        assert set(ids) == h.won_deal_ids()


def test_given_deal_ids_when_read_by_id_then_same_shape_and_missing_ids_skipped():
    with hubspot_harness() as h:
        wanted = [h.deal_id(0), h.deal_id(1), "999999"]
        deals = [d for p in read_deals_by_id(h.adapter, wanted) for d in p.deals]
        assert [d.id for d in deals] == wanted[:2]
        assert deals[0].company.name == "Acme Corp" and deals[0].contacts


def test_given_our_own_write_back_when_pulled_again_then_the_deal_is_re_read_without_error():
    from connector.actions import UpdateRecord
    from connector.model import RecordKind, RecordUpdate

    with hubspot_harness() as h:
        pages = list(read_deals(h.adapter, None))
        cursor = pages[-1].cursor
        handled = handled_by(pages)
        deal_id = h.deal_id(0)
        h.adapter.apply([UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=deal_id,
                                                          values={"handoff_status": "complete"}),
                                      deal_id=deal_id, reason="handoff checked")])
        again = [d for p in read_deals(h.adapter, cursor, handled=handled) for d in p.deals]
        assert [d.id for d in again] == [deal_id]
        assert again[0].fields["handoff_status"] == "complete"


# -- the paginator refuses to loop (a fake search reply: HubSpot itself never does this) ---------

class _StuckClient:
    def call(self, *_args, **_kwargs):
        result = SimpleNamespace(id="1", properties={"hs_lastmodifieddate": "2026-02-27T12:00:00Z"}, updated_at=None)
        return SimpleNamespace(results=[result], paging=SimpleNamespace(next=SimpleNamespace(after="0")))


def test_given_search_whose_after_does_not_advance_when_walked_then_paging_error():
    walk = DealSearchWalk(_StuckClient(), filter_groups=[[]], properties=[])
    with pytest.raises(PagingError, match="would loop"):
        list(walk.walk(None))
