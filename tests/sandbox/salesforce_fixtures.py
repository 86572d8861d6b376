"""Fixtures for the Salesforce sandbox conformance suite: a TLS sandbox with the demo data and the
unmodified simple-salesforce client talking to it over real HTTPS."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

import pytest
import simple_salesforce

from connector.sandbox import SandboxEndpoint
from connector.sandbox.demo import demo_dataset
from connector.sandbox.salesforce import SalesforceSandbox, sdk_session

SF_ANCHOR = dt.date(2026, 3, 2)


@dataclass
class SfOrg:
    sandbox: SalesforceSandbox
    endpoint: SandboxEndpoint
    sf: simple_salesforce.Salesforce

    def client(self, **kwargs) -> simple_salesforce.Salesforce:
        """Another direct-mode client (own session) on the same org."""
        kwargs.setdefault("session_id", self.endpoint.token)
        return simple_salesforce.Salesforce(instance_url=self.endpoint.base_url,
                                            session=sdk_session(self.endpoint.ca_path), **kwargs)


@pytest.fixture
def sf_org_factory():
    """``make(**SalesforceSandbox kwargs, demo=True)`` -> a served SfOrg, closed after the test."""
    with contextlib.ExitStack() as stack:
        def make(*, demo: bool = True, **kwargs) -> SfOrg:
            sandbox = SalesforceSandbox(**kwargs)
            if demo:
                sandbox.load(demo_dataset(anchor=SF_ANCHOR))
            endpoint = stack.enter_context(sandbox.serve())
            sf = simple_salesforce.Salesforce(instance_url=endpoint.base_url, session_id=endpoint.token,
                                              session=sdk_session(endpoint.ca_path))
            return SfOrg(sandbox=sandbox, endpoint=endpoint, sf=sf)
        yield make


@pytest.fixture
def sf_org(sf_org_factory) -> SfOrg:
    return sf_org_factory()


@pytest.fixture(scope="module")
def sf_shared():
    """One served demo org per test module, for tests that only read (faster than one per test)."""
    sandbox = SalesforceSandbox()
    sandbox.load(demo_dataset(anchor=SF_ANCHOR))
    with sandbox.serve() as endpoint:
        sf = simple_salesforce.Salesforce(instance_url=endpoint.base_url, session_id=endpoint.token,
                                          session=sdk_session(endpoint.ca_path))
        yield SfOrg(sandbox=sandbox, endpoint=endpoint, sf=sf)
