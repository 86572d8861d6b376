"""Fixtures for the sandbox conformance suites (each sandbox keeps its own fixture module)."""

from tests.sandbox.hubspot_fixtures import _hubspot_switch, hs, hs_factory  # noqa: F401 - pytest fixtures
from tests.sandbox.salesforce_fixtures import sf_org, sf_org_factory, sf_shared  # noqa: F401 - pytest fixtures
