"""Reads that lag behind writes, stepped through with the injectable clock: association reads
(``association_read_lag``) and a search index that shows writes out of order (``search_lag_max``,
``delay_search_index``). Sources: facts §3 "new writes appear with delay"; facts §7 (association
read lag UNVERIFIED, an adapter must survive a bounded one); docs/hubspot-api-notes.md.
"""

from __future__ import annotations

from hubspot.crm.associations.v4 import (
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiArchive,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.associations.v4 import PublicObjectId as V4Id
from hubspot.crm.deals import PublicObjectSearchRequest
from hubspot.crm.deals import SimplePublicObjectInput as DealInput
from hubspot.crm.objects.tasks import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectInputForCreate,
)

from tests.sandbox.hubspot_fixtures import FakeClock

DUE = "2025-03-20T09:00:00Z"


def _read(rig, from_type: str, to_type: str, record_id: str) -> list[str]:
    body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id=record_id)])
    reply = rig.client.crm.associations.v4.batch_api.get_page(
        from_object_type=from_type, to_object_type=to_type, batch_input_public_fetch_associations_batch_request=body)
    return [t.to_object_id for r in reply.results for t in r.to]


def _task_on(rig, deal_id: str) -> str:
    link = PublicAssociationsForObject(to=PublicObjectId(id=deal_id), types=[
        AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=216)])
    return rig.client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": DUE}, associations=[link])).id


def _dealname_in_search(rig, deal_id: str) -> str | None:
    request = PublicObjectSearchRequest(filter_groups=[{"filters": [
        {"propertyName": "hs_object_id", "operator": "EQ", "value": deal_id}]}], properties=["dealname"])
    results = rig.client.crm.deals.search_api.do_search(public_object_search_request=request).results
    return results[0].properties["dealname"] if results else None


def _rename(rig, deal_id: str, name: str) -> None:
    rig.client.crm.deals.basic_api.update(deal_id=deal_id, simple_public_object_input=DealInput(
        properties={"dealname": name}))


# --- association reads --------------------------------------------------------------------------

def test_given_association_read_lag_when_task_linked_then_reads_miss_it_until_the_lag_has_passed(hs_factory):
    clock = FakeClock()
    rig = hs_factory(clock=clock, association_read_lag=5.0)
    deal = rig.deal_id(0)
    task = _task_on(rig, deal)
    assert rig.sb.associated_ids("tasks", task, "deals") == [deal]  # the write applied at once
    assert task not in _read(rig, "deals", "tasks", deal)
    assert _read(rig, "tasks", "deals", task) == []
    v3 = rig.client.crm.objects.tasks.basic_api.get_by_id(task_id=task, associations=["deals"])
    assert v3.associations is None or "deals" not in v3.associations
    clock.advance(4.9)
    assert task not in _read(rig, "deals", "tasks", deal)
    clock.advance(0.2)
    assert task in _read(rig, "deals", "tasks", deal)
    assert _read(rig, "tasks", "deals", task) == [deal]
    v3 = rig.client.crm.objects.tasks.basic_api.get_by_id(task_id=task, associations=["deals"])
    assert [a.id for a in v3.associations["deals"].results] == [deal]


def test_given_association_read_lag_then_associations_already_in_the_portal_are_read_at_once(hs_factory):
    rig = hs_factory(clock=FakeClock(), association_read_lag=60.0)
    assert _read(rig, "deals", "companies", rig.deal_id(0)) == [rig.sb.demo_ids["companies"][0]]


def test_given_association_read_lag_when_association_removed_then_reads_still_see_it_for_the_lag(hs_factory):
    clock = FakeClock()
    rig = hs_factory(clock=clock, association_read_lag=5.0)
    deal = rig.deal_id(0)
    task = _task_on(rig, deal)
    clock.advance(6)
    rig.client.crm.associations.v4.batch_api.archive(
        from_object_type="tasks", to_object_type="deals",
        batch_input_public_association_multi_archive=BatchInputPublicAssociationMultiArchive(inputs=[
            PublicAssociationMultiArchive(_from=V4Id(id=task), to=[V4Id(id=deal)])]))
    assert rig.sb.associated_ids("tasks", task, "deals") == []
    assert _read(rig, "tasks", "deals", task) == [deal]
    clock.advance(5.1)
    assert _read(rig, "tasks", "deals", task) == []


