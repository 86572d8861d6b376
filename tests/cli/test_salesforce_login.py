"""Transient faults at Salesforce login, through the CLI: a rate limit on the SOAP login is
retried (not "refused the credentials", exit 2), and a token endpoint that keeps answering 500
stops the run as a CRM outage (exit 4 with the CRM's words, not an internal error)."""

from __future__ import annotations

from connector.sandbox.salesforce.auth import ConnectedApp
from connector.sandbox.salesforce.sandbox import INTEGRATION_USERNAME
from tests.cli.conftest import invoke


def login_connection(crm, *, oauth: bool) -> str:
    app = ConnectedApp()
    extra = f'consumer_key = "{app.client_id}"\nconsumer_secret = "{app.client_secret}"\n' if oauth else ""
    return (f'[salesforce]\ndomain = "{crm.endpoint.base_url}"\nca_bundle = "{crm.endpoint.ca_path}"\n'
            f'username = "{INTEGRATION_USERNAME}"\npassword = "sandbox-password"\n'
            f'security_token = "sandboxsecuritytoken"\n{extra}')


def test_given_a_rate_limit_on_soap_login_then_check_retries_and_passes(salesforce):
    config = salesforce.config(connection=login_connection(salesforce, oauth=False))
    salesforce.sandbox.controls.add_fault("rate_limit", endpoint="soap_login", count=1)
    result = invoke("check", "--config", config)
    assert result.exit_code == 0, result.stderr
    assert salesforce.calls()["soap_login"] == 2


def test_given_a_token_endpoint_answering_500_then_run_stops_as_an_outage_not_an_internal_error(salesforce):
    config = salesforce.config(connection=login_connection(salesforce, oauth=True))
    salesforce.sandbox.controls.add_fault("server_error", endpoint="oauth_token")
    result = invoke("run", "--config", config)
    assert result.exit_code == 4, result.stderr
    assert "login failed with HTTP 500" in result.stderr
    assert "internal error" not in result.stderr and "refused the credentials" not in result.stderr
