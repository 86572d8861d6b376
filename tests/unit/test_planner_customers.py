"""Renewals follow the renewal deal: a customer with a renewal deal has one renewal ladder."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.actions import CloseTask, CreateTask, UpdateTask
from jobs.core.customers import CustomerBook
from jobs.core.ledger_view import EntryStatus
from jobs.core.planner import plan
from tests.builders import (
    apply_record_updates,
    apply_to_ledger,
    at,
    complete_fields,
    make_company,
    make_deal,
    reports_for,
)
from tests.unit.test_planner_playbooks import FIELDMAP, SET

D = dt.date
NOW = at(2026, 3, 2)
LADDER = ("renewal_planning", "renewal_review", "renewal_proposal", "renewal_decision")


def deal(deal_id: str, close: dt.date, deal_type: str | None, company: str = "acme", **kw):
    fields = complete_fields(handoff_status="complete", deal_type=deal_type)
    return make_deal(id=deal_id, close_date=close, company=make_company(id=company) if company else None,
                     fields=fields, **kw)


def run(deals, ledger=None, *, now=NOW, book=None):
    deals = list(deals)
    return plan(deals, reports_for(deals), ledger or {}, FIELDMAP, SET, now, customers=book)


def ladder_of(result) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for action in result.plan.actions:
        if isinstance(action, CreateTask) and action.spec.touch_point in LADDER:
            out.setdefault(action.deal_id, []).append(action.key)
    return out


def test_given_an_earlier_deal_and_its_renewal_deal_then_only_the_renewal_deal_plans_the_renewal_ladder():
    first = deal("1", D(2024, 6, 1), "newbusiness")
    renewal = deal("2", D(2025, 6, 1), "renewal")
    result = run([first, renewal])
    assert set(ladder_of(result)) == {"2"}
    # Renewing on 2026-06-01: the planning step (due 1 February) is too late to create.
    assert ladder_of(result)["2"] == [f"ac1:hubspot:2:{tp}:1" for tp in LADDER[1:]]
    note = result.notes["1"][0]
    assert note == ("the renewal deal 'Acme Corp - Platform 2026' (2) carries this customer's renewals from its close "
                    "on 2025-06-01: nothing due from then on is planned for this deal")
    assert "1" not in result.revisit  # nothing left to plan for it: no renewal cycles to revisit


def test_given_a_renewal_deal_signed_early_then_the_earlier_deals_open_ladder_tasks_due_later_are_retired():
    first = deal("1", D(2025, 4, 1), "newbusiness")  # renewal 2026-04-01, its ladder planned from 2025-12-02
    result = run([first], now=at(2025, 12, 1))
    ledger = apply_to_ledger(result.plan, {}, result.fingerprints)
    signed = deal("2", D(2026, 1, 15), "renewal")  # signed before the renewal date
    stored = CustomerBook.of(result.customers)
    woken = run([signed], ledger, now=at(2026, 1, 15), book=stored)
    assert woken.later == {"1"} and woken.revisit["1"] == at(2026, 1, 15)
    again = run([first, signed], ledger, now=at(2026, 1, 15, hour=13), book=stored.with_deals(woken.customers))
    retired = {a.key for a in again.plan.actions if isinstance(a, UpdateTask) and a.deal_id == "1"}
    assert retired == {"ac1:hubspot:1:renewal_proposal:1", "ac1:hubspot:1:renewal_decision:1"}  # due 1 Feb, 2 Mar
    assert "ac1:hubspot:1:renewal_planning:1" not in retired  # due 2 December: the rep has had it, it stays
    reason = next(a.reason for a in again.plan.actions if a.key == "ac1:hubspot:1:renewal_decision:1")
    assert "the renewal deal 'Acme Corp - Platform 2026' carries this customer's renewals from 2026-01-15" in reason


def test_given_the_renewal_deal_is_lost_then_the_earlier_deal_plans_its_renewals_again():
    first, renewal = deal("1", D(2024, 3, 1), "newbusiness"), deal("2", D(2025, 2, 20), "renewal")
    lost = dataclasses.replace(renewal, is_won=False, stage="closedlost")
    result = run([first, lost])
    assert set(ladder_of(result)) == {"1"}


def test_given_a_later_deal_that_is_not_a_renewal_then_the_earlier_deal_keeps_its_renewals():
    result = run([deal("1", D(2024, 3, 1), "newbusiness"), deal("2", D(2025, 8, 1), "existingbusiness")])
    assert set(ladder_of(result)) == {"1"}


def test_given_deals_of_different_customers_then_a_renewal_deal_takes_nothing_over_across_them():
    result = run([deal("1", D(2024, 3, 1), "newbusiness", company="acme"),
                  deal("2", D(2025, 2, 20), "renewal", company="globex")])
    assert set(ladder_of(result)) == {"1", "2"}


def test_given_an_incomplete_book_then_renewal_touch_points_wait_and_the_deal_is_named_for_later():
    first = deal("1", D(2026, 2, 26), "newbusiness")
    result = run([first], book=CustomerBook(complete=False))
    created = {a.spec.touch_point for a in result.plan.actions if isinstance(a, CreateTask)}
    assert created == {"kickoff", "onboarding_checkup", "value_review_30", "nps_checkin_60", "business_review_90"}
    assert result.later == {"1"} and result.revisit["1"] == NOW
    assert "wait until every won deal has been read once" in result.notes["1"][-1]
    alone = run([deal("3", D(2026, 2, 26), "newbusiness", company=None)], book=CustomerBook(complete=False))
    assert alone.later == frozenset()  # a deal without a company is a customer of its own: nothing can take over


# --- the property: one renewal ladder per customer with a renewal deal ----------------------------


@st.composite
def customers(draw):
    count = draw(st.integers(1, 5))
    return [deal(str(n), draw(st.dates(D(2022, 1, 1), D(2026, 3, 1))),
                 draw(st.sampled_from(["newbusiness", "renewal", "existingbusiness", None])),
                 company=draw(st.sampled_from(["acme", "acme", "globex"])),
                 is_won=draw(st.integers(0, 6)) > 0)
            for n in range(count)]


@settings(max_examples=150, deadline=None)
@given(customers(), st.integers(0, 400))
def test_a_customer_with_a_renewal_deal_has_one_renewal_ladder_ahead(deals, days_later):
    now = NOW + dt.timedelta(days=days_later)
    result = run(deals, now=now)
    ledger = apply_to_ledger(result.plan, {}, result.fingerprints)
    ledger = {deal_id: entries for deal_id, entries in ledger.items()}
    again = run(apply_record_updates(result.plan, deals), ledger, now=now)
    assert not [a for a in again.plan.actions if isinstance(a, CreateTask | CloseTask)]
    ahead = {e.deal_id for entries in ledger.values() for e in entries
             if e.status is EntryStatus.OPEN and e.touch_point in LADDER and e.due_at and e.due_at > now}
    for company in {d.company.id for d in deals}:
        renewal_deals = [d for d in deals if d.company.id == company and d.is_won
                         and d.value("deal_type") == "renewal"]
        if not renewal_deals:
            continue
        latest = max(renewal_deals, key=lambda d: (d.close_date, d.id))
        carriers = {d.id for d in deals if d.company.id == company and d.id in ahead}
        # Only the latest renewal deal, or a deal closed after it (which its customer bought later), plans ahead.
        assert all(i == latest.id or next(d for d in deals if d.id == i).close_date >= latest.close_date
                   for i in carriers)
        older = [d for d in deals if d.company.id == company and d.close_date < latest.close_date]
        assert not {d.id for d in older} & carriers
