"""Rejected records: an inactive owner, a validation rule and a field made read-only while the
run goes on. Each refused record is reported with the CRM's own reason, kept in the state store,
tried again on the next run, and everything else in the same batches is written: the run ends
with exit code 1, not 0 and not a crash.

Where a sandbox lacks a knob the test plays the CRM's part itself, in this process:
Salesforce validation rules (FIELD_CUSTOM_VALIDATION_EXCEPTION, not modelled by the sandbox) are
added by wrapping the sandbox store's rule check; a field turned read-only is the field's
describe entry (Salesforce) or property definition (HubSpot) flipped after the run's schema check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from connector.actions import CreateTask
from connector.errors import SchemaError
from connector.sandbox.demo import demo_dataset
from jobs.state import open_store
from tests.reliability import figures
from tests.reliability.crm import ANCHOR, SandboxCrm, open_crm
from tests.reliability.runs import run_here, scope_of

VALIDATION_MESSAGE = "Renewal date must be after the close date"
REASONS = {  # what the CRM says, per cause (the sandboxes' renderings of each vendor's error)
    "hubspot": {"inactive owner": "deactivated", "validation rule": VALIDATION_MESSAGE, "read-only field": "read only"},
    "salesforce": {"inactive owner": "inactive user", "validation rule": VALIDATION_MESSAGE,
                   "read-only field": "Unable to create/update fields"},
}


def add_validation_rule(crm: SandboxCrm, deal_id: str, monkeypatch,
                        message: str = VALIDATION_MESSAGE) -> Callable[[], None]:
    """A rule refusing writes to one deal with ``message``; returns how to switch it off."""
    if crm.provider == "hubspot":
        crm.sandbox.reject("deals", deal_id, message)
        return crm.sandbox.clear_rejections
    from connector.sandbox.salesforce.errors import RecordError

    store_type = type(crm.sandbox.store)
    original = store_type._check_rules
    active = {"on": True}

    def check_rules(self, odef, record, changed):
        if active["on"] and odef.name == "Opportunity" and record.get("Id") == deal_id:
            raise RecordError("FIELD_CUSTOM_VALIDATION_EXCEPTION", message, [])
        return original(self, odef, record, changed)

    monkeypatch.setattr(store_type, "_check_rules", check_rules)
    return lambda: active.update(on=False)


def make_read_only(crm: SandboxCrm, canonical: str, read_only: bool = True) -> None:
    name = crm.fieldmap.spec(canonical).crm_name
    if crm.provider == "hubspot":
        schema = crm.sandbox.backend.store.schema["deals"]
        schema[name] = dataclasses.replace(schema[name], read_only_value=read_only)
        return
    odef = crm.sandbox.catalog["Opportunity"]
    changed = dataclasses.replace(odef.fields[name], updateable=not read_only)
    odef.fields[name] = changed
    odef._by_lower[name.lower()] = changed


def read_only_after_check(crm: SandboxCrm, adapter, canonical: str) -> None:
    """The admin's change lands between the run's schema check and its writes."""
    check = adapter.check_schema

    def checked_then_changed():
        problems = check()
        make_read_only(crm, canonical)
        return problems

    adapter.check_schema = checked_then_changed


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_inactive_owner_validation_rule_and_read_only_field_then_refusals_are_reported_kept_and_retried(
        provider, tmp_path, monkeypatch):
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_crm(provider, demo_dataset(anchor=ANCHOR), page_size=20) as crm:
        victim = sorted(crm._harness().won_deal_ids())[3]
        stop_rule = add_validation_rule(crm, victim, monkeypatch)
        with crm.adapter() as adapter:
            read_only_after_check(crm, adapter, "handoff_missing")
            first = run_here(crm, store_url, adapter=adapter)
        tasks_after_first = crm.snapshot().tasks
        # Still read-only: the next run's schema check stops it before any write, naming the field.
        writes = crm.write_calls()
        with pytest.raises(SchemaError, match="handoff_missing"):
            run_here(crm, store_url)
        assert crm.write_calls() == writes
        make_read_only(crm, "handoff_missing", read_only=False)  # the admin fixes the field
        third = run_here(crm, store_url)
        with open_store(store_url) as store:
            kept = {r.key: r for r in store.rejected(scope_of(crm))}
        stop_rule()  # and the validation rule
        fourth = run_here(crm, store_url)

    assert first.exit_code == 1 and third.exit_code == 1 and fourth.exit_code == 1
    messages = " | ".join(r.message or "" for r in first.rejected)
    for cause, reason in REASONS[provider].items():
        assert reason.lower() in messages.lower(), f"no rejection for the {cause} carries {reason!r}"
    assert all(r.message and r.error_code for r in first.rejected)
    # Everything not refused was written, in the same batches as the refusals.
    refused = {r.action.key for r in first.rejected}
    planned = {a.key for a in first.plan_actions if isinstance(a, CreateTask) and a.key not in refused}
    assert planned <= set(tasks_after_first)
    # Kept with the CRM's reason and retried: the read-only ones landed once the field was fixed,
    # the others were refused again (second attempt), and then only the inactive owner's remain.
    retried = {r.action.key for r in third.rejected}
    assert retried < refused and retried == set(kept)
    assert all(kept[key].attempts == 2 and kept[key].reason for key in retried)
    left = fourth.rejected
    assert left and {r.action.key for r in left} < retried
    assert all(REASONS[provider]["inactive owner"] in (r.message or "") for r in left)
    figures.record("rejected_records", provider=provider, refused_first_run=len(refused),
                   error_codes=sorted({r.error_code for r in first.rejected}), refused_after_field_fix=len(retried),
                   refused_after_rule_removed=len(left))
