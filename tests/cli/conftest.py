"""Fixtures for the CLI tests: a CRM per test, a config file pointing at it, and two ways to run
``afterclose``: in-process with click's CliRunner (fast) and as a real subprocess (exit codes,
signals, stdout/stderr as a user's shell sees them).

The CRM is a sandbox (``hubspot``, ``salesforce``) or, where HTTP is not the point, the in-memory
CRM (``fake``): then every command run in-process gets a ``connector.fake.FakeCrm`` on the same
store from ``jobs.cli.runtime.build_adapter`` (the one place commands build their adapter), and
the config names HubSpot with the built-in mapping (the fake reads it by canonical names) at a
URL nothing is ever sent to. A subprocess cannot reach the fake: those tests use a sandbox.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connector.fake import LOST, FakeCrm, FakeStore
from connector.mapping import FieldMap, builtin_mapping, load_mapping
from connector.model import RecordKind
from connector.sandbox import SandboxEndpoint
from connector.sandbox.demo import DemoDataset, demo_dataset
from jobs import logs
from jobs.cli import cli

REPO = Path(__file__).resolve().parents[2]
FAST_RETRY = "[retry]\nattempts = 2\nbase_seconds = 0.01\nmax_seconds = 0.05\n"
SALESFORCE_WRITES = {"collections_create", "collections_update", "collections_delete", "collections_upsert",
                     "sobject_create", "sobject_update", "sobject_delete", "sobject_upsert",
                     "sobject_delete_by_external_id"}


class _ConfiguredCrm:
    """A CRM with the demo data and config files that point at it (the part every kind shares)."""

    tmp: Path
    config_provider: str

    @property
    def state_url(self) -> str:
        return f"sqlite:///{self.tmp / 'state.db'}"

    def connection(self, token: str | None = None) -> str:
        raise NotImplementedError

    def config(self, extra: str = "", *, token: str | None = None, connection: str | None = None,
               crm_extra: str = "", name: str = "afterclose.toml", state_url: str | None = None) -> Path:
        """A config file (mode 600, as the docs advise) with fast retries."""
        path = self.tmp / name
        path.write_text(f'[crm]\nprovider = "{self.config_provider}"\n{crm_extra}'
                        f'{connection or self.connection(token)}'
                        f'[state]\nurl = "{state_url or self.state_url}"\n{FAST_RETRY}{extra}')
        path.chmod(0o600)
        return path


@dataclass
class Crm(_ConfiguredCrm):
    """One sandbox CRM with the demo data, and config files that point at it."""

    provider: str
    sandbox: object
    endpoint: SandboxEndpoint
    tmp: Path

    @property
    def config_provider(self) -> str:
        return self.provider

    @property
    def scope(self) -> str:
        """Where the state of this CRM account is kept (the account's own id, jobs/scopes.py)."""
        if self.provider == "hubspot":
            return f"hubspot:portal-{self.sandbox.portal_id}"
        return f"salesforce:org-{self.sandbox.org.org_id}"

    def connection(self, token: str | None = None) -> str:
        token = token or self.endpoint.token
        if self.provider == "hubspot":
            return (f'[hubspot]\nbase_url = "{self.endpoint.base_url}"\naccess_token = "{token}"\n'
                    "settle_seconds = 0\n")  # the sandbox shows a create at once (TEST_SETTLE)
        return (f'[salesforce]\ninstance_url = "{self.endpoint.base_url}"\naccess_token = "{token}"\n'
                f'ca_bundle = "{self.endpoint.ca_path}"\n')

    def calls(self) -> dict[str, int]:
        return self.sandbox.controls.snapshot()

    def write_calls(self) -> int:
        return sum(n for label, n in self.calls().items() if self.is_write(label))

    def total_calls(self) -> int:
        return self.sandbox.controls.total_calls()

    def is_write(self, label: str) -> bool:
        if self.provider == "salesforce":
            return label in SALESFORCE_WRITES
        method, _, path = label.partition(" ")
        return method != "GET" and not path.endswith(("/search", "/batch/read"))

    def deal_id(self, name_prefix: str) -> str:
        """The CRM id of the first demo deal whose name starts with ``name_prefix``."""
        key = next(d.key for d in demo_dataset().deals if d.name.startswith(name_prefix))
        return self.sandbox.demo_ids["deals" if self.provider == "hubspot" else "Opportunity"][key]

    def won_deal_ids(self) -> list[str]:
        ids = self.sandbox.demo_ids["deals" if self.provider == "hubspot" else "Opportunity"]
        return [ids[d.key] for d in demo_dataset().won_deals()]

    def set_deal_field(self, deal_id: str, canonical: str, value) -> None:
        """An admin editing a deal in the CRM's UI (the field named as in the built-in mapping)."""
        crm_name = load_mapping(builtin_mapping(self.provider)).spec(canonical).crm_name
        self.sandbox.edit("deals" if self.provider == "hubspot" else "Opportunity", deal_id, {crm_name: value})

    def task_keys(self) -> list[str]:
        if self.provider == "hubspot":
            return [t["properties"].get("afterclose_key") for t in self.sandbox.records("tasks")
                    if t["properties"].get("afterclose_key")]
        return [t["AfterClose_Key__c"] for t in self.sandbox.records("Task") if t.get("AfterClose_Key__c")]


FAKE_URL = "https://fake-crm.invalid"
"""Where the fake's config says the CRM is; nothing is ever sent there (.invalid cannot resolve)."""


@dataclass
class FakeCrmUnderCli(_ConfiguredCrm):
    """The in-memory CRM with the demo data, behind every command run in-process (``Crm``'s face)."""

    store: FakeStore
    tmp: Path
    provider: str = "fake"
    config_provider: str = "hubspot"
    scope: str = "hubspot:fake-crm.invalid"
    """The fake names no account (it is no ``SupportsInstanceId``): its state stays under the
    address the config points at (jobs/scopes.py)."""

    def connection(self, token: str | None = None) -> str:
        token = token or "pat-fake-crm-0000"
        return f'[hubspot]\nbase_url = "{FAKE_URL}"\naccess_token = "{token}"\n'

    def adapter(self, settings, fieldmap: FieldMap) -> FakeCrm:
        """What ``jobs.cli.runtime.build_adapter`` returns while this CRM is open: a command's adapter."""
        return FakeCrm(fieldmap, self.store)

    def calls(self) -> dict[str, int]:
        return self.store.calls()

    def write_calls(self) -> int:
        return self.store.write_calls()

    def total_calls(self) -> int:
        return self.store.total_calls()

    def deal_id(self, name_prefix: str) -> str:
        key = next(d.key for d in demo_dataset().deals if d.name.startswith(name_prefix))
        return self.store.demo_ids["deals"][key]

    def won_deal_ids(self) -> list[str]:
        return [self.store.demo_ids["deals"][d.key] for d in demo_dataset().won_deals()]

    def set_deal_field(self, deal_id: str, canonical: str, value) -> None:
        self.store.set_field(deal_id, canonical, value)

    def mark_lost(self, deal_id: str) -> None:
        self.store.set_stage(deal_id, LOST)

    def task_keys(self) -> list[str]:
        with self.store.lock:
            return [t.key for t in self.store.tasks.values()]


def new_sandbox(provider: str, **kwargs):
    if provider == "hubspot":
        from connector.sandbox.hubspot import HubSpotSandbox

        return HubSpotSandbox(**kwargs)
    from connector.sandbox.salesforce import SalesforceSandbox

    return SalesforceSandbox(**kwargs)


@pytest.fixture
def open_crm(tmp_path, monkeypatch) -> Iterator:
    """``open_crm(provider, **sandbox_kwargs)`` -> a running ``Crm`` (stopped after the test);
    ``open_crm("fake")`` -> the in-memory CRM behind the commands run in-process."""
    import contextlib

    with contextlib.ExitStack() as stack:
        def start(provider: str, data: DemoDataset | None = None, **kwargs) -> Crm | FakeCrmUnderCli:
            if provider == "fake":
                return start_fake(data or demo_dataset())
            sandbox = new_sandbox(provider, **kwargs)
            sandbox.load(data or demo_dataset())
            endpoint = stack.enter_context(sandbox.serve())
            folder = tmp_path / f"{provider}-{len(list(tmp_path.iterdir()))}"
            folder.mkdir()
            return Crm(provider=provider, sandbox=sandbox, endpoint=endpoint, tmp=folder)

        def start_fake(data: DemoDataset) -> FakeCrmUnderCli:
            from jobs.cli import runtime

            fieldmap = load_mapping(builtin_mapping("hubspot"))
            store = FakeStore(fieldmap, lacking=[s.canonical for s in fieldmap.fields.values() if s.afterclose_owned
                                                 and s.record is not RecordKind.DEAL])
            store.load(data)
            folder = tmp_path / f"fake-{len(list(tmp_path.iterdir()))}"
            folder.mkdir()
            crm = FakeCrmUnderCli(store=store, tmp=folder)
            monkeypatch.setattr(runtime, "build_adapter", crm.adapter)  # one fake per test: the last one wins
            return crm

        yield start


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request, open_crm) -> Crm:
    """Each sandbox by default; ``on(...)`` picks the CRMs a test runs on."""
    return open_crm(request.param)


