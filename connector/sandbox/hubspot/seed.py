"""Loads a ``DemoDataset`` into the sandbox, deterministically (ids in load order).

Mapping (canonical demo field -> HubSpot property):
- deal stage "won"/"open"/"lost" -> the pipeline's won stage / first open stage / lost stage
  (``custom_pipeline`` -> the Partner Channel pipeline with numeric stage ids);
- ``close_date`` -> ``closedate`` (datetime, midnight UTC); ``modified_at`` -> ``hs_lastmodifieddate``;
- handoff fields -> same-named deal properties; ``renewal_date`` -> date ``YYYY-MM-DD``. A value the
  property type cannot hold (the demo's "next spring" renewal) is left empty: HubSpot would refuse it;
- ``deal_type`` -> ``dealtype`` (newbusiness, existingbusiness, and the portal's added renewal);
- company -> primary company association (type 5, plus the unlabeled 341 HubSpot adds);
- contacts -> deal-contact association 3 plus a USER_DEFINED label naming the role, and the label
  "Primary Contact" for the primary one (see association_types.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc

from connector.sandbox.demo import DemoDataset, DemoDeal
from connector.sandbox.hubspot import association_types as at
from connector.sandbox.hubspot import timefmt
from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.objects import link
from connector.sandbox.hubspot.portal import DEFAULT_PIPELINE, PARTNER_PIPELINE, Owner
from connector.sandbox.hubspot.schema import Stored, ValueProblem, normalise

OWNER_ID_BASE, USER_ID_BASE = 70_000_001, 91_000_001
DEAL_TYPES = {"new": "newbusiness", "expansion": "existingbusiness", "renewal": "renewal"}
"""Demo deal types as HubSpot's Deal type holds them; "renewal" is an option the demo portal added
(HubSpot ships only New Business and Existing Business)."""
_DAY_MS = 86_400_000


@contextlib.contextmanager
def _bulk() -> contextlib.AbstractContextManager[None]:
    """Hundreds of thousands of small dicts: the cyclic GC would rescan them all, again and again,
    making a 50,000-deal load quadratic. None of them form cycles, so pause it, then freeze them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def load(b: Backend, data: DemoDataset, ids: dict[str, dict[int, str]]) -> None:
    with _bulk():
        _load(b, data, ids)


def _load(b: Backend, data: DemoDataset, ids: dict[str, dict[int, str]]) -> None:
    portal_start = timefmt.ms_from_date(data.anchor) - 800 * _DAY_MS
    with b.store.lock, b.store.indexed_at_once():
        for owner in data.owners:
            owner_id = str(OWNER_ID_BASE + owner.key)
            b.owners[owner_id] = Owner(id=owner_id, email=owner.email, first_name=owner.first_name,
                                       last_name=owner.last_name, user_id=USER_ID_BASE + owner.key,
                                       active=owner.active, created_ms=portal_start)
            ids["owners"][owner.key] = owner_id
        for n, company in enumerate(data.companies):
            created = portal_start + n * 1000
            rec = b.store.insert("companies", _values(b, "companies", {"name": company.name, "domain": company.domain}),
                                 created_ms=created, source="IMPORT")
            ids["companies"][company.key] = str(rec.id)
        for n, contact in enumerate(data.contacts):
            created = portal_start + 200 * _DAY_MS + n * 1000
            values = _values(b, "contacts", {"firstname": contact.first_name, "lastname": contact.last_name,
                                             "email": contact.email,
                                             "company": data.companies[contact.company].name})
            rec = b.store.insert("contacts", values, created_ms=created, source="IMPORT")
            ids["contacts"][contact.key] = str(rec.id)
            company_id = int(ids["companies"][contact.company])
            link(b, "contacts", rec.id, "companies", company_id, at.lookup("contacts", "companies", at.HUBSPOT, 1))
        for n, deal in enumerate(data.deals):
            _load_deal(b, deal, ids, created_ms=portal_start + 400 * _DAY_MS + n * 1000)


def _values(b: Backend, type_name: str, raw: dict[str, object]) -> dict[str, Stored | None]:
    schema = b.store.schema[type_name]
    out = {}
    for name, value in raw.items():
        if name not in schema:
            continue  # e.g. AfterClose's own properties when the portal was seeded without them
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = value.isoformat()
        try:
            out[name] = normalise(schema[name], value)
        except ValueProblem:
            out[name] = None  # a value this property type cannot hold stays empty (see module doc)
    return out


def _load_deal(b: Backend, deal: DemoDeal, ids: dict, *, created_ms: int) -> None:
    pipeline = PARTNER_PIPELINE if deal.custom_pipeline else DEFAULT_PIPELINE
    stage = {"won": pipeline.won_stage, "lost": pipeline.lost_stage}.get(deal.stage, pipeline.first_open_stage)
    close_ms = timefmt.ms_from_date(deal.close_date)
    raw = {"dealname": deal.name, "amount": deal.amount, "closedate": close_ms, "pipeline": pipeline.id,
           "dealstage": stage.id, "hubspot_owner_id": ids["owners"].get(deal.owner),
           "dealtype": DEAL_TYPES.get(deal.deal_type or "")} | dict(deal.fields)
    values = _values(b, "deals", raw)
    values["hs_is_closed_won"] = Stored("true" if stage.won else "false")
    values["hs_is_closed"] = Stored("true" if stage.closed else "false")
    modified = timefmt.ms_from_datetime(deal.modified_at)
    rec = b.store.insert("deals", values, created_ms=min(created_ms, modified), modified_ms=modified,
                         source="IMPORT")
    ids["deals"][deal.key] = str(rec.id)
    if deal.company is not None:
        link(b, "deals", rec.id, "companies", int(ids["companies"][deal.company]),
             at.lookup("deals", "companies", at.HUBSPOT, 5))
    for role in deal.contacts:
        contact_id = int(ids["contacts"][role.contact])
        link(b, "deals", rec.id, "contacts", contact_id, at.label_type("deals", "contacts", role.role))
        if role.primary:
            link(b, "deals", rec.id, "contacts", contact_id,
                 at.label_type("deals", "contacts", at.PRIMARY_CONTACT_LABEL))
