"""config.example.toml never drifts from the Settings model: it loads, and documents every key."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from connector.nps import NpsSourceConfig
from jobs.config import Settings
from jobs.config_messages import model_in as _model_in

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
TABLE = re.compile(r"^#?\s*\[\[?([a-z_.]+)\]\]?\s*$")
KEY = re.compile(r"^#?\s?([a-z_0-9]+) = ")
FREE_FORM_TABLES = ("nps.columns", "nps.params", "nps.field_paths")  # their entries are examples, not model keys


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("AFTERCLOSE_"):
            monkeypatch.delenv(name)


def model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        nested = _model_in(field.annotation)
        keys |= model_keys(nested, f"{dotted}.") if nested else {dotted}
    return keys


def documented_keys() -> dict[str, int]:
    """Dotted key -> line number, for keys set or shown commented out (``# key = value``)."""
    keys, table = {}, ""
    for number, line in enumerate(EXAMPLE.read_text(encoding="utf-8").splitlines(), start=1):
        if match := TABLE.match(line):
            table = match.group(1)
            keys.setdefault(table, number)
        elif match := KEY.match(line):
            keys[f"{table}.{match.group(1)}"] = number
    return keys


def test_example_config_loads_with_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCLOSE_HUBSPOT__ACCESS_TOKEN", "pat-na1-example")
    settings = Settings.load(EXAMPLE)
    assert settings.crm.provider == "hubspot"
    assert settings.file_warnings() == []  # it holds no secrets


def test_every_setting_is_documented_in_the_example() -> None:
    missing = model_keys(Settings) - set(documented_keys())
    assert not missing, f"add these keys to config.example.toml: {sorted(missing)}"


def test_every_key_in_the_example_exists_in_the_model() -> None:
    known = model_keys(Settings) | {key.rsplit(".", 1)[0] for key in model_keys(Settings)}
    stale = {key for key in documented_keys() if key not in known and key.rsplit(".", 1)[0] not in FREE_FORM_TABLES}
    assert not stale, f"config.example.toml documents keys the model does not have: {sorted(stale)}"


def test_every_key_in_the_example_has_a_comment_above_it() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    uncommented = [
        key for key, number in documented_keys().items()
        if "." in key and key.rsplit(".", 1)[0] not in FREE_FORM_TABLES  # example entries of a table
        and not (lines[number - 2].startswith("#") and not KEY.match(lines[number - 2]))
    ]
    assert not uncommented, f"explain these keys with a comment line above them: {sorted(uncommented)}"


def test_nps_defaults_are_the_nps_sources_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCLOSE_HUBSPOT__ACCESS_TOKEN", "pat-na1-example")
    assert Settings.load(EXAMPLE).nps_source_config() == NpsSourceConfig(source="none")


def test_every_setting_has_a_description() -> None:
    def undescribed(model: type[BaseModel], prefix: str = "") -> list[str]:
        found = []
        for name, field in model.model_fields.items():
            if not field.description:
                found.append(f"{prefix}{name}")
            if nested := _model_in(field.annotation):
                found += undescribed(nested, f"{prefix}{name}.")
        return found

    assert undescribed(Settings) == []
