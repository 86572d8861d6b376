"""The in-memory CRM's own behaviours, beyond the contract every harness holds: the knobs the job and
CLI tests that run on it rely on (faults, schema changes, a clock that stands still) and the
places where it is stricter than the contract asks (a repeated create is UNCHANGED, a refused
record carries a code)."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.actions import CloseTask, CreateTask, Outcome, UpdateRecord, UpdateTask
from connector.errors import RetriableError
from connector.model import RecordKind, RecordUpdate
from jobs.sync import DealStream
from tests.contract.fake_harness import open_harness
from tests.contract.test_adapter_contract import active_won_deal, all_deals, task_spec
from tests.streams import read_deals

UTC = dt.UTC


@pytest.fixture
def fake():
    with open_harness(page_size=10) as h:
        yield h


def write_back(deal_id: str, **values) -> UpdateRecord:
    return UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=deal_id, values=values), deal_id=deal_id,
                        reason="t")


def creates(h, deals, touch_point="kickoff"):
    return [CreateTask(spec=task_spec(h, d, touch_point=touch_point), reason="t") for d in deals]


def active_deals(h, n):
    return [d for d in all_deals(read_deals(h.adapter)) if d.owner and d.owner.active][:n]


def test_given_key_already_in_crm_when_created_again_then_unchanged_with_the_first_tasks_id(fake):
    action = creates(fake, [active_won_deal(fake)])[0]
    [first] = fake.adapter.apply([action])
    [again] = fake.adapter.apply([action])
    assert (again.outcome, again.crm_id) == (Outcome.UNCHANGED, first.crm_id) and again.message


def test_given_inactive_owner_then_task_refused_with_code_and_the_owner_named(fake):
    deal = next(d for d in all_deals(read_deals(fake.adapter)) if d.owner and not d.owner.active)
    [result] = fake.adapter.apply(creates(fake, [deal]))
    assert result.outcome is Outcome.REJECTED and result.error_code == "INACTIVE_OWNER"
    assert deal.owner.id in result.message


def test_given_task_deleted_in_crm_then_not_found_close_unchanged_update_refused_and_create_makes_a_new_one(fake):
    deal = active_won_deal(fake)
    spec = task_spec(fake, deal)
    [created] = fake.adapter.apply([CreateTask(spec=spec, reason="t")])
    fake.sandbox.delete_task(created.crm_id)
    assert fake.adapter.find_tasks([spec.key]) == {}
    closed, updated = fake.adapter.apply([CloseTask(key=spec.key, deal_id=deal.id, crm_id=created.crm_id, reason="t"),
                                          UpdateTask(spec=spec, crm_id=created.crm_id, changes=("due",), reason="t")])
    assert closed.outcome is Outcome.UNCHANGED
    assert (updated.outcome, updated.error_code) == (Outcome.REJECTED, "NOT_FOUND")
    [again] = fake.adapter.apply([CreateTask(spec=spec, reason="t")])
    assert again.outcome is Outcome.CREATED and again.crm_id != created.crm_id


def test_given_write_back_then_deal_comes_back_with_a_later_stamp_reading_as_what_was_read_plus_the_write(fake):
    pages = read_deals(fake.adapter)
    stamps = {s.id: s for page in fake.adapter.scan(None) for s in page}
    deal = active_won_deal(fake)
    fake.adapter.apply([write_back(deal.id, handoff_status="complete", handoff_missing=None)])
    [[again]] = list(fake.adapter.scan(pages[-1].cursor))
    assert again.id == deal.id and again.modified > stamps[deal.id].modified
    assert again.digest() == stamps[deal.id].digest({"handoff_status": "complete", "handoff_missing": None})


def test_given_own_write_backs_during_a_walk_then_the_stream_drops_them_and_ends_past_them(fake):
    stream = DealStream(fake.adapter)
    seen = []
    try:
        for page in stream.changed_since(None):
            seen += [d.id for d in page.deals]
            stream.submit([write_back(d.id, handoff_status="complete") for d in page.deals]).result()
            last = page.cursor
    finally:
        stream.close()
    assert sorted(seen) == sorted(fake.won_deal_ids())
    assert all_deals(read_deals(fake.adapter, last)) == []


def test_given_a_clock_that_stands_still_then_every_change_still_gets_a_later_stamp():
    noon = dt.datetime(2026, 3, 2, 12, tzinfo=UTC)
    with open_harness(clock=lambda: noon) as h:
        deal_id = h.deal_id(0)
        h.set_field(deal_id, "customer_goal", "one")
        first = h.sandbox.deals[deal_id].modified
        h.set_field(deal_id, "customer_goal", "two")
        assert noon == first < h.sandbox.deals[deal_id].modified


def test_given_field_removed_then_check_names_its_mapping_key_and_writes_to_it_are_refused(fake):
    fake.sandbox.remove_field(RecordKind.DEAL, "handoff_missing")
    [problem] = fake.adapter.check_schema()
    assert problem.mapping_key == "handoff_missing" and "afterclose setup" in problem.problem
    deal = active_won_deal(fake)
    [result] = fake.adapter.apply([write_back(deal.id, handoff_missing="Customer goal")])
    assert (result.outcome, result.error_code) == (Outcome.REJECTED, "UNKNOWN_FIELD")
    assert "created deal.handoff_missing" in fake.adapter.setup()
    assert "exists deal.handoff_missing" in fake.adapter.setup() and fake.adapter.check_schema() == []


def test_given_value_outside_the_fields_options_then_that_record_alone_is_refused(fake):
    first, second = active_deals(fake, 2)
    results = fake.adapter.apply([write_back(first.id, handoff_status="maybe"),
                                  write_back(second.id, handoff_status="complete")])
    assert [(r.outcome, r.error_code) for r in results] == [(Outcome.REJECTED, "INVALID_VALUE"),
                                                            (Outcome.UPDATED, None)]
    assert fake.field(first.id, "handoff_status") is None


def test_given_next_apply_fails_then_nothing_is_written_and_the_one_after_goes_through(fake):
    actions = creates(fake, active_deals(fake, 2))
    fake.sandbox.faults.fail_next_apply()
    with pytest.raises(RetriableError):
        fake.adapter.apply(actions)
    assert fake.tasks() == []
    assert [r.outcome for r in fake.adapter.apply(actions)] == [Outcome.CREATED] * 2


def test_given_failure_after_two_creates_then_those_two_stay_and_a_repeat_leaves_them_unchanged(fake):
    actions = creates(fake, active_deals(fake, 3))
    fake.sandbox.faults.fail_after_creates(2)
    with pytest.raises(RetriableError):
        fake.adapter.apply(actions)
    assert {t.key for t in fake.tasks()} == {a.key for a in actions[:2]}
    assert [r.outcome for r in fake.adapter.apply(actions)] == [Outcome.UNCHANGED] * 2 + [Outcome.CREATED]


def test_given_lost_answer_then_the_writes_happened_and_a_repeat_creates_nothing(fake):
    actions = creates(fake, active_deals(fake, 2))
    fake.sandbox.faults.lose_next_response()
    with pytest.raises(RetriableError):
        fake.adapter.apply(actions)
    assert len(fake.tasks()) == 2
    assert [r.outcome for r in fake.adapter.apply(actions)] == [Outcome.UNCHANGED] * 2


def test_given_writes_then_estimate_equals_the_write_calls_apply_makes(fake):
    deals = active_deals(fake, 3)
    actions = creates(fake, deals) * 40 + [UpdateTask(spec=task_spec(fake, deals[0]), crm_id=None, changes=("due",),
                                                      reason="t")]
    before = fake.write_calls()
    fake.adapter.apply(actions)
    assert fake.adapter.estimate_write_calls(actions) == fake.write_calls() - before == 2 + 1


def test_given_survey_emails_then_contacts_match_without_regard_to_case_and_accounts_bring_their_won_deals(fake):
    deal = active_won_deal(fake)
    contact = deal.main_contact
    [found] = fake.adapter.nps_contacts_by_email([contact.email.upper()])
    assert found.id == contact.id and found.company_id == deal.company.id
    account = fake.adapter.nps_accounts([deal.company.id, "company-none"])
    assert set(account) == {deal.company.id}
    assert deal.id in {d.id for d in account[deal.company.id].won_deals}
    assert all(d.is_won for d in account[deal.company.id].won_deals)


def test_the_fake_lists_its_fields_for_the_field_picker_as_the_table_sees_them(fake):
    from connector.mapping.compat import CrmKind
    from connector.port import SupportsFieldList

    assert isinstance(fake.adapter, SupportsFieldList)
    fields = {f.name: f for f in fake.adapter.crm_fields(RecordKind.DEAL)}
    assert fields["handoff_status"].kind is CrmKind.PICKLIST and fields["handoff_status"].options == (
        "complete", "incomplete")
    assert fields["renewal_date"].kind is CrmKind.DATE
    assert {f.name for f in fake.adapter.crm_fields(RecordKind.COMPANY)} >= {"nps_score", "referral_status"}
