"""Test data builders: plain values with sensible defaults, changed with keyword arguments.

Every builder returns a real model value (no mocks). Override only what a test is about, so the
test reads as the behaviour it checks::

    deal = make_deal(close_date=date(2024, 2, 29), fields=complete_fields(renewal_date=None))

``apply_to_ledger`` and ``apply_record_updates`` play the part of the CRM and the state store for
tests that run the planner more than once: they carry out a plan the way a successful run would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from connector.actions import CloseTask, CreateDeal, CreateTask, Plan, Skip, UpdateRecord, UpdateTask
from connector.mapping import (
    FieldMap,
    FieldSpec,
    FieldType,
    HandoffRule,
    RuleKind,
    TaskTemplate,
    builtin_mapping,
    parse_mapping,
)
from connector.model import Company, Contact, Deal, FieldValue, Owner, Provider, RecordKind
from jobs.core.handoff import Finding, HandoffReport
from jobs.core.keys import parse_key
from jobs.core.ledger_view import EntryStatus, LedgerEntry

UTC = dt.UTC
CLOSE_DATE = dt.date(2026, 3, 2)  # a Monday
HANDOFF_FIELDS = ("first_touch_channel", "decision_criteria", "customer_goal", "success_criteria")


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0, tz: str = "UTC") -> dt.datetime:
    """An aware datetime; ``tz`` is an IANA zone name."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz))


def make_owner(**overrides) -> Owner:
    values = dict(id="owner-1", email="ada.lovelace@vendor.example", name="Ada Lovelace")
    return Owner(**(values | overrides))


def make_company(**overrides) -> Company:
    return Company(**(dict(id="company-1", name="Acme Corp") | overrides))


def make_contact(**overrides) -> Contact:
    values = dict(id="contact-1", email="maria.garcia@acme.example", name="Maria Garcia",
                  role="Decision Maker", is_primary=True)
    return Contact(**(values | overrides))


def complete_fields(**overrides: FieldValue) -> dict[str, FieldValue]:
    """Handoff fields that pass the default rules; ``renewal_date`` empty unless given."""
    values: dict[str, FieldValue] = {
        "first_touch_channel": "Referral",
        "decision_criteria": "Total cost over three years, SSO, and an EU data centre",
        "customer_goal": "Cut support cost per ticket by a third before the next budget round",
        "success_criteria": "Weekly active users above 80% of seats by day 90",
        "renewal_date": None,
    }
    return values | overrides


def make_deal(**overrides) -> Deal:
    values = dict(
        provider=Provider.HUBSPOT,
        id="1001",
        name="Acme Corp - Platform 2026",
        stage="closedwon",
        is_won=True,
        close_date=CLOSE_DATE,
        last_modified=dt.datetime.combine(CLOSE_DATE, dt.time(8), UTC),
        amount="25000",
        owner=make_owner(),
        company=make_company(),
        contacts=(make_contact(),),
        fields=complete_fields(),
    )
    return Deal(**(values | overrides))


def with_fields(deal: Deal, **changes: FieldValue) -> Deal:
    """``deal`` with some mapped field values changed (None clears one)."""
    return dataclasses.replace(deal, fields={**deal.fields, **changes})


def make_report(deal_id: str = "1001", missing: Sequence[str] = ()) -> HandoffReport:
    """A handoff report; each label in ``missing`` becomes one finding."""
    findings = tuple(
        Finding(field=label.lower().replace(" ", "_"), label=label, reason="is missing") for label in missing
    )
    score = 100 if not findings else max(0, 100 - 20 * len(findings))
    return HandoffReport(deal_id=deal_id, complete=not findings, findings=findings, score=score)


def reports_for(deals: Iterable[Deal], missing: Mapping[str, Sequence[str]] | None = None) -> dict[str, HandoffReport]:
    """A report per deal: complete unless ``missing`` names labels for its id."""
    missing = missing or {}
    return {deal.id: make_report(deal.id, missing.get(deal.id, ())) for deal in deals}


def _field(canonical: str, crm: str, type_: FieldType, **extra) -> FieldSpec:
    return FieldSpec(canonical=canonical, record=RecordKind.DEAL, crm_name=crm, type=type_, **extra)


DEFAULT_TEMPLATE = TaskTemplate(
    subject="{touch_point_title}: {deal_name}",
    body=(
        "Customer goal: {customer_goal}\nSuccess criteria: {success_criteria}\n"
        "Stakeholders:\n{stakeholders}\nRenewal: {renewal_date} (cycle {cycle})\nDue: {due_date}"
    ),
)
HANDOFF_TEMPLATE = TaskTemplate(
    subject="Complete the handoff: {deal_name}",
    body="Customer success cannot take over yet. Missing: {missing_fields}",
)


