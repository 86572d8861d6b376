"""The planner's rules, one by one: what it creates, reschedules, rewrites, closes, writes and skips."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from connector.actions import ActionKind, CloseTask, CreateTask, Skip, UpdateRecord, UpdateTask
from connector.mapping import FieldSpec, FieldType, TaskTemplate
from connector.model import Contact, Priority, Provider, RecordKind, TaskType
from jobs.core.keys import task_key
from jobs.core.ledger_view import EntryStatus
from jobs.core.planner import PlanResult, fingerprint, plan
from jobs.core.playbook import DEFAULT_PLAYBOOK, Playbook
from tests.builders import (
    apply_record_updates,
    apply_to_ledger,
    at,
    complete_by_rep,
    complete_fields,
    make_contact,
    make_deal,
    make_entry,
    make_fieldmap,
    make_owner,
    make_report,
    reports_for,
    with_fields,
)

D = dt.date
NOW = at(2026, 3, 2, hour=12)  # Monday; the default deal closed this day
FIELDMAP = make_fieldmap()
DONE = complete_fields(handoff_status="complete")
"""A deal whose handoff write-back is already in the CRM."""


def run(deals, ledger=None, *, reports=None, now=NOW, playbook: Playbook = DEFAULT_PLAYBOOK,
        fieldmap=FIELDMAP) -> PlanResult:
    deals = list(deals)
    return plan(deals, reports if reports is not None else reports_for(deals), ledger or {}, fieldmap, playbook, now)


def key(touch_point: str, cycle: int = 0, deal_id: str = "1001") -> str:
    return task_key(Provider.HUBSPOT, deal_id, touch_point, cycle)


def of(result: PlanResult, kind: type) -> list:
    return [a for a in result.plan.actions if isinstance(a, kind)]


def settle(deals, ledger=None, *, reports=None, now=NOW, playbook=DEFAULT_PLAYBOOK):
    """Plan and apply once; return the deals and ledger a successful run leaves behind."""
    deals = list(deals)
    result = run(deals, ledger, reports=reports, now=now, playbook=playbook)
    return apply_record_updates(result.plan, deals), apply_to_ledger(result.plan, ledger or {}, result.fingerprints)


# --- creating tasks ------------------------------------------------------------------------------


def test_given_new_won_deal_then_every_touch_point_is_created_and_handoff_status_written():
    result = run([make_deal()])
    assert [a.spec.touch_point for a in of(result, CreateTask)] == [
        "kickoff", "onboarding_checkup", "value_review_30", "nps_checkin_60", "business_review_90",
        "renewal_planning", "renewal_review", "renewal_proposal", "renewal_decision",
    ]
    [write] = of(result, UpdateRecord)
    assert dict(write.update.values) == {"handoff_status": "complete"}  # handoff_missing is already empty
    assert result.plan.count(ActionKind.SKIP) == 0


def test_given_new_deal_then_kickoff_task_is_complete_and_linked():
    deal = make_deal(contacts=(make_contact(id="c-2", is_primary=False, name="Lars Berg", role="Evaluator"),
                               make_contact(id="c-1", is_primary=True)))
    kickoff = of(run([deal]), CreateTask)[0]
    spec = kickoff.spec
    assert spec.key == "ac1:hubspot:1001:kickoff:0"
    assert spec.subject == "Kickoff call: Acme Corp - Platform 2026"
    assert "Customer goal: Cut support cost per ticket by a third" in spec.body
    assert "Success criteria: Weekly active users above 80% of seats by day 90" in spec.body
    assert "- Lars Berg, Evaluator, maria.garcia@acme.example" in spec.body
    assert "Renewal: 2027-03-02 (cycle 0)" in spec.body
    assert spec.due_at == at(2026, 3, 4, hour=9)
    assert (spec.owner_id, spec.priority, spec.type) == ("owner-1", Priority.HIGH, TaskType.CALL)
    assert (spec.deal_id, spec.company_id, spec.contact_id) == ("1001", "company-1", "c-1")
    assert kickoff.reason == "due 2026-03-04: Kickoff call, 2 business days after close 2026-03-02"


def test_given_renewal_task_then_reason_names_the_cycle_and_where_the_date_came_from():
    decision = next(a for a in of(run([make_deal()]), CreateTask) if a.spec.touch_point == "renewal_decision")
    assert decision.key == "ac1:hubspot:1001:renewal_decision:1"
    assert decision.reason == ("due 2027-02-01: Renewal decision, 30 days before renewal 2027-03-02 "
                               "(renewal cycle 1: close date 2026-03-02 + 12 months; Sun 2027-01-31 is not a workday)")


def test_given_csm_owner_field_then_touch_points_go_to_the_csm_and_the_handoff_task_to_the_deal_owner():
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, owner_field="csm_owner")
    deal = make_deal(fields=complete_fields(csm_owner="csm-7", decision_criteria=None))
    result = run([deal], playbook=playbook, reports={"1001": make_report(missing=["Decision criteria"])})
    owners = {a.spec.touch_point: a.spec.owner_id for a in of(result, CreateTask)}
    assert owners["kickoff"] == owners["renewal_decision"] == "csm-7"
    assert owners["handoff_incomplete"] == "owner-1"


def test_given_deactivated_deal_owner_and_fallback_owner_then_every_task_goes_to_the_fallback():
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, fallback_owner="team-lead")
    deal = make_deal(owner=make_owner(active=False), fields=complete_fields(decision_criteria=None))
    result = run([deal], playbook=playbook, reports={"1001": make_report(missing=["Decision criteria"])})
    owners = {a.spec.touch_point: a.spec.owner_id for a in of(result, CreateTask)}
    assert set(owners.values()) == {"team-lead"} and "handoff_incomplete" in owners
    no_owner = run([make_deal(id="1002", owner=None)], playbook=playbook)
    assert {a.spec.owner_id for a in of(no_owner, CreateTask)} == {"team-lead"}


def test_given_deactivated_deal_owner_without_fallback_then_tasks_still_name_the_deal_owner():
    result = run([make_deal(owner=make_owner(active=False))])
    assert {a.spec.owner_id for a in of(result, CreateTask)} == {"owner-1"}  # the CRM refuses, reported


def test_given_open_tasks_when_deal_owner_leaves_and_fallback_is_set_then_the_tasks_move_to_the_fallback():
    deals, ledger = settle([make_deal(fields=DONE)])
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, fallback_owner="team-lead")
    left = [dataclasses.replace(d, owner=make_owner(active=False)) for d in deals]
    moved = of(run(left, ledger, playbook=playbook), UpdateTask)
    assert moved and {a.spec.owner_id for a in moved} == {"team-lead"}
    assert all("content" in a.changes for a in moved)


def test_given_csm_owner_field_empty_on_the_deal_then_the_deal_owner_gets_the_task():
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, owner_field="csm_owner")
    result = run([make_deal(fields=complete_fields(csm_owner="  "))], playbook=playbook)
    assert {a.spec.owner_id for a in of(result, CreateTask)} == {"owner-1"}


def test_given_touch_point_template_then_it_is_used_over_the_default():
    templates = {"default": TaskTemplate(subject="{touch_point_title}", body="-"),
                 "kickoff": TaskTemplate(subject="Call {deal_name} within two days", body="Goal: {customer_goal}")}
    result = run([make_deal()], fieldmap=make_fieldmap(templates=templates))
    kickoff, onboarding = of(result, CreateTask)[:2]
    assert kickoff.spec.subject == "Call Acme Corp - Platform 2026 within two days"
    assert onboarding.spec.subject == "Onboarding check-up"


def test_given_value_missing_on_the_deal_then_the_template_says_not_recorded():
    deal = make_deal(fields=complete_fields(customer_goal=None), contacts=())
    body = of(run([deal]), CreateTask)[0].spec.body
    assert "Customer goal: (not recorded)" in body
    assert "Stakeholders:\n(not recorded)" in body


def test_given_no_template_at_all_then_a_clear_error_names_the_mapping():
    with pytest.raises(ValueError, match=r"tests/builders.py: no template for touch point 'kickoff'"):
        run([make_deal()], fieldmap=make_fieldmap(templates={}))


# --- re-runs, reschedules, rewrites --------------------------------------------------------------


def test_given_deal_re_pulled_with_no_relevant_change_then_no_actions():
    deals, ledger = settle([make_deal()])
    bumped = [dataclasses.replace(d, last_modified=d.last_modified + dt.timedelta(hours=3)) for d in deals]
    assert run(bumped, ledger).plan.actions == ()


def test_given_moved_close_date_when_run_then_tasks_rescheduled_with_the_same_keys():
    deals, ledger = settle([make_deal()])
    moved = [dataclasses.replace(deals[0], close_date=D(2026, 3, 4))]
    result = run(moved, ledger)
    assert of(result, CreateTask) == []
    updates = {a.key: a for a in of(result, UpdateTask)}
    assert set(updates) == {e.key for e in ledger["1001"]}
    kickoff = updates[key("kickoff")]
    assert kickoff.spec.due_at == at(2026, 3, 6, hour=9)
    assert kickoff.crm_id == f"crm-{key('kickoff')}"
    assert "due_at" in kickoff.changes
    assert kickoff.reason.startswith("reschedule (was due 2026-03-04)")


def test_given_moved_renewal_date_when_run_then_renewal_tasks_rescheduled_not_duplicated():
    deals, ledger = settle([make_deal(fields=DONE | {"renewal_date": "2027-03-02"})])
    result = run([with_fields(deals[0], renewal_date="2027-04-15")], ledger)
    assert of(result, CreateTask) == []
    rescheduled = {a.spec.touch_point for a in of(result, UpdateTask) if "due_at" in a.changes}
    assert rescheduled == {"renewal_planning", "renewal_review", "renewal_proposal", "renewal_decision"}
    # the body shows the renewal date, so the close-anchored tasks are rewritten, not rescheduled
    assert {a.changes for a in of(result, UpdateTask) if a.spec.touch_point == "kickoff"} == {("content",)}


def test_given_deal_text_changed_then_open_tasks_are_rewritten_once():
    deals, ledger = settle([make_deal()])
    changed = [with_fields(deals[0], customer_goal="Enter the Nordic market within eighteen months")]
    result = run(changed, ledger)
    assert {a.changes for a in of(result, UpdateTask)} == {("content",)}
    assert all("Enter the Nordic market" in a.spec.body for a in of(result, UpdateTask))
    _, ledger = settle(changed, ledger)
    assert run(changed, ledger).plan.actions == ()


def test_given_ledger_entry_without_fingerprint_then_the_task_is_rewritten_once():
    deal = make_deal(fields=DONE)
    _, ledger = settle([deal])
    ledger = {"1001": [dataclasses.replace(e, fingerprint=None) for e in ledger["1001"]]}
    result = run([deal], ledger)
    assert {a.changes for a in of(result, UpdateTask)} == {("content",)}
    assert "content not known to the ledger" in of(result, UpdateTask)[0].reason


def test_given_entry_re_learnt_from_the_crm_without_due_date_then_it_is_updated_not_created():
    entry = make_entry(key("kickoff"), crm_id="00T-1", due_at=None, fingerprint=None)
    result = run([make_deal(fields=DONE)], {"1001": [entry]})
    [update] = [a for a in result.plan.actions if a.key == key("kickoff")]
    assert isinstance(update, UpdateTask)
    assert (update.crm_id, update.changes) == ("00T-1", ("due_at", "content"))
    assert update.reason.startswith("reschedule (was due unknown) and rewrite (content not known to the ledger)")


def test_given_task_completed_by_rep_then_never_reopened_or_rescheduled():
    deals, ledger = settle([make_deal()])
    ledger = complete_by_rep(ledger, key("kickoff"))
    moved = [dataclasses.replace(deals[0], close_date=D(2026, 3, 9))]
    keys = {a.key for a in run(moved, ledger).plan.actions}
    assert key("kickoff") not in keys
    assert key("onboarding_checkup") in keys


def test_fingerprint_changes_with_content_but_not_with_due_date():
    spec = of(run([make_deal()]), CreateTask)[0].spec
    assert fingerprint(spec) == fingerprint(dataclasses.replace(spec, due_at=spec.due_at + dt.timedelta(days=3)))
    assert fingerprint(spec) != fingerprint(dataclasses.replace(spec, owner_id="owner-2"))
    assert fingerprint(spec) != fingerprint(dataclasses.replace(spec, body=spec.body + "."))


def test_plan_result_carries_the_fingerprint_the_store_must_save_for_each_write():
    result = run([make_deal()])
    assert {a.key: fingerprint(a.spec) for a in of(result, CreateTask)} == result.fingerprints


# --- catch-up: no flood of overdue tasks ---------------------------------------------------------


def test_given_touch_point_exactly_7_days_overdue_when_first_planned_then_created():
    # kickoff of a 2026-02-20 (Friday) close is due Tuesday 2026-02-24: 7 days before 2026-03-03
    result = run([make_deal(close_date=D(2026, 2, 20))], now=at(2026, 3, 3, hour=23))
    assert key("kickoff") in {a.key for a in of(result, CreateTask)}


def test_given_touch_point_8_days_overdue_when_first_planned_then_skipped_with_reason():
    result = run([make_deal(close_date=D(2026, 2, 20))], now=at(2026, 3, 4, hour=0))
    [skip] = [a for a in of(result, Skip) if a.key == key("kickoff")]
    assert skip.reason == ("skip: due 2026-02-24: Kickoff call, 2 business days after close 2026-02-20; "
                           "8 days overdue when first planned (more than the 7 catch-up days)")


def test_given_catch_up_counted_in_the_playbook_zone_then_the_local_day_decides():
    playbook = dataclasses.replace(DEFAULT_PLAYBOOK, timezone="Pacific/Auckland")
    # 2026-03-03 12:00 UTC is already 2026-03-04 in Auckland: kickoff (due 2026-02-24) is 8 days late there
    result = run([make_deal(close_date=D(2026, 2, 20))], now=at(2026, 3, 3, hour=12), playbook=playbook)
    assert key("kickoff") in {a.key for a in of(result, Skip)}


def test_given_skipped_touch_point_then_the_skip_is_not_repeated_on_later_runs():
    deals, ledger = settle([make_deal(close_date=D(2026, 1, 5))])
    assert {e.status for e in ledger["1001"] if e.touch_point == "kickoff"} == {EntryStatus.SKIPPED}
    assert run(deals, ledger, now=NOW + dt.timedelta(days=1)).plan.actions == ()


def test_given_skipped_touch_point_whose_date_moved_into_the_window_then_created():
    deals, ledger = settle([make_deal(close_date=D(2026, 1, 5))])
    corrected = [dataclasses.replace(deals[0], close_date=D(2026, 2, 27))]
    created = {a.key: a for a in of(run(corrected, ledger), CreateTask)}
    assert key("kickoff") in created
    assert created[key("kickoff")].reason.endswith("skipped earlier as overdue, its date has moved")


def test_given_deal_closed_years_ago_when_first_planned_then_onboarding_skipped_and_current_renewal_planned():
    result = run([make_deal(close_date=D(2023, 6, 1))])
    skipped = {a.key for a in of(result, Skip)}
    created = {a.key for a in of(result, CreateTask)}
    assert skipped == {key(tp) for tp in ("kickoff", "onboarding_checkup", "value_review_30", "nps_checkin_60",
                                          "business_review_90")} | {key("renewal_planning", 3)}  # due 2026-02-02
    assert created == {key(tp, 3) for tp in ("renewal_review", "renewal_proposal", "renewal_decision")}
    assert result.revisit == {"1001": at(2026, 6, 2, hour=0)}


# --- renewal cycles ------------------------------------------------------------------------------


def test_given_revisit_after_the_renewal_then_the_next_cycle_gets_fresh_tasks():
    deal = make_deal(close_date=D(2025, 3, 2), fields=DONE)
    _, ledger = settle([deal], now=at(2026, 2, 1))
    result = run([deal], ledger, now=at(2026, 3, 3, hour=0))
    assert {a.key for a in of(result, CreateTask)} == {key(tp, 2) for tp in (
        "renewal_planning", "renewal_review", "renewal_proposal", "renewal_decision")}
    assert of(result, UpdateTask) == [] and of(result, CloseTask) == []  # last cycle's open tasks stay


def test_given_won_deal_then_revisit_is_the_day_after_its_current_renewal():
    assert run([make_deal()]).revisit == {"1001": at(2027, 3, 3, hour=0)}


def test_given_deal_without_close_date_then_only_the_handoff_is_planned_and_noted():
    result = run([make_deal(close_date=None)])
    assert {a.kind for a in result.plan.actions} == {ActionKind.UPDATE_RECORD}
    assert result.notes == {"1001": ("no close date: the playbook cannot be scheduled",)}
    assert result.revisit == {}


def test_given_renewal_date_before_close_then_plan_notes_the_fallback():
    result = run([make_deal(fields=complete_fields(renewal_date="2025-12-01"))])
    assert "not after the close date" in result.notes["1001"][0]
    assert key("renewal_decision", 1) in {a.key for a in of(result, CreateTask)}


# --- the handoff ---------------------------------------------------------------------------------


def incomplete(*labels: str, deal_id: str = "1001"):
    return {deal_id: make_report(deal_id, labels)}


def test_given_incomplete_handoff_then_one_high_priority_task_due_next_business_day_and_status_written():
    result = run([make_deal()], reports=incomplete("Decision criteria", "Customer goal"), now=at(2026, 3, 6))
    [task] = [a for a in of(result, CreateTask) if a.spec.touch_point == "handoff_incomplete"]
    assert task.key == key("handoff_incomplete")
    assert task.spec.due_at == at(2026, 3, 9, hour=9)  # Friday -> Monday
    assert task.spec.priority is Priority.HIGH
    assert task.spec.body == "Customer success cannot take over yet. Missing: Decision criteria, Customer goal"
    assert task.reason.startswith("handoff incomplete (missing: Decision criteria; Customer goal)")
    [write] = of(result, UpdateRecord)
    assert write.update.kind is RecordKind.DEAL and write.update.record_id == "1001"
    assert dict(write.update.values) == {"handoff_status": "incomplete",
                                         "handoff_missing": "Decision criteria; Customer goal"}


def test_given_missing_list_changes_while_open_then_the_same_task_is_rewritten_and_its_due_date_kept():
    deals, ledger = settle([make_deal()], reports=incomplete("Decision criteria", "Customer goal"))
    later = NOW + dt.timedelta(days=3)
    result = run(deals, ledger, reports=incomplete("Customer goal"), now=later)
    [update] = [a for a in of(result, UpdateTask) if a.spec.touch_point == "handoff_incomplete"]
    assert update.changes == ("content",)
    # The rewritten task says so at its end (issue 17, reasons inside the CRM).
    assert update.spec.body.endswith("Missing: Customer goal\n\nUpdated by AfterClose on 2026-03-05: its text, "
                                     "owner or links brought up to date with the deal.\n")
    assert update.spec.due_at == at(2026, 3, 3, hour=9)
    assert not [a for a in of(result, CreateTask) if a.spec.touch_point == "handoff_incomplete"]
    assert dict(of(result, UpdateRecord)[0].update.values) == {"handoff_missing": "Customer goal"}


def test_given_handoff_still_incomplete_and_unchanged_on_later_days_then_nothing_happens():
    deals, ledger = settle([make_deal()], reports=incomplete("Decision criteria"))
    later = NOW + dt.timedelta(days=5)
    assert run(deals, ledger, reports=incomplete("Decision criteria"), now=later).plan.actions == ()


def test_given_handoff_becomes_complete_then_its_task_is_closed_and_status_cleared():
    deals, ledger = settle([make_deal()], reports=incomplete("Decision criteria"))
    result = run(deals, ledger)
    [close] = of(result, CloseTask)
    assert close.key == key("handoff_incomplete")
    assert close.crm_id == f"crm-{key('handoff_incomplete')}"
    assert close.reason == "handoff complete: every required field is filled"
    assert dict(of(result, UpdateRecord)[0].update.values) == {"handoff_status": "complete", "handoff_missing": ""}


def test_given_handoff_task_completed_by_rep_then_no_second_task_while_fields_still_missing():
    deals, ledger = settle([make_deal()], reports=incomplete("Decision criteria"))
    ledger = complete_by_rep(ledger, key("handoff_incomplete"))
    result = run(deals, ledger, reports=incomplete("Decision criteria", "Customer goal"))
    assert [a.kind for a in result.plan.actions] == [ActionKind.UPDATE_RECORD]


def test_given_status_already_in_the_crm_then_no_write_is_planned():
    deal = make_deal(fields=complete_fields(handoff_status="incomplete", handoff_missing=" Decision criteria "))
    result = run([deal], reports=incomplete("Decision criteria"))
    assert of(result, UpdateRecord) == []


def test_given_only_one_field_differs_then_only_that_field_is_written():
    deal = make_deal(fields=complete_fields(handoff_status="incomplete", handoff_missing="Decision criteria"))
    result = run([deal], reports=incomplete("Decision criteria", "Customer goal"))
    assert dict(of(result, UpdateRecord)[0].update.values) == {"handoff_missing": "Decision criteria; Customer goal"}


def test_given_mapping_without_write_back_fields_then_no_record_write():
    assert of(run([make_deal()], fieldmap=make_fieldmap(write_back=False)), UpdateRecord) == []


def test_given_very_long_missing_list_then_the_core_writes_it_whole_and_a_cut_copy_counts_as_written():
    # The adapter cuts a text to its CRM field's length (connector/text_limits.py, one table per CRM):
    # the core plans the whole list, and a CRM value cut from it is not written again.
    from connector.text_limits import cut

    labels = [f"Custom field number {n} with a long label" for n in range(20)]
    values = dict(of(run([make_deal()], reports=incomplete(*labels)), UpdateRecord)[0].update.values)
    assert values["handoff_missing"] == "; ".join(labels)
    held = make_deal(fields=complete_fields(handoff_status="incomplete", handoff_missing=cut(values["handoff_missing"], 255)))
    assert of(run([held], reports=incomplete(*labels)), UpdateRecord) == []


def test_given_no_handoff_report_for_a_deal_then_tasks_are_planned_and_the_gap_noted():
    result = run([make_deal()], reports={})
    assert of(result, UpdateRecord) == []
    assert result.plan.count(ActionKind.CREATE_TASK) == 9
    assert result.notes["1001"] == ("no handoff report: handoff status and handoff task not planned",)


# --- deals that are no longer won ----------------------------------------------------------------


def test_given_deal_no_longer_won_then_only_its_open_tasks_are_closed():
    deals, ledger = settle([make_deal()], reports=incomplete("Decision criteria"))
    ledger = complete_by_rep(ledger, key("kickoff"))
    lost = [dataclasses.replace(deals[0], is_won=False, stage="closedlost")]
    result = run(lost, ledger, reports=incomplete("Decision criteria"))
    assert {a.kind for a in result.plan.actions} == {ActionKind.CLOSE_TASK}
    closed = {a.key for a in result.plan.actions}
    assert closed == {e.key for e in ledger["1001"] if e.status is EntryStatus.OPEN}
    assert key("kickoff") not in closed
    assert all("deal is no longer won (stage 'closedlost')" in a.reason for a in result.plan.actions)
    assert result.revisit == {}


def test_given_lost_deal_never_planned_then_nothing():
    assert run([make_deal(is_won=False, stage="closedlost")]).plan.actions == ()


# --- order and shape of the plan -----------------------------------------------------------------


def test_actions_are_ordered_by_deal_then_record_writes_then_due_date_then_key():
    deals = [make_deal(id="2002", close_date=D(2026, 2, 27)), make_deal(id="1001")]
    actions = run(deals).plan.actions
    assert [a.deal_id for a in actions] == sorted(a.deal_id for a in actions)
    first_deal = [a for a in actions if a.deal_id == "1001"]
    assert isinstance(first_deal[0], UpdateRecord)
    dues = [a.spec.due_at for a in first_deal[1:]]
    assert dues == sorted(dues)


def test_given_deal_listed_twice_then_planned_once_from_its_latest_version():
    old = make_deal(fields=complete_fields(customer_goal="old goal, long enough"))
    new = dataclasses.replace(make_deal(), last_modified=old.last_modified + dt.timedelta(minutes=5))
    result = run([new, old])
    assert result.plan.count(ActionKind.CREATE_TASK) == 9
    assert "old goal" not in of(result, CreateTask)[0].spec.body


def test_every_action_has_a_reason_and_the_result_groups_by_deal():
    deals = [make_deal(id="2002", close_date=D(2025, 1, 6)), make_deal(id="1001")]
    result = run(deals, reports=incomplete("Decision criteria", deal_id="2002") | incomplete())
    assert all(a.reason.strip() for a in result.plan.actions)
    assert result.deal_ids() == ("1001", "2002")
    assert {a.deal_id for a in result.for_deal("2002")} == {"2002"}


def test_given_naive_now_then_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        run([make_deal()], now=dt.datetime(2026, 3, 2, 12))


def test_given_salesforce_deal_then_keys_and_links_use_its_ids():
    deal = make_deal(provider=Provider.SALESFORCE, id="006Dn00000AbCdEFGH",
                     contacts=(Contact(id="003Dn00000XyZ", is_primary=True),))
    spec = of(run([deal], fieldmap=make_fieldmap(Provider.SALESFORCE)), CreateTask)[0].spec
    assert spec.key == "ac1:salesforce:006Dn00000AbCdEFGH:kickoff:0"
    assert spec.contact_id == "003Dn00000XyZ"


def test_given_extra_mapped_field_then_templates_can_use_it():
    templates = {"default": TaskTemplate(subject="{touch_point_title} ({segment})", body="-")}
    extra = FieldSpec(canonical="segment", record=RecordKind.DEAL, crm_name="segment", type=FieldType.TEXT)
    result = run([make_deal(fields=complete_fields(segment="Enterprise"))],
                 fieldmap=make_fieldmap(templates=templates, extra_fields=[extra]))
    assert of(result, CreateTask)[0].spec.subject == "Kickoff call (Enterprise)"


def test_explain_prints_per_deal_what_would_happen_and_why():
    result = run([make_deal(fields=complete_fields(renewal_date="2025-01-01"))])
    lines = result.explain()
    assert lines[0] == "deal 1001"
    assert lines[1].startswith("  note: renewal date 2025-01-01 is not after the close date 2026-03-02")
    assert "  update_record deal:1001:handoff_status: handoff complete: handoff_status None -> 'complete'" in lines
    assert ("  create_task ac1:hubspot:1001:kickoff:0: due 2026-03-04: Kickoff call, "
            "2 business days after close 2026-03-02") in lines
    assert lines[-1] == "  revisit at 2027-03-03T00:00:00+00:00"
