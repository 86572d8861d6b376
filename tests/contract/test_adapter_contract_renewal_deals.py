"""Renewal deals over every CRM (connector.port.SupportsDealCreation): ``CreateDeal`` makes one deal
with the planned stage, pipeline, owner, amount, close date and type, linked to the company and
the main contact; a second create of the key (a re-run, a new process) makes nothing; the deal,
once won, is one the built-in playbook set takes for a renewal deal. HubSpot runs as a portal
that refuses unique task keys, one that grants them, and one whose deal key property was made
without unique values (the lookup-first path, connector/hubspot/deal_creates.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from connector.actions import CreateDeal, Outcome
from connector.hubspot import HubSpotAdapter
from connector.model import RENEWAL_DEAL_KEY, Deal
from connector.port import SupportsDealCreation
from jobs.config import Settings
from jobs.core.planned import RenewalCycle
from jobs.core.renewal_deals import RenewalDealRule, decide
from jobs.playbooks import build_playbooks
from tests.builders import RENEWAL_DEAL_TARGET, renewal_deal_mapping
from tests.contract.conftest import CRMS, open_crm_harness
from tests.contract.hubspot_harness import FAST_RETRY
from tests.jobs.test_playbooks_config import _credentials

VARIANTS = [*CRMS, "hubspot-refuse+plain-deal-key"]
TODAY = dt.date(2026, 3, 2)
TARGET = RENEWAL_DEAL_TARGET


@pytest.fixture(params=VARIANTS)
def crm(request):
    name, _, variant = request.param.partition("+")
    provider = name.partition("-")[0]
    fieldmap = renewal_deal_mapping("hubspot" if provider == "fake" else provider)
    with open_crm_harness(name, fieldmap=fieldmap) as h:
        if variant == "plain-deal-key":  # an admin made the property by hand, without unique values
            h.sandbox.define_property("deals", "afterclose_renewal_key")
        h.adapter.setup()
        h.variant = variant
        yield h


def fresh_adapter(h):
    """Another process on the same CRM: nothing in memory from the first."""
    if h.provider == "fake":
        return h.adapter.connect()
    if h.provider == "salesforce":
        return h.new_adapter()
    return HubSpotAdapter(settings=h.adapter.settings, fieldmap=h.adapter.fieldmap, retry=FAST_RETRY)


def read(adapter, deal_id: str) -> Deal:
    [deal] = [d for stamps in adapter.scan_ids([deal_id]) for d in adapter.enrich(stamps)]
    return deal


def won_customer_deal(h) -> Deal:
    """A won deal with a company, a primary contact, an active owner and an amount."""
    for deal_id in sorted(h.won_deal_ids()):
        deal = read(h.adapter, deal_id)
        if deal.company and deal.main_contact and deal.owner and deal.owner.active and deal.amount:
            return deal
    raise AssertionError("the demo data set has no such deal")


def planned(h, deal: Deal) -> CreateDeal:
    stage, pipeline, deal_type = TARGET[h.provider]
    rule = RenewalDealRule(days_before=90, stage=stage, pipeline=pipeline, deal_type=deal_type)
    renewal = RenewalCycle(number=1, renewal_date=TODAY + dt.timedelta(days=30), source="the test")
    decision = decide(deal, rule, renewal, TODAY, ends=None, known_keys=set(), fallback_owner=None)
    assert decision.action is not None
    return decision.action


def test_given_a_create_deal_then_one_deal_with_the_planned_fields_and_links_and_once_won_it_is_a_renewal_deal(crm):
    assert isinstance(crm.adapter, SupportsDealCreation)
    source = won_customer_deal(crm)
    action = planned(crm, source)
    [result] = crm.adapter.apply([action])
    assert result.outcome is Outcome.CREATED and result.crm_id, result
    [made] = crm.renewal_deals()
    stage, pipeline, _ = TARGET[crm.provider]
    assert (made.key, made.crm_id, made.stage) == (action.key, result.crm_id, stage)
    assert crm.provider == "salesforce" or made.pipeline == pipeline
    crm.mark_won(made.crm_id)
    deal = read(crm.adapter, made.crm_id)
    assert deal.name == action.spec.name and deal.close_date == action.spec.close_date
    assert Decimal(deal.amount) == Decimal(source.amount)
    assert deal.owner is not None and deal.owner.id == source.owner.id
    assert deal.company is not None and deal.company.id == source.company.id
    assert [c.id for c in deal.contacts] == [source.main_contact.id]
    assert deal.value(RENEWAL_DEAL_KEY) == action.key
    provider = crm.adapter.fieldmap.provider
    settings = Settings.from_mapping({"crm": {"provider": provider.value}, provider.value: _credentials(provider)})
    builtin = build_playbooks(settings, crm.adapter.fieldmap).set
    assert builtin.choose(deal).playbook.renewal_deal, builtin.choose(deal).because


def test_given_the_deal_was_made_then_creating_it_again_from_a_new_process_makes_nothing(crm):
    action = planned(crm, won_customer_deal(crm))
    [first] = crm.adapter.apply([action])
    again = fresh_adapter(crm)
    try:
        [second] = again.apply([action])
        assert again.find_deals([action.key]) in ({action.key: first.crm_id}, {})  # {}: key not unique, no search
    finally:
        again.close()
    assert second.outcome is Outcome.UNCHANGED and second.crm_id == first.crm_id, second
    assert [d.crm_id for d in crm.renewal_deals()] == [first.crm_id]


def test_given_a_stage_of_another_pipeline_or_a_closed_stage_then_the_target_check_names_it(crm):
    stage, pipeline, _ = TARGET[crm.provider]
    assert crm.adapter.deal_target_problems([(pipeline, stage)]) == []
    wrong = {  # (pipeline, stage) -> what the problem must name
        "fake": {("default", "won"): "'won'", ("nowhere", "open"): "'nowhere'"},
        "hubspot": {("default", "75310247"): "no stage with id '75310247'", ("default", "closedwon"): "closed stage",
                    ("nowhere", "appointmentscheduled"): "no deal pipeline with id 'nowhere'"},
        "salesforce": {(None, "Closed Won"): "closed stage", (None, "Prospectin"): "'Prospectin'",
                       ("default", "Prospecting"): "pipeline 'default'"},
    }[crm.provider]
    problems = crm.adapter.deal_target_problems(list(wrong))
    assert len(problems) == len(wrong), problems
    for named, line in zip(wrong.values(), problems, strict=True):
        assert named in line, line


def test_given_a_bad_owner_then_the_create_is_refused_with_the_crms_words_and_nothing_is_made(crm):
    action = planned(crm, won_customer_deal(crm))
    bad = dataclasses.replace(action, spec=dataclasses.replace(action.spec, owner_id="999999999" if crm.provider != (
        "salesforce") else "005000000000000AAA"))
    [result] = crm.adapter.apply([bad])
    assert result.outcome is Outcome.REJECTED and result.message, result
    assert crm.renewal_deals() == []


def test_hubspot_deal_keys_are_unique_where_setup_asked_and_plain_where_an_admin_made_the_property(crm):
    if crm.provider != "hubspot":
        pytest.skip("HubSpot only: the other CRMs enforce the key themselves")
    assert crm.adapter._deal_keys_unique() is (crm.variant != "plain-deal-key")
