"""The adapter contract runs over every CRM harness (see harness.py): the in-memory CRM and both
sandboxes, each with the demo data set."""

from __future__ import annotations

import importlib

import pytest

CONTRACT_PAGE_SIZE = 10
"""Deals per page in the contract suite: the demo set's 36 won deals make four pages on every
harness, so what the suite says about paging and cursors is tested across page boundaries."""


@pytest.fixture(params=["fake", "hubspot", "salesforce"])
def harness(request):
    module = importlib.import_module(f"tests.contract.{request.param}_harness")
    with module.open_harness(page_size=CONTRACT_PAGE_SIZE) as h:
        yield h
