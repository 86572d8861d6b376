"""Garbage in from users: property-based fuzzing of mapping files, config files and NPS CSVs.

Whatever the file holds, loading it ends in a value or in one ``ConfigError`` naming the file
(and where known the key and line); a CSV's bad rows become per-row findings with a reason. And
a config or mapping that is rejected leads to no CRM write at all.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from connector.errors import AfterCloseError, ConfigError
from connector.mapping import PLACEHOLDERS, FieldMap, builtin_mapping, parse_mapping, render_template
from connector.nps import NpsSourceConfig
from connector.nps.csv_source import read_csv_file
from connector.sandbox.demo import demo_dataset
from jobs.config import Settings
from tests.reliability.crm import ANCHOR, FAST_RETRY, build_adapter, open_crm
from tests.reliability.runs import run_here

FUZZ = settings(max_examples=60, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
EXAMPLE_CONFIG = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text()

odd_text = st.one_of(st.text(max_size=30), st.sampled_from(
    ["", "\x00", "\u202e", "🚀", "' OR Id != null", "\\", "${HOME}", "../../etc/passwd", "x" * 5000, "2026-02-30"]))
toml_literal = st.one_of(
    odd_text.map(json.dumps), st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(
        str(f), repr(f))),
    st.booleans().map(lambda b: str(b).lower()), st.just("[]"), st.just('["a", 1]'), st.just("{}"),
    st.just("2026-02-02"), st.just("1979-05-27T07:32:00Z"), st.just('"""multi\nline"""'), st.just("= broken"),
)


def mutate(text: str, data: st.DataObject) -> str:
    """Replace one value, delete one line, add an unknown key, or insert junk, at a drawn line."""
    lines = text.splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    kind = data.draw(st.sampled_from(["value", "delete", "unknown", "junk", "duplicate"]))
    line = lines[index]
    if kind == "value" and "=" in line and not line.lstrip().startswith("#"):
        lines[index] = f"{line.split('=', 1)[0]}= {data.draw(toml_literal)}"
    elif kind == "delete":
        del lines[index]
    elif kind == "unknown":
        lines.insert(index, f"{data.draw(st.from_regex(r'[a-z_]{1,12}', fullmatch=True))} = {data.draw(toml_literal)}")
    elif kind == "duplicate":
        lines.insert(index, line)
    else:
        lines.insert(index, data.draw(odd_text))
    return "\n".join(lines) + "\n"


def assert_names_the_file(error: ConfigError, source: str) -> None:
    assert source in str(error), f"the error does not name {source}: {error}"


# -- mappings ----------------------------------------------------------------------------------

def assert_consistent(fieldmap: FieldMap) -> None:
    """What the rest of AfterClose relies on from any mapping that loads."""
    assert fieldmap.source == "fuzzed-mapping.toml" and fieldmap.task_key_field
    assert "default" in fieldmap.templates
    assert all(rule.field is None or rule.field in fieldmap.fields for rule in fieldmap.handoff_rules)
    values = {name: f"<{name}>" for name in (*PLACEHOLDERS, *fieldmap.fields)}
    for template in fieldmap.templates.values():
        assert "\n" not in render_template(template.subject, values)
        render_template(template.body, values)  # every placeholder it uses is one the loader accepted


@FUZZ
@given(data=st.data(), provider=st.sampled_from(["hubspot", "salesforce"]))
def test_given_mutated_mapping_file_then_a_fieldmap_or_a_config_error_naming_the_file(data, provider):
    text = builtin_mapping(provider).read_text()
    for _ in range(data.draw(st.integers(1, 3))):
        text = mutate(text, data)
    try:
        fieldmap = parse_mapping(text, source="fuzzed-mapping.toml")
    except ConfigError as error:
        assert_names_the_file(error, "fuzzed-mapping.toml")
        return
    assert_consistent(fieldmap)


@FUZZ
@given(text=st.text(max_size=300))
def test_given_any_text_as_mapping_then_a_fieldmap_or_a_config_error(text):
    try:
        parse_mapping(text, source="any.toml")
    except ConfigError as error:
        assert_names_the_file(error, "any.toml")


# -- config files --------------------------------------------------------------------------------

@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("AFTERCLOSE_"):
            monkeypatch.delenv(name)


@FUZZ
@given(data=st.data())
def test_given_mutated_config_file_then_settings_or_one_config_error_naming_the_file(data, tmp_path, clean_env):
    text = EXAMPLE_CONFIG.replace('# access_token = "pat-na1-..."', 'access_token = "pat-na1-canary"')
    for _ in range(data.draw(st.integers(1, 3))):
        text = mutate(text, data)
    path = tmp_path / "fuzzed.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        Settings.load(path)
    except ConfigError as error:
        assert_names_the_file(error, "fuzzed.toml")
        assert "pat-na1-canary" not in str(error)  # values, let alone secrets, are never echoed


# -- NPS CSV files --------------------------------------------------------------------------------

csv_cell = st.one_of(odd_text, st.sampled_from(["11", "-1", "9.5", "10", "0", "NaN", "", "a@b.c", "A@B.C ",
                                                "2026-01-05", "05/01/2026", "2026-01-05T10:00:00", "1e3"]))
csv_header = st.lists(st.sampled_from(["response_id", "Email", "score", "Responded At", "comment", "account_id",
                                       "", "score", "junk"]), min_size=1, max_size=7)


@FUZZ
@given(header=csv_header, rows=st.lists(st.lists(csv_cell, max_size=8), max_size=12),
       delimiter=st.sampled_from([",", ";", "\t"]), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_given_garbage_nps_csv_then_responses_and_per_row_findings_or_a_config_error(header, rows, delimiter,
                                                                                     encoding, tmp_path):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "responses.csv"
    path.write_bytes(buffer.getvalue().encode(encoding, errors="surrogatepass"))
    try:
        batch = read_csv_file(path, NpsSourceConfig(source="csv", path=path))
    except ConfigError as error:
        assert_names_the_file(error, "responses.csv")
        return
    assert all(0 <= r.score <= 10 and r.responded_at.tzinfo for r in batch.responses)
    assert all(row.reason for row in batch.rejected)
    assert len({r.response_id for r in batch.responses}) == len(batch.responses)


# -- a rejected mapping writes nothing -------------------------------------------------------------

@pytest.fixture(scope="module")
def hubspot_crm():
    with open_crm("hubspot", demo_dataset(anchor=ANCHOR)) as crm:
        yield crm


@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_given_rejected_mapping_then_the_crm_sees_no_write(data, hubspot_crm, tmp_path_factory):
    text = mutate(builtin_mapping("hubspot").read_text(), data)
    state = tmp_path_factory.mktemp("state") / "state.db"
    writes = hubspot_crm.write_calls()
    try:
        fieldmap = parse_mapping(text, source="fuzzed-mapping.toml")
        with build_adapter("hubspot", hubspot_crm.settings_values(), fieldmap, retry=FAST_RETRY,
                           page_size=hubspot_crm.page_size) as adapter:
            run_here(dataclasses.replace(hubspot_crm, fieldmap=fieldmap), f"sqlite:///{state}", adapter=adapter)
    except (ConfigError, AfterCloseError) as error:
        if isinstance(error, ConfigError):
            assert hubspot_crm.write_calls() == writes, f"{error} came after a write"
