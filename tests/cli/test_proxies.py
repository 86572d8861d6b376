"""The standard proxy variables, through the real CLI: HTTPS_PROXY / HTTP_PROXY (either case) send
every call of both CRMs and of the NPS http source through the proxy, with and without a custom
CA (``ca_bundle``), with proxy credentials in the URL; NO_PROXY exempts a host. A real forward
proxy on loopback (tests/proxy.py) counts the tunnels and requests that went through it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from connector.sandbox.demo import demo_dataset
from connector.sandbox.server import serve_in_thread
from tests.cli.conftest import FAST_RETRY, cli_env, run_cli
from tests.proxy import forward_proxy

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def env_with(**variables: str) -> dict[str, str]:
    """The user's environment with no proxy settings but ``variables`` (names as given)."""
    env = {k: v for k, v in cli_env().items() if k.lower() not in PROXY_VARIABLES}
    env.update(variables)
    return env


@contextlib.contextmanager
def hubspot_over_tls() -> Iterator[tuple[str, str, Path]]:
    """The HubSpot sandbox behind TLS with a throw-away CA: (base_url, token, CA file)."""
    from connector.sandbox.hubspot import HubSpotSandbox

    sandbox = HubSpotSandbox()
    sandbox.load(demo_dataset())
    with serve_in_thread(sandbox.app, tls=True) as server:
        yield server.base_url, sandbox.token, server.tls.ca_path


def write_config(tmp: Path, body: str) -> Path:
    path = tmp / "afterclose.toml"
    path.write_text(f'{body}[state]\nurl = "sqlite:///{tmp / "state.db"}"\n{FAST_RETRY}')
    return path


def hubspot_config(tmp: Path, base_url: str, token: str, ca: Path | None) -> Path:
    ca_line = f'ca_bundle = "{ca}"\n' if ca else ""
    return write_config(tmp, f'[crm]\nprovider = "hubspot"\n[hubspot]\nbase_url = "{base_url}"\n'
                             f'access_token = "{token}"\n{ca_line}')


def salesforce_config(crm, ca: bool) -> Path:
    ca_line = f'ca_bundle = "{crm.endpoint.ca_path}"\n' if ca else ""
    return write_config(crm.tmp, f'[crm]\nprovider = "salesforce"\n[salesforce]\n'
                                 f'instance_url = "{crm.endpoint.base_url}"\naccess_token = "{crm.endpoint.token}"\n'
                                 f"{ca_line}")


def port_of(url: str) -> str:
    return "127.0.0.1:" + url.rsplit(":", 1)[1].split("/", 1)[0]


