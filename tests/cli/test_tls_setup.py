"""A CRM whose TLS certificate cannot be verified is a set-up problem: exit 2 (not 4, which says
"transient, the next run resumes"), with the actual cause and the remedy that fits it. An unknown
CA is fixed with ca_bundle; a certificate for another host or one that has expired is not, and
saying "set ca_bundle" there sends the admin the wrong way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from starlette.applications import Starlette

from connector.sandbox.server import make_test_tls, serve_in_thread
from tests.cli.conftest import FAST_RETRY, invoke

NOW = dt.datetime.now(dt.UTC)
CASES = {
    # case: (certificate options, ca_bundle given, words the message must hold, words it must not)
    "unknown CA": ({}, False, ("not signed by a CA", "ca_bundle"), ()),
    "host mismatch": ({"identities": ("crm.afterclose.invalid",)}, True, ("not valid for", "127.0.0.1", "URL"),
                      ("set {section}.ca_bundle",)),
    "expired": ({"not_before": NOW - dt.timedelta(days=30), "not_after": NOW - dt.timedelta(days=1)}, True,
                ("expired", "renewed"), ("set {section}.ca_bundle",)),
    "not yet valid": ({"not_before": NOW + dt.timedelta(days=2), "not_after": NOW + dt.timedelta(days=30)}, True,
                      ("not valid yet", "clock"), ("set {section}.ca_bundle",)),
}


def config_for(tmp: Path, provider: str, base_url: str, ca: Path | None) -> Path:
    url_key = "base_url" if provider == "hubspot" else "instance_url"
    ca_line = f'ca_bundle = "{ca}"\n' if ca else ""
    path = tmp / "afterclose.toml"
    path.write_text(f'[crm]\nprovider = "{provider}"\n[{provider}]\n{url_key} = "{base_url}"\n'
                    f'access_token = "tls-test-token"\n{ca_line}[state]\nurl = "sqlite:///{tmp / "state.db"}"\n'
                    f"{FAST_RETRY}")
    return path


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
@pytest.mark.parametrize("case", list(CASES))
def test_given_a_certificate_that_cannot_be_verified_then_exit_2_with_the_cause_and_its_remedy(
        tmp_path, provider, case):
    options, with_ca, wanted, unwanted = CASES[case]
    files = make_test_tls(tmp_path, **options)
    with serve_in_thread(Starlette(), tls_files=files) as server:
        config = config_for(tmp_path, provider, server.base_url, files.ca_path if with_ca else None)
        for command in ("check", "run"):
            result = invoke(command, "--config", config)
            assert result.exit_code == 2, (command, result.stderr)
            assert "internal error" not in result.stderr
            for words in wanted:
                assert words in result.stderr, result.stderr
            for words in unwanted:
                assert words.format(section=provider) not in result.stderr, result.stderr