def test_given_no_association_read_lag_then_reads_see_a_new_association_at_once(hs_factory):
    rig = hs_factory(clock=FakeClock())
    task = _task_on(rig, rig.deal_id(0))
    assert task in _read(rig, "deals", "tasks", rig.deal_id(0))


# --- search index out of order ------------------------------------------------------------------

def test_given_record_delayed_when_two_deals_edited_then_later_edit_searchable_first(hs_factory):
    clock = FakeClock()
    rig = hs_factory(clock=clock)
    deal_a, deal_b = rig.deal_id(0), rig.deal_id(1)
    rig.sb.delay_search_index("deals", deal_a, 8.0)
    _rename(rig, deal_a, "A edited first")
    _rename(rig, deal_b, "B edited second")
    assert _dealname_in_search(rig, deal_b) == "B edited second"
    assert _dealname_in_search(rig, deal_a) != "A edited first"
    clock.advance(7.9)
    assert _dealname_in_search(rig, deal_a) != "A edited first"
    clock.advance(0.2)
    assert _dealname_in_search(rig, deal_a) == "A edited first"


def test_given_delay_applies_once_then_the_records_next_write_uses_the_normal_lag(hs_factory):
    rig = hs_factory(clock=FakeClock())
    deal = rig.deal_id(0)
    rig.sb.delay_search_index("deals", deal, 8.0)
    _rename(rig, deal, "delayed")
    _rename(rig, deal, "at once")
    assert _dealname_in_search(rig, deal) == "at once"


def test_given_older_write_reaches_index_after_newer_then_search_keeps_the_newer_state(hs_factory):
    clock = FakeClock()
    rig = hs_factory(clock=clock)
    deal = rig.deal_id(0)
    rig.sb.delay_search_index("deals", deal, 8.0)
    _rename(rig, deal, "old state")
    _rename(rig, deal, "new state")
    clock.advance(9)
    assert _dealname_in_search(rig, deal) == "new state"


def _renamed_in_search(rig, deals: list[str]) -> set[str]:
    request = PublicObjectSearchRequest(filter_groups=[{"filters": [
        {"propertyName": "hs_object_id", "operator": "IN", "values": deals}]}], properties=["dealname"], limit=100)
    results = rig.client.crm.deals.search_api.do_search(public_object_search_request=request).results
    return {r.id for r in results if r.properties["dealname"] == f"renamed {r.id}"}


def _visibility_order(hs_factory, seed: int) -> tuple[list[str], list[str]]:
    """Rename ten deals in order: (the order written, the order search showed the new names)."""
    clock = FakeClock()
    rig = hs_factory(clock=clock, seed=seed, search_lag=1.0, search_lag_max=10.0)
    deals = [rig.deal_id(n) for n in range(10)]
    for deal in deals:
        _rename(rig, deal, f"renamed {deal}")
    shown: list[str] = []
    for _ in range(100):
        clock.advance(0.1)
        shown += sorted(_renamed_in_search(rig, deals) - set(shown), key=deals.index)
    assert sorted(shown) == sorted(deals)  # every write reached search within search_lag_max
    return deals, shown


def test_given_seeded_lag_range_then_writes_reach_search_out_of_order_and_the_same_way_each_run(hs_factory):
    written, shown = _visibility_order(hs_factory, seed=7)
    assert shown != written  # a later write became searchable before an earlier one
    assert _visibility_order(hs_factory, seed=7)[1] == shown


def test_given_lag_range_then_nothing_is_searchable_before_the_lower_bound(hs_factory):
    clock = FakeClock()
    rig = hs_factory(clock=clock, search_lag=1.0, search_lag_max=10.0)
    _rename(rig, rig.deal_id(0), "renamed")
    clock.advance(0.99)
    assert _dealname_in_search(rig, rig.deal_id(0)) != "renamed"
