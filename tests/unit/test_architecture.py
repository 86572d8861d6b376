"""The shape of the code, held by tests: dependencies point one way, the core stays pure, and
vendor field names live only in mappings/ and connector/<vendor>/."""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "jobs" / "core"
PURE_CORE = sorted(str(p.relative_to(ROOT)) for p in CORE.rglob("*.py") if p.name != "__init__.py")
"""Every module of jobs/core/ is the pure core: the folder, not a list, says what is pure."""
PURE_ALLOWED_OUTSIDE = {"connector.model", "connector.actions", "connector.mapping", "connector.errors",
                        "connector.text_limits", "connector.rich_text"}
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


# -- vendor field names ------------------------------------------------------------------------

VENDOR_FOLDERS = ("connector/hubspot", "connector/salesforce")
ORDINARY_WORDS = {"pipeline"}
"""HubSpot property names that are also ordinary English in prose ("the logging pipeline")."""


def _mappings() -> list[dict]:
    # The field mappings, not the playbook files beside them (mappings/<crm>.playbooks.toml).
    return [tomllib.loads(path.read_text(encoding="utf-8")) for path in sorted((ROOT / "mappings").glob("*.toml"))
            if not path.name.endswith(".playbooks.toml")]


def _neutral_names() -> set[str]:
    """Names the neutral model and the canonical fields use themselves: not vendor names."""
    import connector.model as model

    names = {f.name for obj in vars(model).values() if dataclasses.is_dataclass(obj) for f in dataclasses.fields(obj)}
    return names | {canonical for mapping in _mappings() for canonical in mapping["fields"]}


def _mapping_vendor_names() -> set[str]:
    names = set()
    for mapping in _mappings():
        names.add(mapping["task"]["key_field"])
        names |= {field["crm"] for canonical, field in mapping["fields"].items() if field["crm"] != canonical}
    return names


def _looks_like_a_vendor_name(part: str, in_a_property_list: bool) -> bool:
    return (part.startswith(("hs_", "hubspot_")) or part.endswith("__c")
            or (re.search(r"[a-z][A-Z]", part) is not None and not part.isupper())
            or (in_a_property_list and part.islower()))


def _adapter_vendor_names() -> set[str]:
    """Field names in the adapters' own constants (module-level UPPER_CASE assignments): Salesforce
    API names (CamelCase, ``__c``), HubSpot internal names (``hs_*``), and the values of the
    HubSpot ``*_PROPERTIES`` lists. Dict keys are left out (they are AfterClose's own names)."""
    names: set[str] = set()
    for folder in VENDOR_FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, ast.AnnAssign) else []
                constants = [t.id for t in targets if isinstance(t, ast.Name) and t.id.lstrip("_").isupper()]
                if not constants or node.value is None:
                    continue
                keys = {id(k) for d in ast.walk(node.value) if isinstance(d, ast.Dict) for k in d.keys if k}
                in_list = any(name.endswith("PROPERTIES") for name in constants)
                for value in ast.walk(node.value):
                    if not isinstance(value, ast.Constant) or not isinstance(value.value, str) or id(value) in keys:
                        continue
                    if value.value.startswith(("POST ", "GET ", "PATCH ", "DELETE ")):
                        continue  # endpoint labels
                    for token in re.findall(r"[A-Za-z][A-Za-z0-9_.]*", value.value):
                        names |= {p for p in token.split(".") if _looks_like_a_vendor_name(p, in_list)}
    return names


VENDOR_NAMES = sorted((_mapping_vendor_names() | _adapter_vendor_names()) - _neutral_names() - ORDINARY_WORDS
                      - {"AfterClose"})


def test_the_vendor_name_list_is_derived_and_catches_both_crms():
    # A derived list that silently came out empty would make the next test pass for nothing.
    assert {"hs_timestamp", "hs_lastmodifieddate", "dealstage", "AfterClose_Key__c", "SystemModstamp",
            "WhatId", "Decision_Criteria__c", "hs_feedback_last_survey_date"} <= set(VENDOR_NAMES)


def test_vendor_field_names_live_only_in_mappings_and_vendor_folders():
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, VENDOR_NAMES)) + r")\b")
    allowed = tuple(f"{folder}/" for folder in VENDOR_FOLDERS) + ("connector/sandbox/", "mappings/")
    offenders = []
    for folder in ("connector", "jobs"):
        for path in python_files(folder):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(allowed):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line) and not line.lstrip().startswith("#"):
                    offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []


def test_only_the_demo_and_the_sandbox_command_reach_the_sandboxes():
    """`serve` and `run` must not depend on test servers (they once imported the sandbox's HTTP
    helper); the demo, `afterclose sandbox` and the wiring that builds them may."""
    allowed = {"jobs/wiring.py", "jobs/cli/demo.py", "jobs/cli/sandbox.py"}
    offenders = sorted(str(p.relative_to(ROOT)) for p in python_files("jobs")
                       if str(p.relative_to(ROOT)) not in allowed
                       and any(m.startswith("connector.sandbox") for m in imports_of(p)))
    assert offenders == []