def checked(config: Path, env: dict[str, str]) -> None:
    assert run_cli("setup", "--config", config, env=env).returncode == 0
    result = run_cli("check", "--config", config, env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_given_https_proxy_and_a_custom_ca_then_every_hubspot_call_goes_through_it(tmp_path, variable):
    with forward_proxy() as proxy, hubspot_over_tls() as (base_url, token, ca):
        checked(hubspot_config(tmp_path, base_url, token, ca), env_with(**{variable: proxy.url}))
        assert proxy.log.tunnels[port_of(base_url)] > 0


def test_given_http_proxy_and_an_http_crm_then_hubspot_calls_are_forwarded_by_it(open_crm):
    crm = open_crm("hubspot")
    with forward_proxy() as proxy:
        config = hubspot_config(crm.tmp, crm.endpoint.base_url, crm.endpoint.token, None)
        checked(config, env_with(http_proxy=proxy.url))
        assert proxy.log.forwarded[port_of(crm.endpoint.base_url)] > 0


@pytest.mark.parametrize("custom_ca", [True, False], ids=["ca_bundle", "REQUESTS_CA_BUNDLE"])
def test_given_https_proxy_then_every_salesforce_call_goes_through_it(open_crm, custom_ca):
    crm = open_crm("salesforce")
    with forward_proxy() as proxy:
        extra = {} if custom_ca else {"REQUESTS_CA_BUNDLE": str(crm.endpoint.ca_path)}
        env = {k: v for k, v in env_with(HTTPS_PROXY=proxy.url, **extra).items() if k != "CURL_CA_BUNDLE"}
        checked(salesforce_config(crm, ca=custom_ca), env)
        assert proxy.log.tunnels[port_of(crm.endpoint.base_url)] > 0


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_a_proxy_that_wants_credentials_then_those_in_the_url_are_sent(open_crm, tmp_path, provider):
    with forward_proxy(credentials="afterclose:proxy-pass-7f1e") as proxy:
        if provider == "hubspot":
            with hubspot_over_tls() as (base_url, token, ca):
                checked(hubspot_config(tmp_path, base_url, token, ca), env_with(HTTPS_PROXY=proxy.url))
                assert proxy.log.tunnels[port_of(base_url)] > 0
        else:
            crm = open_crm("salesforce")
            checked(salesforce_config(crm, ca=True), env_with(HTTPS_PROXY=proxy.url))
            assert proxy.log.tunnels[port_of(crm.endpoint.base_url)] > 0
        assert proxy.log.refused == 0


@pytest.mark.parametrize(("provider", "variable"), [("hubspot", "NO_PROXY"), ("salesforce", "no_proxy")])
def test_given_no_proxy_naming_the_crm_host_then_nothing_goes_through_the_proxy(open_crm, tmp_path, provider,
                                                                                 variable):
    with forward_proxy() as proxy:
        if provider == "hubspot":
            with hubspot_over_tls() as (base_url, token, ca):
                checked(hubspot_config(tmp_path, base_url, token, ca),
                        env_with(HTTPS_PROXY=proxy.url, **{variable: "localhost,127.0.0.1"}))
        else:
            crm = open_crm("salesforce")
            checked(salesforce_config(crm, ca=True), env_with(HTTPS_PROXY=proxy.url, **{variable: "127.0.0.1"}))
        assert proxy.log.total() == 0


# --- the NPS http source ---------------------------------------------------------------------------


def survey_app() -> Starlette:
    async def responses(_request):
        return JSONResponse({"items": [{"id": "r-1", "email": "ann@example.com", "score": 9,
                                        "responded_at": "2026-03-02T10:00:00Z"}]})

    return Starlette(routes=[Route("/v1/responses", responses)])


@pytest.mark.parametrize("custom_ca", [True, False], ids=["nps.ca_bundle", "SSL_CERT_FILE"])
def test_given_https_proxy_then_the_nps_http_source_goes_through_it(open_crm, custom_ca):
    crm = open_crm("hubspot")  # over http, reached directly: only https targets use HTTPS_PROXY
    with forward_proxy() as proxy, serve_in_thread(survey_app(), tls=True) as survey:
        ca_line = f'ca_bundle = "{survey.tls.ca_path}"\n' if custom_ca else ""
        config = crm.config(f'[nps]\nsource = "http"\nurl = "{survey.base_url}/v1/responses"\npaging = "none"\n'
                            f'token = "survey-token-123"\n{ca_line}')
        extra = {} if custom_ca else {"SSL_CERT_FILE": str(survey.tls.ca_path)}
        env = env_with(HTTPS_PROXY=proxy.url, **extra)
        assert run_cli("setup", "--config", config, env=env).returncode == 0
        result = run_cli("plan", "--config", config, "--job", "nps", "--format", "json", env=env)
        assert result.returncode == 0, result.stderr
        assert proxy.log.tunnels[port_of(survey.base_url)] == 1
        assert proxy.log.through(port_of(crm.endpoint.base_url)) == 0


@pytest.mark.parametrize("oauth", [False, True], ids=["soap_login", "oauth_password"])
def test_given_https_proxy_then_the_salesforce_login_goes_through_it_too(open_crm, oauth):
    # The login is the first call of every run: a proxy-only network must carry it as well as the
    # REST calls after it (SOAP login, or the OAuth username-password flow with a connected app).
    from tests.cli.test_salesforce_login import login_connection

    crm = open_crm("salesforce")
    config = write_config(crm.tmp, f'[crm]\nprovider = "salesforce"\n{login_connection(crm, oauth=oauth)}')
    with forward_proxy() as proxy:
        result = run_cli("check", "--config", config, env=env_with(HTTPS_PROXY=proxy.url))
        assert result.returncode == 0, result.stderr
        assert crm.calls().get("oauth_token" if oauth else "soap_login", 0) >= 1
        assert proxy.log.tunnels[port_of(crm.endpoint.base_url)] > 0
