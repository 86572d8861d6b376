"""Which CRM account a config's state belongs to: its scope.

A config names an *address* (``hubspot:api.hubapi.com``, ``salesforce:login``), which every
HubSpot portal, or every Salesforce org logging in by password, shares. So the scope of cursors,
ledger, runs and run lock is the account the CRM itself names (``SupportsInstanceId``):
``hubspot:portal-<portal id>``, ``salesforce:org-<organization id>``. Two accounts on one state
database each keep their own state; an account met for the first time on a database that already
serves another starts its own and says so (``new_crm_account``).

Commands that reach the CRM ask it (one call per run, cached by the adapter) and note the scope
behind the address in the store. Commands that do not (``status``) read that note: when one
account was seen behind the address, that is the config's; when several were, they ask the CRM
which one the credentials reach (jobs/cli/runtime.py).

State databases made before scopes named the account keep their state under the address. The
first run that meets the account moves it there, once, after checking that it is that account's
state: some task the old ledger recorded must exist in this CRM with the same id (or, with no
ledger, the deal at the cursor must). A database made for portal A and first used, after the
upgrade, with portal B leaves A's state where it is (``state_of_another_account``), for A.
"""

from __future__ import annotations

from connector.port import CrmAdapter, SupportsInstanceId
from jobs import logs
from jobs.state import StateStore
from jobs.wiring import instance_scope

log = logs.get_logger("afterclose.scopes")

SAMPLE = 20
"""Ledger entries checked against the CRM before old state is moved to an account (one read)."""


def resolve_scope(store: StateStore, adapter: CrmAdapter, *, provider: str, address: str) -> str:
    """The scope of the account ``adapter`` reaches, noted behind ``address``; ``address`` itself
    for an adapter that cannot name its account (a test double)."""
    if not isinstance(adapter, SupportsInstanceId):
        return address
    scope = instance_scope(provider, adapter.instance_id())
    known = store.scopes_at(address)
    if scope not in known:
        _first_meeting(store, adapter, address, scope, known)
    store.bind_scope(address, scope)
    return scope


def _first_meeting(store: StateStore, adapter: CrmAdapter, address: str, scope: str, known: list[str]) -> None:
    if store.holds_state(scope):
        return  # the same account, reached through another address before (a new base URL)
    if store.holds_state(address):
        if is_state_of(store, adapter, address):
            with store.lock(address):  # no older AfterClose may be running on it meanwhile
                moved = store.move_scope(address, scope)
            log.info("state_moved_to_account", old_scope=address, scope=scope, rows=moved,
                     detail="state kept under the address by an older AfterClose now belongs to the account")
            return
        log.warning("state_of_another_account", old_scope=address, scope=scope,
                    detail="the state kept under this address names tasks this CRM account does not hold: it is "
                           "another account's and stays where it is; this account starts its own state")
        return
    if known:
        log.warning("new_crm_account", scope=scope, address=address, others=known,
                    detail="this state database already serves other accounts at this address; this one gets "
                           "its own cursors, ledger and runs")


def is_state_of(store: StateStore, adapter: CrmAdapter, scope: str) -> bool:
    """Whether what ``scope`` holds was made in the CRM account ``adapter`` reaches."""
    sample = store.ledger_sample(scope, SAMPLE)
    if sample:
        found = adapter.find_tasks([entry.key for entry in sample])
        return any((ref := found.get(entry.key)) is not None and ref.crm_id == entry.crm_id for entry in sample)
    cursor = store.get_cursor(scope, "sync")
    if cursor is not None:
        return any(page for page in adapter.scan_ids([cursor.deal_id]))
    return True  # run history only: nothing that could hide a deal or a task
