"""The adapter contract runs over every CRM harness (see harness.py): Salesforce, and HubSpot in
both task key modes (a portal that refuses unique task properties, the sandbox's default, and one
that grants them)."""

from __future__ import annotations

import importlib

import pytest

CRMS = ["hubspot-refuse", "hubspot-grant", "salesforce"]
"""``<provider>[-<HubSpot task uniqueness>]``: each CRM the contract must hold on."""


def open_crm_harness(name: str, **options):
    """The harness for one entry of ``CRMS`` (``hubspot-ignore`` too)."""
    provider, _, mode = name.partition("-")
    module = importlib.import_module(f"tests.contract.{provider}_harness")
    return module.open_harness(**options, **({"mode": mode} if mode else {}))


@pytest.fixture(params=CRMS)
def harness(request):
    with open_crm_harness(request.param) as h:
        yield h
