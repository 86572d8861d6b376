"""Referral lifecycle and the promoter/detractor tasks: every transition, idempotent keys."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.actions import CreateTask, Skip, UpdateRecord
from connector.model import Priority, RecordKind, TaskType
from jobs.core.keys import MAX_KEY_LENGTH, parse_key
from jobs.core.ledger_view import EntryStatus, LedgerEntry
from jobs.core.nps import (
    DETRACTOR_TOUCH_POINT,
    REFERRAL_ASK_TOUCH_POINT,
    KnownAccount,
    NpsPolicy,
    ReferralEvidence,
    ReferralStatus,
    next_referral_status,
    nps_task_key,
    parse_status,
    plan_nps,
)
from tests.builders import at, make_deal
from tests.unit.test_nps_core import ACCOUNT, NOW, matched, nps_fieldmap, response, snapshot, updates

S = ReferralStatus
ALL_EVIDENCE = {
    "nothing": ReferralEvidence(),
    "promoter": ReferralEvidence(latest_category="promoter", latest_score=10),
    "passive": ReferralEvidence(latest_category="passive", latest_score=8),
    "detractor": ReferralEvidence(latest_category="detractor", latest_score=2),
    "ask completed": ReferralEvidence(ask_completed=True),
    "referral won": ReferralEvidence(referred_by_deal="2001"),
    "ask completed + passive": ReferralEvidence(ask_completed=True, latest_category="passive", latest_score=7),
    "referral won + detractor": ReferralEvidence(referred_by_deal="2001", latest_category="detractor"),
}
# The lifecycle as the product defines it (docs/nps.md): status before -> evidence -> status after.
EXPECTED = {
    S.NOT_ELIGIBLE: {"nothing": S.NOT_ELIGIBLE, "promoter": S.ELIGIBLE, "passive": S.NOT_ELIGIBLE,
                     "detractor": S.NOT_ELIGIBLE, "ask completed": S.NOT_ELIGIBLE, "referral won": S.REFERRED,
                     "ask completed + passive": S.NOT_ELIGIBLE, "referral won + detractor": S.REFERRED},
    S.ELIGIBLE: {"nothing": S.ELIGIBLE, "promoter": S.ELIGIBLE, "passive": S.NOT_ELIGIBLE,
                 "detractor": S.NOT_ELIGIBLE, "ask completed": S.ASKED, "referral won": S.REFERRED,
                 "ask completed + passive": S.ASKED, "referral won + detractor": S.REFERRED},
    S.ASKED: {"nothing": S.ASKED, "promoter": S.ASKED, "passive": S.ASKED, "detractor": S.NOT_ELIGIBLE,
              "ask completed": S.ASKED, "referral won": S.REFERRED, "ask completed + passive": S.ASKED,
              "referral won + detractor": S.REFERRED},
    S.REFERRED: {name: S.REFERRED for name in ALL_EVIDENCE},
    S.DECLINED: {name: S.DECLINED for name in ALL_EVIDENCE},
}


@pytest.mark.parametrize("before", list(S))
@pytest.mark.parametrize("evidence", list(ALL_EVIDENCE))
def test_referral_transition_table(before, evidence):
    transition = next_referral_status(before, ALL_EVIDENCE[evidence])
    assert transition.after is EXPECTED[before][evidence]
    assert transition.reason


evidence_strategy = st.builds(
    ReferralEvidence,
    latest_category=st.sampled_from([None, "promoter", "passive", "detractor"]),
    ask_completed=st.booleans(),
    referred_by_deal=st.sampled_from([None, "2001"]),
)


@given(evidence_strategy)
def test_given_owner_declined_then_no_evidence_ever_changes_it(evidence):
    transition = next_referral_status(S.DECLINED, evidence)
    assert transition.after is S.DECLINED
    assert "never overwrites" in transition.reason


@given(evidence_strategy)
def test_given_referred_then_it_stays_referred(evidence):
    assert next_referral_status(S.REFERRED, evidence).after is S.REFERRED


@pytest.mark.parametrize(("raw", "status"), [
    (None, S.NOT_ELIGIBLE), ("", S.NOT_ELIGIBLE), ("Eligible", S.ELIGIBLE), (" not eligible ", S.NOT_ELIGIBLE),
    ("declined", S.DECLINED), ("do not ask", None),
])
def test_stored_status_is_read_leniently_and_unknown_values_are_not_guessed(raw, status):
    assert parse_status(raw) is status


# --- through plan_nps ---------------------------------------------------------------------------


def tasks(actions) -> list[CreateTask]:
    return [a for a in actions if isinstance(a, CreateTask)]


def entry_for(action: CreateTask, status: EntryStatus = EntryStatus.OPEN) -> LedgerEntry:
    spec = action.spec
    return LedgerEntry(key=spec.key, deal_id=spec.deal_id, touch_point=spec.touch_point, cycle=0,
                       crm_id="t-1", due_at=spec.due_at, status=status)


def with_status(status: str) -> KnownAccount:
    return dataclasses.replace(ACCOUNT, referral_status=status)


def test_given_detractor_then_high_priority_call_due_next_business_day_for_the_account_owner():
    actions = plan_nps(matched(response(3, comment="Onboarding was slow")), snapshot(), nps_fieldmap(),
                       NpsPolicy(), NOW)
    [task] = tasks(actions)
    spec = task.spec
    assert (spec.priority, spec.type, spec.owner_id) == (Priority.HIGH, TaskType.CALL, "owner-9")
    assert spec.due_at == at(2026, 3, 11, 9)  # Tuesday -> Wednesday 09:00 in the playbook zone
    assert (spec.deal_id, spec.company_id, spec.contact_id) == ("1001", "company-1", "contact-1")
    assert "NPS 3 (detractor)" in spec.subject
    assert "Onboarding was slow" in spec.body
    assert "maria.garcia@acme.example answered 3 (detractor)" in task.reason


def test_given_detractor_on_friday_then_follow_up_due_monday():
    friday = at(2026, 3, 13, 16)
    [task] = tasks(plan_nps(matched(response(0, when=friday)), snapshot(), nps_fieldmap(), NpsPolicy(), friday))
    assert task.spec.due_at == at(2026, 3, 16, 9)


def test_given_eligible_account_and_detractor_then_status_not_eligible_with_date():
    actions = plan_nps(matched(response(4)), snapshot(with_status("eligible")), nps_fieldmap(), NpsPolicy(), NOW)
    values = updates(actions)[(RecordKind.DEAL, "1001")]
    assert (values["referral_status"], values["referral_status_date"]) == ("not_eligible", "2026-03-10")


def test_given_promoter_then_account_eligible_and_owner_asked_to_request_a_referral():
    actions = plan_nps(matched(response(10)), snapshot(), nps_fieldmap(), NpsPolicy(), NOW)
    assert updates(actions)[(RecordKind.DEAL, "1001")]["referral_status"] == "eligible"
    [task] = tasks(actions)
    assert parse_key(task.key).touch_point.startswith(REFERRAL_ASK_TOUCH_POINT)
    assert (task.spec.priority, task.spec.owner_id) == (Priority.NORMAL, "owner-9")
    assert task.spec.due_at == at(2026, 3, 12, 9)  # two business days
    assert task.spec.subject == "Ask Acme Corp for a referral (NPS 10)"


def test_given_same_promoter_response_on_the_next_run_then_no_second_task():
    first = tasks(plan_nps(matched(response(10)), snapshot(), nps_fieldmap(), NpsPolicy(), NOW))
    ledger = {t.key: entry_for(t) for t in first}
    again = plan_nps(matched(response(10)), snapshot(with_status("eligible"), ledger=ledger), nps_fieldmap(),
                     NpsPolicy(), NOW + dt.timedelta(days=1))
    assert tasks(again) == []


def test_given_ask_task_completed_then_status_moves_to_asked():
    [ask] = tasks(plan_nps(matched(response(10)), snapshot(), nps_fieldmap(), NpsPolicy(), NOW))
    ledger = {ask.key: entry_for(ask, EntryStatus.COMPLETED)}
    actions = plan_nps([], snapshot(with_status("eligible"), ledger=ledger), nps_fieldmap(), NpsPolicy(), NOW)
    values = updates(actions)[(RecordKind.DEAL, "1001")]
    assert values["referral_status"] == "asked"
    assert tasks(actions) == []


def test_given_second_promoter_answer_while_ask_is_open_then_no_second_ask():
    [ask] = tasks(plan_nps(matched(response(10)), snapshot(), nps_fieldmap(), NpsPolicy(), NOW))
    ledger = {ask.key: entry_for(ask)}
    newer = response(9, rid="r-2", when=at(2026, 3, 10, 7))
    actions = plan_nps(matched(newer), snapshot(with_status("eligible"), ledger=ledger), nps_fieldmap(),
                       NpsPolicy(), NOW)
    assert tasks(actions) == []


def test_given_detractor_then_new_promoter_then_a_new_ask_under_a_new_key():
    [old_ask] = tasks(plan_nps(matched(response(10)), snapshot(), nps_fieldmap(), NpsPolicy(), NOW))
    ledger = {old_ask.key: entry_for(old_ask, EntryStatus.COMPLETED)}
    later = at(2026, 6, 1, 10)
    actions = plan_nps(matched(response(10, rid="r-3", when=later)), snapshot(with_status("not_eligible"),
                       ledger=ledger), nps_fieldmap(), NpsPolicy(), later)
    assert updates(actions)[(RecordKind.DEAL, "1001")]["referral_status"] == "eligible"
    [new_ask] = tasks(actions)
    assert new_ask.key != old_ask.key


def test_given_won_deal_names_a_contact_of_the_account_as_referrer_then_referred():
    referred = make_deal(id="2001", company=None, fields={"referred_by": "Maria.Garcia@acme.example"})
    actions = plan_nps([], snapshot(with_status("asked"), deals=[make_deal(), referred]), nps_fieldmap(),
                       NpsPolicy(), NOW)
    update = next(a for a in actions if isinstance(a, UpdateRecord))
    assert update.update.values["referral_status"] == "referred"
    assert "won deal 2001 names this customer as its referrer" in update.reason


def test_given_owner_declined_then_status_kept_but_detractor_still_followed_up():
    actions = plan_nps(matched(response(2)), snapshot(with_status("declined")), nps_fieldmap(), NpsPolicy(), NOW)
    assert updates(actions)[(RecordKind.DEAL, "1001")]["referral_status"] == "declined"
    assert [parse_key(t.key).touch_point.startswith(DETRACTOR_TOUCH_POINT) for t in tasks(actions)] == [True]


def test_given_declined_promoter_then_no_referral_ask():
    actions = plan_nps(matched(response(10)), snapshot(with_status("declined")), nps_fieldmap(), NpsPolicy(), NOW)
    assert tasks(actions) == []


def test_given_unknown_status_in_crm_then_left_alone_and_no_ask():
    deal = make_deal(fields={"referral_status": "do not ask"})
    account = dataclasses.replace(ACCOUNT, referral_status=None)
    actions = plan_nps(matched(response(10)), snapshot(account, deals=[deal]), nps_fieldmap(), NpsPolicy(), NOW)
    assert "referral_status" not in updates(actions)[(RecordKind.DEAL, "1001")]
    assert tasks(actions) == []


def test_given_response_older_than_task_max_age_then_task_skipped_with_reason():
    old = response(1, when=at(2025, 12, 1))
    actions = plan_nps(matched(old), snapshot(), nps_fieldmap(), NpsPolicy(task_max_age_days=30), NOW)
    [skip] = [a for a in actions if isinstance(a, Skip)]
    assert "98 days old (more than task_max_age_days = 30)" in skip.reason
    assert tasks(actions) == []


def test_given_skipped_key_in_ledger_then_not_skipped_again():
    old = response(1, when=at(2025, 12, 1))
    [skip] = [a for a in plan_nps(matched(old), snapshot(), nps_fieldmap(), NpsPolicy(), NOW) if isinstance(a, Skip)]
    ledger = {skip.key: LedgerEntry(key=skip.key, deal_id="1001", touch_point=parse_key(skip.key).touch_point,
                                    cycle=0, crm_id=None, due_at=None, status=EntryStatus.SKIPPED)}
    again = plan_nps(matched(old), snapshot(ledger=ledger), nps_fieldmap(), NpsPolicy(), NOW)
    assert [a for a in again if isinstance(a, Skip | CreateTask)] == []


def test_given_mapping_template_for_the_touch_point_then_it_is_used():
    from connector.mapping import TaskTemplate
    fieldmap = nps_fieldmap()
    templates = dict(fieldmap.templates)
    templates[DETRACTOR_TOUCH_POINT] = TaskTemplate(subject="Rescue {company_name} ({nps_score})", body="{deal_name}")
    fieldmap = dataclasses.replace(fieldmap, templates=templates)
    [task] = tasks(plan_nps(matched(response(1)), snapshot(), fieldmap, NpsPolicy(), NOW))
    assert task.spec.subject == "Rescue Acme Corp (1)"


# --- keys ------------------------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=300), st.text(alphabet="0123456789abcdefXYZ-_", min_size=1, max_size=80))
def test_task_keys_are_stable_valid_and_fit_the_crm_field(response_id, account_id):
    for touch_point in (DETRACTOR_TOUCH_POINT, REFERRAL_ASK_TOUCH_POINT):
        key = nps_task_key("hubspot", account_id, touch_point, response_id)
        assert key == nps_task_key("hubspot", account_id, touch_point, response_id)
        assert len(key) <= MAX_KEY_LENGTH
        assert parse_key(key).touch_point.startswith(touch_point + "_")


@given(st.lists(st.text(min_size=1, max_size=40), min_size=2, max_size=20, unique=True))
def test_different_responses_never_share_a_task_key(response_ids):
    keys = {nps_task_key("salesforce", "001A", DETRACTOR_TOUCH_POINT, rid) for rid in response_ids}
    assert len(keys) == len(response_ids)


@given(st.integers(min_value=0, max_value=10), st.integers(min_value=1, max_value=5))
def test_replaying_the_same_response_never_creates_a_second_task(score, runs):
    ledger: dict[str, LedgerEntry] = {}
    created = 0
    status = None
    for run in range(runs):
        account = dataclasses.replace(ACCOUNT, referral_status=status)
        actions = plan_nps(matched(response(score)), snapshot(account, ledger=ledger), nps_fieldmap(), NpsPolicy(),
                           NOW + dt.timedelta(hours=run))
        for task in tasks(actions):
            created += 1
            ledger[task.key] = entry_for(task)
        for action in actions:
            if isinstance(action, UpdateRecord) and "referral_status" in action.update.values:
                status = action.update.values["referral_status"]
    assert created == (1 if score <= 6 or score >= 9 else 0)
