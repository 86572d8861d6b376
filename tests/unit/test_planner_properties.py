"""Properties of the planner over arbitrary deals, ledgers, clocks and playbooks (hypothesis)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.actions import CloseTask, CreateTask, Skip, UpdateTask
from connector.model import Deal, Provider
from jobs.core.keys import parse_key
from jobs.core.ledger_view import EntryStatus
from jobs.core.planner import plan
from jobs.core.playbook import DEFAULT_PLAYBOOK, Playbook, local_today
from tests.builders import (
    apply_record_updates,
    apply_to_ledger,
    complete_fields,
    make_contact,
    make_deal,
    make_fieldmap,
    make_owner,
    make_report,
)

ZONES = ["UTC", "America/Los_Angeles", "Pacific/Auckland", "Europe/Berlin", "Asia/Kolkata"]
LABELS = ["First-touch channel", "Decision criteria", "Customer goal", "Success criteria", "Stakeholders"]
FIELDMAP = make_fieldmap()
CLOSE_ANCHORED = {rule.id for rule in DEFAULT_PLAYBOOK.touch_points if rule.anchor == "close"}

nows = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31),
                    timezones=st.sampled_from([ZoneInfo(z) for z in ZONES]))
close_dates = st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2028, 1, 31))


@st.composite
def playbooks(draw) -> Playbook:
    return dataclasses.replace(
        DEFAULT_PLAYBOOK,
        timezone=draw(st.sampled_from(ZONES)),
        catch_up_days=draw(st.integers(0, 14)),
        contract_term_months=draw(st.sampled_from([1, 6, 12, 36])),
        due_hour=draw(st.integers(0, 23)),
        holidays=frozenset(draw(st.lists(st.dates(dt.date(2025, 1, 1), dt.date(2028, 12, 31)), max_size=10))),
        owner_field=draw(st.sampled_from([None, "csm_owner"])),
    )


@st.composite
def renewal_values(draw, close: dt.date) -> str | None:
    kind = draw(st.sampled_from(["none", "date", "before_close", "garbage"]))
    if kind == "date":
        return (close + dt.timedelta(days=draw(st.integers(1, 1500)))).isoformat()
    if kind == "before_close":
        return (close - dt.timedelta(days=draw(st.integers(0, 400)))).isoformat()
    if kind == "garbage":
        return draw(st.sampled_from(["next spring", "2026-13-45", "", "  ", "1e3"]))
    return None


@st.composite
def deals(draw, deal_id: str) -> Deal:
    close = draw(st.one_of(st.none(), close_dates)) if draw(st.integers(0, 20)) == 0 else draw(close_dates)
    contacts = tuple(make_contact(id=f"c-{deal_id}-{n}", is_primary=draw(st.booleans()))
                     for n in range(draw(st.integers(0, 2))))
    fields = complete_fields(
        renewal_date=draw(renewal_values(close)) if close else None,
        csm_owner=draw(st.sampled_from([None, "", "csm-7"])),
        handoff_status=draw(st.sampled_from([None, "complete", "incomplete"])),
        customer_goal=draw(st.sampled_from([None, "Grow {share} by 15% in DACH", "n/a"])),
    )
    return make_deal(
        provider=draw(st.sampled_from(list(Provider))),
        id=deal_id,
        is_won=draw(st.integers(0, 5)) > 0,
        stage="won-ish",
        close_date=close,
        owner=draw(st.sampled_from([None, make_owner()])),
        contacts=contacts,
        fields=fields,
    )


@st.composite
def scenarios(draw):
    ids = draw(st.lists(st.sampled_from(["1", "2", "17", "006Dn00000AbCdEFGH", "a:b c"]),
                        min_size=1, max_size=4, unique=True))
    deal_list = [draw(deals(deal_id)) for deal_id in ids]
    reports = {d.id: make_report(d.id, draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=3)))
               for d in deal_list}
    return deal_list, reports, draw(playbooks()), draw(nows)


def settle(deal_list, reports, playbook, now, ledger=None):
    result = plan(deal_list, reports, ledger or {}, FIELDMAP, playbook, now)
    return (result, apply_record_updates(result.plan, deal_list),
            apply_to_ledger(result.plan, ledger or {}, result.fingerprints))


def task_keys(result) -> list[str]:
    return [a.key for a in result.plan.actions if isinstance(a, CreateTask | UpdateTask | CloseTask | Skip)]


@given(scenarios())
def test_plan_is_deterministic_whatever_the_order_of_deals(scenario):
    deal_list, reports, playbook, now = scenario
    first = plan(deal_list, reports, {}, FIELDMAP, playbook, now)
    assert plan(list(reversed(deal_list)), reports, {}, FIELDMAP, playbook, now) == first


@given(scenarios())
def test_applying_a_plan_then_planning_again_yields_no_actions(scenario):
    deal_list, reports, playbook, now = scenario
    _, settled_deals, ledger = settle(deal_list, reports, playbook, now)
    again = plan(settled_deals, reports, ledger, FIELDMAP, playbook, now)
    assert again.plan.actions == ()


@given(scenarios(), st.integers(0, 3))
def test_a_settled_plan_stays_settled_until_the_deal_changes_or_a_revisit_is_due(scenario, days_later):
    deal_list, reports, playbook, now = scenario
    first, settled_deals, ledger = settle(deal_list, reports, playbook, now)
    later = now + dt.timedelta(days=days_later)
    if any(at <= later for at in first.revisit.values()):
        return  # a new renewal cycle legitimately starts
    assert plan(settled_deals, reports, ledger, FIELDMAP, playbook, later).plan.actions == ()


@given(scenarios())
def test_keys_are_unique_in_a_plan_belong_to_their_deal_and_are_stable_across_runs(scenario):
    deal_list, reports, playbook, now = scenario
    actions = [a for a in plan(deal_list, reports, {}, FIELDMAP, playbook, now).plan.actions
               if isinstance(a, CreateTask | UpdateTask | CloseTask | Skip)]
    keys = [a.key for a in actions]
    assert len(keys) == len(set(keys))
    assert all(parse_key(a.key).belongs_to(a.deal_id) for a in actions)
    assert task_keys(plan(deal_list, reports, {}, FIELDMAP, playbook, now)) == keys


@given(scenarios())
def test_first_plan_never_creates_a_task_more_than_catch_up_days_overdue(scenario):
    deal_list, reports, playbook, now = scenario
    today = local_today(now, playbook)
    for action in plan(deal_list, reports, {}, FIELDMAP, playbook, now).plan.actions:
        if isinstance(action, CreateTask):
            assert (today - action.spec.due_date).days <= playbook.catch_up_days


@given(scenarios())
def test_lost_deals_only_ever_get_their_tasks_closed(scenario):
    deal_list, reports, playbook, now = scenario
    lost = {d.id for d in deal_list if not d.is_won}
    actions = plan(deal_list, reports, {}, FIELDMAP, playbook, now).plan.actions
    assert all(isinstance(a, CloseTask) for a in actions if a.deal_id in lost)


@settings(max_examples=150)
@given(scenarios(), st.integers(-20, 20), st.integers(-20, 20))
def test_moving_close_or_renewal_date_reschedules_and_never_duplicates(scenario, close_shift, renewal_shift):
    deal_list, reports, playbook, now = scenario
    _, settled_deals, ledger = settle(deal_list, reports, playbook, now)
    moved = [_shift_dates(d, close_shift, renewal_shift) for d in settled_deals]
    result = plan(moved, reports, ledger, FIELDMAP, playbook, now)
    status = {e.key: e.status for entries in ledger.values() for e in entries}
    for action in result.plan.actions:
        if isinstance(action, CreateTask):
            # a known key is only ever created again when it was skipped as overdue before
            assert status.get(action.key, EntryStatus.SKIPPED) is EntryStatus.SKIPPED
            if action.spec.touch_point in CLOSE_ANCHORED:
                assert status.get(action.key) is EntryStatus.SKIPPED
        if isinstance(action, UpdateTask):
            assert status[action.key] is EntryStatus.OPEN


def _shift_dates(deal: Deal, close_shift: int, renewal_shift: int) -> Deal:
    if deal.close_date is None:
        return deal
    renewal = deal.value("renewal_date")
    fields = dict(deal.fields)
    with contextlib.suppress(TypeError, ValueError):  # empty or garbage stays as it is
        fields["renewal_date"] = (dt.date.fromisoformat(renewal) + dt.timedelta(days=renewal_shift)).isoformat()
    return dataclasses.replace(deal, close_date=deal.close_date + dt.timedelta(days=close_shift), fields=fields)
