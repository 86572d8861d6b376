"""The planner with several playbooks: a deal that changes playbook, a touch point removed from a
playbook, playbooks without a handoff task; nothing is ever duplicated or deleted."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.actions import CloseTask, CreateTask, Skip, UpdateRecord, UpdateTask
from jobs.core.conditions import FieldTest
from jobs.core.ledger_view import EntryStatus
from jobs.core.planner import plan
from jobs.core.playbook import DEFAULT_PLAYBOOK, TouchPointRule
from jobs.core.playbook_set import PlaybookSet, Segment
from tests.builders import (
    apply_record_updates,
    apply_to_ledger,
    at,
    complete_by_rep,
    complete_fields,
    make_deal,
    make_fieldmap,
    make_report,
    reports_for,
    with_fields,
)

FIELDMAP = make_fieldmap()
NOW = at(2026, 3, 2)
ADOPTION = TouchPointRule(id="adoption_check", title="Adoption check", anchor="close", offset_days=21,
                          purpose="See that what they added is in use.")
NEW_BUSINESS = dataclasses.replace(DEFAULT_PLAYBOOK, id="new_business", title="New business")
EXPANSION = dataclasses.replace(DEFAULT_PLAYBOOK, id="expansion", title="Expansion", touch_points=(ADOPTION,))
RENEWAL = dataclasses.replace(DEFAULT_PLAYBOOK, id="renewal", title="Renewal deal", handoff=False, renewal_deal=True,
                              touch_points=tuple(r for r in DEFAULT_PLAYBOOK.touch_points if r.anchor == "renewal"))
SET = PlaybookSet(segments=(
    Segment(playbook=RENEWAL, when=FieldTest(field="deal_type", equals="renewal")),
    Segment(playbook=EXPANSION, when=FieldTest(field="deal_type", equals="existingbusiness")),
    Segment(playbook=NEW_BUSINESS),
))
DONE = complete_fields(handoff_status="complete")


def run(deals, ledger=None, *, now=NOW, playbooks=SET, reports=None):
    deals = list(deals)
    return plan(deals, reports or reports_for(deals), ledger or {}, FIELDMAP, playbooks, now)


def step(deals, ledger, now, playbooks=SET):
    result = run(deals, ledger, now=now, playbooks=playbooks)
    return result, apply_record_updates(result.plan, deals), apply_to_ledger(result.plan, ledger, result.fingerprints)


def statuses(ledger) -> dict[str, EntryStatus]:
    return {e.key: e.status for entries in ledger.values() for e in entries}


def test_given_an_expansion_deal_then_it_gets_an_adoption_check_and_no_kickoff_and_the_plan_says_why():
    deal = make_deal(fields=complete_fields(deal_type="existingbusiness"))
    result = run([deal])
    assert [a.spec.touch_point for a in result.plan.actions if isinstance(a, CreateTask)] == ["adoption_check"]
    create = next(a for a in result.plan.actions if isinstance(a, CreateTask))
    assert create.reason == "due 2026-03-23: Adoption check, 21 days after close 2026-03-02; playbook expansion"
    assert result.choices["1001"].because == "deal_type is 'existingbusiness': existingbusiness"
    assert "  playbook expansion: deal_type is 'existingbusiness': existingbusiness" in result.explain()


def test_given_a_renewal_deal_playbook_without_handoff_task_then_status_is_written_but_no_task():
    deal = make_deal(fields=complete_fields(deal_type="renewal", decision_criteria=None))
    result = run([deal], reports={"1001": make_report(missing=["Decision criteria"])})
    assert "handoff_incomplete" not in {a.spec.touch_point for a in result.plan.actions if isinstance(a, CreateTask)}
    [write] = [a for a in result.plan.actions if isinstance(a, UpdateRecord)]
    assert write.update.values["handoff_status"] == "incomplete"


def test_given_deal_moves_to_a_smaller_playbook_then_future_tasks_are_noted_then_closed_and_history_stays():
    deal = make_deal(fields=DONE)
    _, deals, ledger = step([deal], {}, NOW)
    ledger = complete_by_rep(ledger, "ac1:hubspot:1001:kickoff:0")
    later = at(2026, 3, 20)  # the onboarding check-up (16 March) is due already: the rep has it
    moved = [with_fields(d, deal_type="existingbusiness") for d in deals]
    first, deals, ledger = step(moved, ledger, later)
    notes = [a for a in first.plan.actions if isinstance(a, UpdateTask)]
    assert {a.spec.touch_point for a in notes} == {"value_review_30", "nps_checkin_60", "business_review_90",
                                                    "renewal_planning", "renewal_review", "renewal_proposal",
                                                    "renewal_decision"}
    assert all(a.changes == ("content",) for a in notes)
    assert first.retiring == {a.key for a in notes}  # the shell reads these back before touching them
    assert notes[0].spec.body.endswith(
        "AfterClose is closing this task: this deal's playbook, Expansion (deal_type is 'existingbusiness': "
        "existingbusiness), has no '30-day value review' touch point.\n")
    assert [a.spec.touch_point for a in first.plan.actions if isinstance(a, CreateTask)] == ["adoption_check"]
    second, deals, ledger = step(deals, ledger, later + dt.timedelta(minutes=15))
    assert sorted(a.key for a in second.plan.actions if isinstance(a, CloseTask)) == sorted(a.key for a in notes)
    assert all(isinstance(a, CloseTask) for a in second.plan.actions)
    done = statuses(ledger)
    assert done["ac1:hubspot:1001:kickoff:0"] is EntryStatus.COMPLETED  # the rep's, untouched
    assert done["ac1:hubspot:1001:onboarding_checkup:0"] is EntryStatus.OPEN  # already due: history
    assert run(deals, ledger, now=later + dt.timedelta(minutes=30)).plan.actions == ()


def test_given_a_touch_point_removed_from_the_playbook_then_its_future_open_task_is_retired():
    deals, ledger = [make_deal(fields=DONE)], {}
    _, deals, ledger = step(deals, ledger, NOW, playbooks=DEFAULT_PLAYBOOK)
    slimmer = PlaybookSet.of(dataclasses.replace(DEFAULT_PLAYBOOK, touch_points=tuple(
        r for r in DEFAULT_PLAYBOOK.touch_points if r.id != "nps_checkin_60")), library=DEFAULT_PLAYBOOK.touch_points)
    first, deals, ledger = step(deals, ledger, NOW + dt.timedelta(hours=1), playbooks=slimmer)
    [note] = first.plan.actions
    assert isinstance(note, UpdateTask) and note.key == "ac1:hubspot:1001:nps_checkin_60:0"
    assert note.reason == ("say why, then close it on the next run: this deal's playbook, Default, has no "
                           "'NPS check-in' touch point")
    second, deals, ledger = step(deals, ledger, NOW + dt.timedelta(hours=2), playbooks=slimmer)
    assert [(type(a), a.key) for a in second.plan.actions] == [(CloseTask, note.key)]


def test_given_a_touch_point_no_longer_defined_anywhere_then_its_future_open_task_is_closed_with_the_reason():
    deals, ledger = [make_deal(fields=DONE)], {}
    _, deals, ledger = step(deals, ledger, NOW, playbooks=DEFAULT_PLAYBOOK)
    slimmer = dataclasses.replace(DEFAULT_PLAYBOOK, touch_points=tuple(
        r for r in DEFAULT_PLAYBOOK.touch_points if r.id != "nps_checkin_60"))
    result, deals, ledger = step(deals, ledger, NOW + dt.timedelta(hours=1), playbooks=slimmer)
    assert [(type(a), a.key, a.reason) for a in result.plan.actions] == [
        (CloseTask, "ac1:hubspot:1001:nps_checkin_60:0",
         "close: this deal's playbook, Default, has no 'Nps checkin 60' touch point")]


def test_given_the_renewal_date_moved_a_whole_term_then_the_old_cycles_future_tasks_are_retired():
    deal = make_deal(fields=complete_fields(handoff_status="complete", renewal_date="2027-03-02"))
    _, deals, ledger = step([deal], {}, NOW, playbooks=DEFAULT_PLAYBOOK)
    renewed = [with_fields(d, renewal_date="2028-03-02") for d in deals]
    first, deals, ledger = step(renewed, ledger, NOW + dt.timedelta(days=1), playbooks=DEFAULT_PLAYBOOK)
    retired = {a.key for a in first.plan.actions if isinstance(a, UpdateTask) and a.key.endswith(":1")}
    assert retired == {f"ac1:hubspot:1001:{tp}:1" for tp in ("renewal_planning", "renewal_review",
                                                             "renewal_proposal", "renewal_decision")}
    assert {a.key for a in first.plan.actions if isinstance(a, CreateTask)} == {
        f"ac1:hubspot:1001:{tp}:2" for tp in ("renewal_planning", "renewal_review", "renewal_proposal",
                                              "renewal_decision")}
    note = next(a for a in first.plan.actions if a.key == "ac1:hubspot:1001:renewal_review:1")
    assert "it belongs to renewal cycle 1; the current renewal is cycle 2 on 2028-03-02" in note.reason


# --- the property: moving between segments never duplicates or deletes ----------------------------

TYPES = ["existingbusiness", "newbusiness", "renewal", None]
AMOUNT_SET = PlaybookSet(segments=(
    Segment(playbook=dataclasses.replace(RENEWAL, renewal_deal=False),
            when=FieldTest(field="amount", at_least=Decimal(100000))),
    *SET.segments[1:],
))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TYPES), st.sampled_from(["5000", "150000"]), st.integers(0, 120),
                          st.booleans()), min_size=1, max_size=6),
       st.dates(dt.date(2025, 6, 1), dt.date(2026, 6, 1)))
def test_a_deal_moving_between_segments_never_gets_a_task_twice_and_never_loses_one(moves, close):
    deals, ledger, now = [make_deal(close_date=close, fields=DONE)], {}, at(2026, 3, 2)
    created: set[str] = set()
    for deal_type, amount, days, rep_completes in moves:
        now += dt.timedelta(days=days)
        deals = [dataclasses.replace(with_fields(d, deal_type=deal_type), amount=amount) for d in deals]
        before = statuses(ledger)
        result, deals, ledger = step(deals, ledger, now, playbooks=AMOUNT_SET)
        for action in result.plan.actions:
            if isinstance(action, CreateTask):
                assert before.get(action.key, EntryStatus.SKIPPED) is EntryStatus.SKIPPED
                assert action.key not in created
                created.add(action.key)
            if isinstance(action, UpdateTask | CloseTask):
                assert before[action.key] is EntryStatus.OPEN  # completed tasks are never touched
            assert not isinstance(action, Skip) or action.key not in created
        after = statuses(ledger)
        assert set(before) <= set(after)  # nothing the ledger knew is ever forgotten (no delete exists)
        if rep_completes and after:
            ledger = complete_by_rep(ledger, sorted(after)[0])
