"""Fixtures for the admin console: a config with editable copies of the built-in mapping and
playbooks pointing at a CRM (a sandbox, or the in-memory CRM where HTTP is not the point), the
console app in-process (``ConsoleUnderTest.client``), and a live console for the browser tests."""

from __future__ import annotations

import contextlib
import re
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connector.mapping import builtin_mapping
from jobs.console.app import console_app
from jobs.console.auth import Gate
from jobs.console.context import ConsoleContext
from jobs.playbooks import builtin_playbooks_file
from jobs.state import open_store
from tests.cli.conftest import fake, hubspot, invoke, open_crm  # noqa: F401 - fixtures used by the tests here

ADMIN_TOKEN = "admin-token-for-the-console-tests"
VIEWER_TOKEN = "viewer-token-for-the-console-tests"

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@dataclass
class ConsoleUnderTest:
    crm: object
    config: Path
    mapping: Path
    playbooks: Path
    ctx: ConsoleContext

    def client(self, *, host: str = "testclient", base_url: str = "http://testserver") -> TestClient:
        return TestClient(console_app(self.ctx), client=(host, 50000), base_url=base_url, follow_redirects=False)

    def signed_in(self, token: str = ADMIN_TOKEN, name: str = "Ada Admin") -> TestClient:
        client = self.client()
        response = sign_in(client, token, name)
        assert response.status_code == 303, response.text
        return client


def sign_in(client: TestClient, token: str, name: str = "") -> object:
    form = client.get("/signin")
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text).group(1)
    return client.post("/signin", data={"nonce": nonce, "token": token, "name": name, "next": "/mappings"})


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def base_of(html: str) -> str:
    return re.search(r'name="base" value="([^"]+)"', html).group(1)


@contextlib.contextmanager
def console_on(crm, *, console_section: str = "", one_time_token: str | None = None) -> Iterator[ConsoleUnderTest]:
    provider = crm.config_provider
    mapping = Path(shutil.copy(builtin_mapping(provider), crm.tmp / f"{provider}.toml"))
    playbooks = Path(shutil.copy(builtin_playbooks_file(provider), crm.tmp / f"{provider}.playbooks.toml"))
    section = console_section or f'[console]\nadmin_token = "{ADMIN_TOKEN}"\nviewer_token = "{VIEWER_TOKEN}"\n'
    config = crm.config(f'[playbook]\nfile = "{playbooks}"\n{section}', crm_extra=f'mapping = "{mapping}"\n')
    from jobs.config import Settings

    assert invoke("setup", "--config", config).exit_code == 0  # AfterClose's own fields, as a user sets up
    settings = Settings.load(config)
    with open_store(settings.state.url) as store:
        ctx = ConsoleContext(config_path=config, store=store, gate=Gate.of(settings.console, one_time_token))
        yield ConsoleUnderTest(crm=crm, config=config, mapping=mapping, playbooks=playbooks, ctx=ctx)


@pytest.fixture
def on_hubspot(hubspot) -> Iterator[ConsoleUnderTest]:
    with console_on(hubspot) as console:
        yield console


@pytest.fixture
def on_fake(fake) -> Iterator[ConsoleUnderTest]:
    with console_on(fake) as console:
        yield console
