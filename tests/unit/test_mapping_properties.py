"""Whatever an admin types, the loader answers with a FieldMap or a ConfigError, never a traceback."""

from __future__ import annotations

import copy
import json
import math
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ConfigError
from connector.mapping import FieldMap, builtin_mapping, parse_mapping
from connector.model import Provider

BASE = tomllib.loads(builtin_mapping(Provider.HUBSPOT).read_text(encoding="utf-8"))
WORDS = ("text", "enum", "date", "deal", "company", "required", "min_length", "date_after",
         "allowed_values", "close_date", "customer_goal", "renewal_date", "{deal_name}", "{x",
         "}", "{}", "hubspot", "salesforce", "Decision Criteria", "")


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_string(text: str) -> str:
    # JSON string escapes are TOML's, except that TOML wants DEL escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def to_toml(document: dict) -> str:
    return "\n".join(f"{toml_string(key)} = {toml_value(value)}" for key, value in document.items())


scalars = (st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats()
           | st.text(st.characters(exclude_categories=("Cs",))) | st.sampled_from(WORDS))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8) | st.sampled_from(WORDS), inner, max_size=3),
                      max_leaves=12)


def paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from paths(child, (*prefix, key))


PATHS = [p for p in paths(BASE) if p]


def assert_fieldmap_or_config_error(text: str) -> FieldMap | ConfigError:
    try:
        fieldmap = parse_mapping(text, source="fuzz.toml")
    except ConfigError as error:
        assert error.source == "fuzz.toml"
        assert error.key
        assert str(error).startswith(f"fuzz.toml: {error.key}: ")
        return error
    assert isinstance(fieldmap, FieldMap)
    assert "default" in fieldmap.templates
    assert all(rule.field is None or rule.field in fieldmap.fields for rule in fieldmap.handoff_rules)
    return fieldmap


@given(st.text())
def test_arbitrary_text_gives_fieldmap_or_config_error(text):
    assert_fieldmap_or_config_error(text)


@given(st.dictionaries(st.text(max_size=10) | st.sampled_from(tuple(BASE)), values, max_size=6))
def test_arbitrary_tables_give_fieldmap_or_config_error(document):
    assert_fieldmap_or_config_error(to_toml(document))


@settings(max_examples=300)
@given(st.data())
def test_builtin_mapping_with_random_edits_gives_fieldmap_or_config_error(data):
    document = copy.deepcopy(BASE)
    for _ in range(data.draw(st.integers(1, 3))):
        edit(document, data.draw(st.sampled_from(PATHS)), data.draw(st.sampled_from(("delete", "replace", "add"))),
             data.draw(values), data.draw(st.text(max_size=10) | st.sampled_from(WORDS)))
    assert_fieldmap_or_config_error(to_toml(document))


def edit(document: dict, path: tuple, action: str, value: object, new_key: str) -> None:
    parent = document
    for part in path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return  # an earlier edit removed this path
    last = path[-1]
    if not isinstance(parent, (dict, list)) or (isinstance(parent, list) and (not isinstance(last, int) or last >= len(parent))):
        return
    if isinstance(parent, dict) and last not in parent:
        return
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif isinstance(parent[last], dict):
        parent[last][new_key] = value


def test_unchanged_builtin_document_round_trips_through_the_writer():
    assert isinstance(assert_fieldmap_or_config_error(to_toml(BASE)), FieldMap)