def make_fieldmap(provider: Provider = Provider.HUBSPOT, *, templates: Mapping[str, TaskTemplate] | None = None,
                  write_back: bool = True, extra_fields: Sequence[FieldSpec] = ()) -> FieldMap:
    """A mapping like the built-in one, built in code so tests do not depend on the TOML files."""
    fields = [_field(name, name, FieldType.TEXT) for name in HANDOFF_FIELDS]
    fields += [
        _field("renewal_date", "renewal_date", FieldType.DATE),
        _field("handoff_status", "handoff_status", FieldType.ENUM, options=("complete", "incomplete"),
               write=write_back, afterclose_owned=True),
        _field("handoff_missing", "handoff_missing", FieldType.TEXT, write=write_back, afterclose_owned=True),
        *extra_fields,
    ]
    rules = tuple(HandoffRule(kind=RuleKind.REQUIRED, field=name) for name in HANDOFF_FIELDS)
    return FieldMap(
        provider=provider,
        source="tests/builders.py",
        fields={spec.canonical: spec for spec in fields},
        handoff_rules=rules,
        templates=templates if templates is not None else {"default": DEFAULT_TEMPLATE,
                                                           "handoff_incomplete": HANDOFF_TEMPLATE},
        task_key_field="afterclose_key",
    )


def make_entry(key: str, **overrides) -> LedgerEntry:
    """A ledger entry for ``key`` (deal, touch point and cycle read from the key)."""
    parsed = parse_key(key)
    values = dict(key=key, deal_id=parsed.deal_id or "", touch_point=parsed.touch_point, cycle=parsed.cycle,
                  crm_id=f"crm-{parsed.touch_point}-{parsed.cycle}", due_at=None, status=EntryStatus.OPEN,
                  fingerprint=None)
    return LedgerEntry(**(values | overrides))


# --- a fake run: the CRM and the state store doing what a plan asks -----------------------------

Ledger = dict[str, list[LedgerEntry]]


def apply_to_ledger(plan: Plan, ledger: Mapping[str, Sequence[LedgerEntry]],
                    fingerprints: Mapping[str, str]) -> Ledger:
    """The ledger after every action of ``plan`` succeeded (as jobs/state/ records results)."""
    entries = {entry.key: entry for deal_entries in ledger.values() for entry in deal_entries}
    for action in plan.actions:
        if isinstance(action, CreateTask):
            entries[action.key] = _created(action, fingerprints[action.key])
        elif isinstance(action, UpdateTask):
            entries[action.key] = dataclasses.replace(
                entries[action.key], due_at=action.spec.due_at, fingerprint=fingerprints[action.key],
                status=EntryStatus.OPEN)
        elif isinstance(action, CloseTask):
            entries[action.key] = dataclasses.replace(entries[action.key], status=EntryStatus.COMPLETED)
        elif isinstance(action, Skip):
            entries[action.key] = _skipped(action)
        elif isinstance(action, CreateDeal):
            parsed = parse_key(action.key)
            entries[action.key] = LedgerEntry(key=action.key, deal_id=action.deal_id, touch_point=parsed.touch_point,
                                              cycle=parsed.cycle, crm_id=f"crm-{action.key}", due_at=None,
                                              status=EntryStatus.COMPLETED)
    result: Ledger = {}
    for entry in entries.values():
        result.setdefault(entry.deal_id, []).append(entry)
    return result


def _created(action: CreateTask, fingerprint: str) -> LedgerEntry:
    spec = action.spec
    parsed = parse_key(spec.key)
    return LedgerEntry(key=spec.key, deal_id=spec.deal_id, touch_point=spec.touch_point, cycle=parsed.cycle,
                       crm_id=f"crm-{spec.key}", due_at=spec.due_at, status=EntryStatus.OPEN,
                       fingerprint=fingerprint)


def _skipped(action: Skip) -> LedgerEntry:
    parsed = parse_key(action.key)
    return LedgerEntry(key=action.key, deal_id=action.deal_id, touch_point=parsed.touch_point, cycle=parsed.cycle,
                       crm_id=None, due_at=None, status=EntryStatus.SKIPPED)


def apply_record_updates(plan: Plan, deals: Iterable[Deal]) -> list[Deal]:
    """The deals after the CRM took every ``UpdateRecord`` of ``plan``."""
    by_id = {deal.id: deal for deal in deals}
    for action in plan.actions:
        if isinstance(action, UpdateRecord):
            deal = by_id[action.update.record_id]
            by_id[deal.id] = with_fields(deal, **action.update.values)
    return list(by_id.values())