def on(*crms: str):
    """Run the test on these CRMs ("fake", "hubspot", "salesforce") through the ``crm`` fixture."""
    return pytest.mark.parametrize("crm", crms, indirect=True)


@pytest.fixture
def fake(open_crm) -> FakeCrmUnderCli:
    return open_crm("fake")


@pytest.fixture
def hubspot(open_crm) -> Crm:
    return open_crm("hubspot")


@pytest.fixture
def salesforce(open_crm) -> Crm:
    return open_crm("salesforce")


@pytest.fixture(autouse=True)
def _logs_back_to_stderr():
    """Commands point the log handler at the stream they ran with (CliRunner's, closed after)."""
    yield
    logs.configure("warning", "json", stream=sys.stderr)
    logging.getLogger().setLevel(logging.WARNING)


def invoke(*args: str | Path) -> Result:
    """``afterclose ARGS`` in-process; stdout and stderr kept apart."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell, minus AfterClose overrides the test machine may have."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCLOSE_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run_cli(*args: str | Path, timeout: float = 60, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m jobs ARGS`` as a real process (what `afterclose` runs), output piped."""
    return subprocess.run([sys.executable, "-m", "jobs", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env or cli_env(), cwd=cwd)


def start_cli(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env or cli_env(), cwd=cwd)
