"""Logging in goes through the one classification table like every other call: a rate-limit or
server-error answer on the SOAP login or the OAuth token endpoint is retried, the daily cap stops
the run to resume later, and only an answer that refuses the credentials is reported as such,
after exactly one try (retrying a refused login can lock the user out). Faults come from the
Salesforce sandbox's own fault injection on its login routes."""

from __future__ import annotations

import pytest

from connector.errors import AuthError, QuotaExhaustedError, RetriableError
from connector.mapping import builtin_mapping, load_mapping
from connector.retry import RetrySettings
from connector.salesforce import SalesforceAdapter, SalesforceSettings
from connector.sandbox.demo import demo_dataset
from connector.sandbox.salesforce import SalesforceSandbox
from connector.sandbox.salesforce.auth import ConnectedApp
from connector.sandbox.salesforce.sandbox import INTEGRATION_USERNAME

FAST = RetrySettings(attempts=4, base_seconds=0.01, max_seconds=0.05)
LABELS = {"soap": "soap_login", "oauth": "oauth_token"}


@pytest.fixture(scope="module")
def org():
    sandbox = SalesforceSandbox()
    sandbox.load(demo_dataset())
    with sandbox.serve() as endpoint:
        yield sandbox, endpoint


@pytest.fixture(autouse=True)
def clean(org):
    sandbox, _ = org
    sandbox.controls.clear_faults()
    sandbox.controls.reset_calls()
    yield
    sandbox.controls.clear_faults()


def adapter(endpoint, flow: str, password: str = "sandbox-password") -> SalesforceAdapter:
    values = {"domain": endpoint.base_url, "ca_bundle": str(endpoint.ca_path), "timeout_seconds": 5,
              "username": INTEGRATION_USERNAME, "password": password, "security_token": "sandboxsecuritytoken"}
    if flow == "oauth":
        app = ConnectedApp()
        values |= {"consumer_key": app.client_id, "consumer_secret": app.client_secret}
    return SalesforceAdapter(settings=SalesforceSettings(**values), fieldmap=load_mapping(builtin_mapping("salesforce")),
                             retry=FAST)


@pytest.mark.parametrize("flow", ["soap", "oauth"])
@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "drop_before"])
def test_given_a_transient_fault_on_login_then_the_login_is_retried_and_the_call_succeeds(org, flow, fault):
    sandbox, endpoint = org
    sandbox.controls.add_fault(fault, endpoint=LABELS[flow], count=2)
    with adapter(endpoint, flow) as crm:
        assert crm.check_schema() is not None
    assert sandbox.controls.snapshot()[LABELS[flow]] == 3


@pytest.mark.parametrize("flow", ["soap", "oauth"])
def test_given_a_login_server_that_keeps_failing_then_a_retriable_error_after_every_attempt(org, flow):
    sandbox, endpoint = org
    sandbox.controls.add_fault("server_error", endpoint=LABELS[flow])
    with adapter(endpoint, flow) as crm, pytest.raises(RetriableError) as raised:
        crm.check_schema()
    assert raised.value.status == 500 and "login" in str(raised.value)
    assert sandbox.controls.snapshot()[LABELS[flow]] == FAST.attempts


@pytest.mark.parametrize("flow", ["soap", "oauth"])
def test_given_the_daily_cap_on_login_then_the_run_stops_to_resume_later(org, flow):
    sandbox, endpoint = org
    sandbox.controls.add_fault("quota", endpoint=LABELS[flow])
    with adapter(endpoint, flow) as crm, pytest.raises(QuotaExhaustedError):
        crm.check_schema()
    assert sandbox.controls.snapshot()[LABELS[flow]] == 1


@pytest.mark.parametrize("flow", ["soap", "oauth"])
def test_given_a_wrong_password_then_refused_after_one_try(org, flow):
    sandbox, endpoint = org
    with adapter(endpoint, flow, password="not-the-password") as crm, pytest.raises(AuthError) as raised:
        crm.check_schema()
    assert sandbox.controls.snapshot()[LABELS[flow]] == 1
    assert "INVALID_LOGIN" in str(raised.value) or "invalid_grant" in str(raised.value)