def complete_by_rep(ledger: Mapping[str, Sequence[LedgerEntry]], key: str) -> Ledger:
    """The ledger after a rep marked the task ``key`` done in the CRM."""
    return {deal_id: [dataclasses.replace(e, status=EntryStatus.COMPLETED) if e.key == key else e for e in entries]
            for deal_id, entries in ledger.items()}


# --- the demo data set as neutral deals ----------------------------------------------------------


def deals_from_demo(dataset, provider: Provider = Provider.HUBSPOT) -> list[Deal]:
    """``connector.sandbox.demo`` deals as an adapter would hand them over (values as text)."""
    owners = {o.key: Owner(id=f"owner-{o.key}", email=o.email, name=f"{o.first_name} {o.last_name}",
                           active=o.active) for o in dataset.owners}
    companies = {c.key: Company(id=f"company-{c.key}", name=c.name) for c in dataset.companies}
    people = {c.key: c for c in dataset.contacts}
    return [
        Deal(
            provider=provider, id=str(9000 + d.key), name=d.name, stage=d.stage, is_won=d.stage == "won",
            close_date=d.close_date, last_modified=d.modified_at,
            amount=None if d.amount is None else str(d.amount), owner=owners[d.owner],
            company=companies.get(d.company) if d.company is not None else None,
            contacts=tuple(_demo_contact(people[r.contact], r) for r in d.contacts),
            fields={name: _as_text(value) for name, value in d.fields.items()},
        )
        for d in dataset.deals
    ]


def _demo_contact(person, role) -> Contact:
    return Contact(id=f"contact-{person.key}", email=person.email, name=f"{person.first_name} {person.last_name}",
                   role=role.role, is_primary=role.primary)


def _as_text(value: object) -> FieldValue:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def settings_problems(**sections) -> dict[str, str]:
    """The problems ``Settings`` finds in these sections (a HubSpot token is added), by dotted key:
    what a user sees when the config file holds them."""
    from jobs.config import Settings, SettingsError

    data = {"crm": {"provider": "hubspot"}, "hubspot": {"access_token": "pat-test-1"}} | sections
    try:
        Settings.from_mapping(data, source="config.toml")
    except SettingsError as error:
        return dict(error.problems)
    return {}


def renewal_deal_mapping_text(provider: Provider | str) -> str:
    """The built-in mapping of ``provider`` with its commented-out ``[fields.renewal_deal_key]``
    block uncommented, as an admin enabling renewal deals does (docs/playbooks.md)."""
    lines = builtin_mapping(provider).read_text(encoding="utf-8").splitlines()
    start = lines.index("# [fields.renewal_deal_key]")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("# "))
    lines[start:end] = [line[2:] for line in lines[start:end]]
    return "\n".join(lines) + "\n"


def renewal_deal_mapping(provider: Provider | str) -> FieldMap:
    return parse_mapping(renewal_deal_mapping_text(provider), source=str(builtin_mapping(provider)))


RENEWAL_DEAL_TARGET = {  # where each CRM's renewal deal goes in the tests: (stage, pipeline, deal type)
    "fake": ("open", "default", "renewal"),
    "hubspot": ("appointmentscheduled", "default", "renewal"),
    "salesforce": ("Prospecting", None, "Renewal"),
}


def renewal_deal_playbooks(crm: str, fieldmap: FieldMap, days_before: int = 365):
    """The built-in playbook set of ``fieldmap``'s CRM, its new-business playbook creating renewal
    deals ``days_before`` days ahead (``crm``: "fake", "hubspot" or "salesforce", for the target)."""
    from jobs.config import Settings
    from jobs.core.renewal_deals import RenewalDealRule
    from jobs.playbooks import build_playbooks

    provider = fieldmap.provider
    credentials = ({"access_token": "pat-na1-token"} if provider is Provider.HUBSPOT
                   else {"instance_url": "https://example.my.salesforce.com", "access_token": "00D-token"})
    settings = Settings.from_mapping({"crm": {"provider": provider.value}, provider.value: credentials})
    built = build_playbooks(settings, fieldmap).set
    stage, pipeline, deal_type = RENEWAL_DEAL_TARGET[crm]
    rule = RenewalDealRule(days_before=days_before, stage=stage, pipeline=pipeline, deal_type=deal_type)
    segments = tuple(dataclasses.replace(s, playbook=dataclasses.replace(s.playbook, create_renewal_deal=rule))
                     if s.playbook.id == "new_business" else s for s in built.segments)
    return dataclasses.replace(built, segments=segments)
