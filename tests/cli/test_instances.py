"""Several portals or orgs on one state database. Every HubSpot portal is reached at
api.hubapi.com and every Salesforce org that logs in by password at login.salesforce.com, so the
config's URL cannot tell them apart: the state of each is kept under the portal id or org id the
CRM itself reports (``hubspot:portal-<id>``, ``salesforce:org-<id>``).

The sandboxes stand in for two accounts behind one address: portal (or org) A is served on a
port, stopped, and portal B is served on the same port with its own id and token.
"""

from __future__ import annotations

import contextlib
import json
import socket

import pytest

from connector.sandbox.demo import demo_dataset
from connector.sandbox.salesforce.ids import make_id
from tests.cli.conftest import Crm, invoke, new_sandbox

ORG_A, ORG_B = make_id("00D", 101), make_id("00D", 102)
IDS = {"hubspot": ({"portal_id": 11_111_111}, {"portal_id": 22_222_222}),
       "salesforce": ({"org_id": ORG_A, "user_id": make_id("005", 101)},
                      {"org_id": ORG_B, "user_id": make_id("005", 102)})}
SCOPES = {"hubspot": ("hubspot:portal-11111111", "hubspot:portal-22222222"),
          "salesforce": (f"salesforce:org-{ORG_A}", f"salesforce:org-{ORG_B}")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OneAddress:
    """Two CRM accounts that take turns behind one address (host and port)."""

    def __init__(self, provider: str, tmp_path, state_url: str):
        self.provider, self.port, self.state_url = provider, free_port(), state_url
        self.tmp = tmp_path
        ids_a, ids_b = IDS[provider]
        self.sandboxes = {"A": self._sandbox(ids_a, "token-of-account-a"),
                          "B": self._sandbox(ids_b, "token-of-account-b")}

    def _sandbox(self, ids: dict, token: str):
        sandbox = new_sandbox(self.provider, token=token, **ids)
        sandbox.load(demo_dataset())
        return sandbox

    @contextlib.contextmanager
    def serving(self, name: str):
        sandbox = self.sandboxes[name]
        with sandbox.serve(port=self.port) as endpoint:
            folder = self.tmp / name
            folder.mkdir(exist_ok=True)
            yield Crm(provider=self.provider, sandbox=sandbox, endpoint=endpoint, tmp=folder)

    def run(self, name: str, *commands: str) -> list:
        with self.serving(name) as crm:
            config = crm.config(state_url=self.state_url)
            return [invoke(*command.split(), "--config", config) for command in commands]

    def keyed_tasks(self, name: str) -> int:
        with self.serving(name) as crm:
            return len(crm.task_keys())


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_two_accounts_behind_one_address_on_one_state_database_then_each_keeps_its_own_state(
        provider, tmp_path, store_url):
    accounts = OneAddress(provider, tmp_path, store_url)
    _, first_a, status_a = accounts.run("A", "setup", "run", "status --format json")
    _, first_b, status_b = accounts.run("B", "setup", "run", "status --format json")
    (again_a,) = accounts.run("A", "run")

    from tests.reliability import figures

    figures.record("accounts_on_one_database", provider=provider, backend=store_url.split(":", 1)[0],
                   tasks_a=accounts.keyed_tasks("A"), tasks_b=accounts.keyed_tasks("B"),
                   b_said_nothing_to_do="nothing to do" in first_b.stdout)
    assert first_a.exit_code == 1 and first_b.exit_code == 1, (first_a.stderr, first_b.stderr)
    # B is not told "nothing to do" from A's cursor: it gets every task A got.
    assert "nothing to do" not in first_b.stdout
    assert accounts.keyed_tasks("B") == accounts.keyed_tasks("A") > 0
    assert "created" in first_b.stdout
    # Each status shows its own account; A's state was kept while B ran.
    scope_a, scope_b = SCOPES[provider]
    assert json.loads(status_a.stdout)["scope"] == scope_a
    assert json.loads(status_b.stdout)["scope"] == scope_b
    assert len(json.loads(status_b.stdout)["runs"]) == 1
    assert "created" not in again_a.stdout, again_a.stdout


def as_made_by_an_older_afterclose(state_url: str, scope: str, address: str) -> None:
    """What a state database made before scopes named the account looks like: everything kept under
    the address, no record of accounts, schema revision 0003."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.pool import NullPool

    from jobs.state import VERSION_TABLE
    from jobs.state.tables import SCOPED_TABLES

    engine = create_engine(state_url, poolclass=NullPool)
    with engine.begin() as conn:
        for table in SCOPED_TABLES:
            if table.name in TABLES_AT_0003:
                conn.execute(text(f"UPDATE {table.name} SET scope = :old WHERE scope = :new"),
                             {"old": address, "new": scope})
        for name in inspect(conn).get_table_names():
            if name not in TABLES_AT_0003 and name != VERSION_TABLE:
                conn.execute(text(f"DROP TABLE {name}"))
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0003_run_records_by_deal'"))
    engine.dispose()


TABLES_AT_0003 = {"afterclose_cursors", "afterclose_ledger", "afterclose_runs", "afterclose_run_records",
                  "afterclose_rejected", "afterclose_revisits", "afterclose_flags", "afterclose_nps_responses",
                  "afterclose_slots"}
"""The schema an AfterClose from before the upgrade made (migrations 0001-0003)."""


def address(crm: Crm) -> str:
    return f"{crm.provider}:{crm.endpoint.base_url.split('://', 1)[1]}"


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_a_state_database_from_before_the_upgrade_then_its_account_carries_on_where_it_was(
        provider, open_crm, store_url):
    crm = open_crm(provider)
    config = crm.config(state_url=store_url)
    invoke("setup", "--config", config)
    assert invoke("run", "--config", config).exit_code == 1
    as_made_by_an_older_afterclose(store_url, crm.scope, address(crm))
    calls = crm.total_calls()

    after = invoke("run", "--config", config)
    status = json.loads(invoke("status", "--config", config, "--format", "json").stdout)

    assert after.exit_code == 1, after.stderr
    assert "created" not in after.stdout, after.stdout  # its cursor and ledger were kept
    assert status["scope"] == crm.scope and len(status["runs"]) == 2
    assert status["cursors"]["sync"] is not None
    assert crm.total_calls() - calls < 60  # a continuing run, not a relearning one


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_an_old_state_database_of_account_a_first_used_by_account_b_then_b_does_not_take_a_state(
        provider, tmp_path, store_url):
    accounts = OneAddress(provider, tmp_path, store_url)
    accounts.run("A", "setup", "run")
    with accounts.serving("A") as crm_a:
        as_made_by_an_older_afterclose(store_url, crm_a.scope, address(crm_a))

    _, first_b = accounts.run("B", "setup", "run")
    again_a, status_a = accounts.run("A", "run", "status --format json")

    assert "created" in first_b.stdout, first_b.stdout  # B did not inherit A's cursor or ledger
    assert accounts.keyed_tasks("B") == accounts.keyed_tasks("A")
    assert "created" not in again_a.stdout, again_a.stdout  # A found its own state again
    assert len(json.loads(status_a.stdout)["runs"]) == 2
