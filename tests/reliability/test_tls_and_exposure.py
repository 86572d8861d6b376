"""Transport security and exposure defaults: TLS verification is on unless a CA is configured
for it (both adapters); the sandboxes and the metrics endpoint listen on loopback unless told
otherwise; the container runs as an unprivileged user; a config file holding a secret that
others can read is warned about."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from connector.errors import FatalCrmError
from connector.mapping import builtin_mapping, load_mapping
from connector.retry import RetrySettings
from connector.sandbox.demo import demo_dataset
from connector.sandbox.server import serve_in_thread
from jobs.config import Settings
from tests.reliability.crm import ANCHOR, build_adapter

REPO = Path(__file__).resolve().parents[2]
ONE_TRY = RetrySettings(attempts=1, base_seconds=0.001, max_seconds=0.001)


@pytest.fixture(scope="module")
def hubspot_over_tls():
    """The HubSpot sandbox behind TLS with a throw-away CA (a server this machine does not trust)."""
    from connector.sandbox.hubspot import HubSpotSandbox

    sandbox = HubSpotSandbox()
    sandbox.load(demo_dataset(anchor=ANCHOR))
    with serve_in_thread(sandbox.app, tls=True) as server:
        yield server, sandbox.token


@pytest.fixture(scope="module")
def salesforce_sandbox():
    from connector.sandbox.salesforce import SalesforceSandbox

    sandbox = SalesforceSandbox()
    sandbox.load(demo_dataset(anchor=ANCHOR))
    with sandbox.serve() as endpoint:
        yield endpoint


def hubspot_adapter(server, token: str, **extra):
    values = {"access_token": token, "base_url": server.base_url, "timeout_seconds": 5} | extra
    return build_adapter("hubspot", values, load_mapping(builtin_mapping("hubspot")), retry=ONE_TRY, page_size=50)


def salesforce_adapter(endpoint, **extra):
    values = {"instance_url": endpoint.base_url, "access_token": endpoint.token, "timeout_seconds": 5} | extra
    return build_adapter("salesforce", values, load_mapping(builtin_mapping("salesforce")), retry=ONE_TRY,
                         page_size=50)


def test_given_self_signed_https_hubspot_then_refused_with_advice(hubspot_over_tls):
    server, token = hubspot_over_tls
    with hubspot_adapter(server, token) as adapter, pytest.raises(FatalCrmError, match="ca_bundle"):
        adapter.check_schema()


def test_given_its_ca_configured_then_https_hubspot_is_trusted(hubspot_over_tls):
    server, token = hubspot_over_tls
    with hubspot_adapter(server, token, ca_bundle=str(server.tls.ca_path)) as adapter:
        adapter.check_schema()  # raises FatalCrmError when the certificate is not trusted
        assert adapter.call_stats().by_endpoint.get("GET /crm/v3/properties/deals") == 1


def test_given_self_signed_salesforce_then_refused_with_advice(salesforce_sandbox):
    with salesforce_adapter(salesforce_sandbox) as adapter, pytest.raises(FatalCrmError, match="ca_bundle"):
        adapter.check_schema()


def test_given_its_ca_configured_then_salesforce_is_trusted(salesforce_sandbox):
    with salesforce_adapter(salesforce_sandbox, ca_bundle=str(salesforce_sandbox.ca_path)) as adapter:
        assert adapter.check_schema() == []  # the objects were described over verified TLS
        assert adapter.call_stats().total >= 1


def default_of(fn, name: str):
    return inspect.signature(fn).parameters[name].default


def test_given_defaults_then_sandboxes_and_metrics_listen_on_loopback_only():
    from connector.sandbox.hubspot import HubSpotSandbox
    from connector.sandbox.salesforce import SalesforceSandbox
    from jobs.cli.main import sandbox

    hosts = {
        "serve_in_thread": default_of(serve_in_thread, "host"),
        "HubSpotSandbox.serve": default_of(HubSpotSandbox.serve, "host"),
        "SalesforceSandbox.serve": default_of(SalesforceSandbox.serve, "host"),
        "afterclose sandbox --host": next(p.default for p in sandbox.params if p.name == "host"),
        "[server] host (metrics, healthz)": Settings.model_fields["server"].default_factory().host,
    }
    assert {where: host for where, host in hosts.items() if host != "127.0.0.1"} == {}


def test_given_dockerfile_then_the_container_runs_as_an_unprivileged_user():
    final_stage = (REPO / "Dockerfile").read_text().split("\nFROM ")[-1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, flags=re.MULTILINE)
    assert users, "the final stage sets no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"USER {users[-1]}"


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False)])
def test_given_config_with_inline_secret_then_warned_when_others_can_read_it(tmp_path, monkeypatch, mode, warned):
    for name in [n for n in __import__("os").environ if n.startswith("AFTERCLOSE_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "afterclose.toml"
    config.write_text('[crm]\nprovider = "hubspot"\n[hubspot]\naccess_token = "pat-na1-secret-value"\n')
    config.chmod(mode)
    warnings = Settings.load(config).file_warnings()
    assert bool(warnings) is warned
    assert all("pat-na1-secret-value" not in w for w in warnings)
    if warned:
        assert "hubspot.access_token" in warnings[0] and "chmod 600" in warnings[0]
