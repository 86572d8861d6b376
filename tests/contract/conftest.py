"""The adapter contract runs over every CRM harness (see harness.py)."""

from __future__ import annotations

import importlib

import pytest


@pytest.fixture(params=["hubspot", "salesforce"])
def harness(request):
    module = importlib.import_module(f"tests.contract.{request.param}_harness")
    with module.open_harness() as h:
        yield h
