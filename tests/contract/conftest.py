"""The adapter contract runs over every CRM harness (see harness.py): the in-memory CRM,
Salesforce, and HubSpot in both task key modes (a portal that refuses unique task properties, the
sandbox's default, and one that grants them), each with the demo data set."""

from __future__ import annotations

import importlib

import pytest

CRMS = ["fake", "hubspot-refuse", "hubspot-grant", "salesforce"]
"""``<provider>[-<HubSpot task uniqueness>]``: each CRM the contract must hold on."""
SANDBOXES = [crm for crm in CRMS if crm != "fake"]
"""The CRMs that speak HTTP: where a test is about what goes over the wire."""
CONTRACT_PAGE_SIZE = 10
"""Deals per page in the contract suite: the demo set's 36 won deals make four pages on every
harness, so what the suite says about paging and cursors is tested across page boundaries."""


def open_crm_harness(name: str, **options):
    """The harness for one entry of ``CRMS`` (``hubspot-ignore`` too)."""
    provider, _, mode = name.partition("-")
    module = importlib.import_module(f"tests.contract.{provider}_harness")
    return module.open_harness(**options, **({"mode": mode} if mode else {}))


@pytest.fixture(params=CRMS)
def harness(request):
    with open_crm_harness(request.param, page_size=CONTRACT_PAGE_SIZE) as h:
        yield h
