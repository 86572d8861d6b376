"""Which proxy the standard variables name for a URL (connector/proxies.py)."""

from __future__ import annotations

import pytest

from connector.proxies import proxy_for, proxy_passwords, requests_proxies


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch):
    import os

    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_given_no_variable_then_no_proxy():
    assert proxy_for("https://api.hubapi.com/crm/v3") is None and requests_proxies("https://x.test/") == {}


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "https_proxy"])
def test_given_https_proxy_in_either_case_then_https_urls_use_it_and_http_urls_do_not(no_proxy_variables, name):
    no_proxy_variables.setenv(name, "http://proxy.internal:3128")
    assert proxy_for("https://acme.my.salesforce.com/services/data").url == "http://proxy.internal:3128"
    assert proxy_for("http://127.0.0.1:8080/") is None


def test_given_all_proxy_then_every_scheme_uses_it(no_proxy_variables):
    no_proxy_variables.setenv("ALL_PROXY", "proxy.internal:3128")  # no scheme: http:// is meant
    assert proxy_for("http://crm.test/").url == "http://proxy.internal:3128"


@pytest.mark.parametrize(("no_proxy", "url", "exempt"), [
    ("crm.test", "https://crm.test/x", True),
    (".example.com", "https://api.example.com/x", True),
    ("example.com", "https://api.example.com/x", True),
    ("example.com", "https://notexample.com/x", False),
    ("127.0.0.1", "https://127.0.0.1:8443/x", True),
    ("crm.test:8443", "https://crm.test:8443/x", True),
    ("*", "https://anything.test/", True),
    ("other.test", "https://crm.test/", False),
])
def test_given_no_proxy_then_the_hosts_it_names_are_reached_directly(no_proxy_variables, no_proxy, url, exempt):
    no_proxy_variables.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    no_proxy_variables.setenv("NO_PROXY", no_proxy)
    assert (proxy_for(url) is None) is exempt


def test_given_credentials_in_the_variable_then_a_basic_header_and_the_password_as_a_secret(no_proxy_variables):
    no_proxy_variables.setenv("HTTPS_PROXY", "http://afterclose:p%40ss-7f1e@proxy.internal:3128")
    proxy = proxy_for("https://crm.test/")
    assert proxy.url == "http://proxy.internal:3128"
    assert proxy.authorization == "Basic YWZ0ZXJjbG9zZTpwQHNzLTdmMWU="  # afterclose:p@ss-7f1e
    assert proxy_passwords() == ["p@ss-7f1e"]
