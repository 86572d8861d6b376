"""The shape of the code, held by tests: dependencies point one way, the core stays pure, and
vendor field names live only in mappings/ and connector/<vendor>/."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "jobs" / "core"
PURE_CORE = sorted(str(p.relative_to(ROOT)) for p in CORE.rglob("*.py") if p.name != "__init__.py")
"""Every module of jobs/core/ is the pure core: the folder, not a list, says what is pure."""
PURE_ALLOWED_OUTSIDE = {"connector.model", "connector.actions", "connector.mapping", "connector.errors"}
VENDOR_NAMES = re.compile(
    r"\b(hs_timestamp|hs_task_\w+|hubspot_owner_id|hs_lastmodifieddate|dealstage|AfterClose_Key__c|"
    r"SystemModstamp|OpportunityContactRoles?|ActivityDate|WhatId|WhoId|Decision_Criteria__c)\b"
)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_connector_never_imports_jobs():
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in imports_of(p) if m.split(".")[0] == "jobs")
                 for p in python_files("connector")}
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("module", PURE_CORE)
def test_pure_core_imports_only_the_standard_library_and_the_neutral_model(module):
    path = ROOT / module
    stdlib = sys.stdlib_module_names
    foreign = sorted(m for m in imports_of(path)
                     if m.split(".")[0] not in stdlib and m not in PURE_ALLOWED_OUTSIDE and not m.startswith("jobs.core")
                     and m != "__future__")
    assert foreign == []


@pytest.mark.parametrize("module", PURE_CORE)
def test_pure_core_never_reads_the_clock(module):
    text = (ROOT / module).read_text(encoding="utf-8")
    assert not re.search(r"\b(datetime|dt)\.(now|utcnow|today)\(|\bdate\.today\(|time\.time\(", text)


def test_vendor_field_names_live_only_in_mappings_and_vendor_folders():
    allowed = ("connector/hubspot/", "connector/salesforce/", "connector/sandbox/", "mappings/")
    offenders = []
    for folder in ("connector", "jobs"):
        for path in python_files(folder):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(allowed):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if VENDOR_NAMES.search(line) and not line.lstrip().startswith("#"):
                    offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []
