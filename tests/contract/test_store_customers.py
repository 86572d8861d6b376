"""The customer book, on SQLite and PostgreSQL: what is remembered of each deal's customer and
playbook, read back by company, and the playbook a deal had before."""

from __future__ import annotations

import datetime as dt

from jobs.core.customers import CustomerDeal
from jobs.state import open_store

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def fact(deal_id: str, company: str | None, playbook: str = "new_business", **kw) -> CustomerDeal:
    values = dict(deal_id=deal_id, company_id=company, name=f"Deal {deal_id}", close_date=dt.date(2025, 6, 1),
                  won=True, playbook=playbook, renewal_deal=playbook == "renewal", because="no other playbook's "
                  "condition holds")
    return CustomerDeal(**(values | kw))


def test_given_facts_remembered_then_they_read_back_by_company_and_per_scope(store_url):
    with open_store(store_url) as store:
        store.remember_customer_deals("hubspot:a", [fact("1", "acme"), fact("2", "acme", "renewal"),
                                                    fact("3", "globex"), fact("4", None)])
        store.remember_customer_deals("hubspot:b", [fact("9", "acme")])
        found = sorted(store.customer_deals("hubspot:a", ["acme"]), key=lambda d: d.deal_id)
        assert found == [fact("1", "acme"), fact("2", "acme", "renewal")]
        assert store.customer_deals("hubspot:a", []) == []
        assert store.customer_deal("hubspot:a", "4").deal == fact("4", None)


def test_given_a_deal_changes_playbook_then_the_previous_one_and_since_when_are_kept(store_url):
    times = iter([T0, T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=2)])
    with open_store(store_url, clock=lambda: next(times)) as store:
        store.remember_customer_deals("s:1", [fact("1", "acme", "new_business")])
        store.remember_customer_deals("s:1", [fact("1", "acme", "expansion", because="deal_type is 'x'")])
        store.remember_customer_deals("s:1", [fact("1", "acme", "expansion", because="deal_type is 'x'")])
        stored = store.customer_deal("s:1", "1")
    assert (stored.deal.playbook, stored.previous_playbook) == ("expansion", "new_business")
    assert stored.since == T0 + dt.timedelta(days=1) and stored.deal.because == "deal_type is 'x'"
