"""Reading a playbook's ``when`` from the config or a playbook file into a core ``Condition``.

The shapes (docs/playbooks.md):

    when = { field = "deal_type", equals = "Renewal" }
    when = { field = "amount", at_least = 50000, below = 250000 }
    when = { field = "pipeline", one_of = ["default", "75310246"] }
    when = { field = "csm_owner", empty = false }
    when = { all = [ {...}, {...} ] }        # or any = [...]

Every problem raises ``ConditionProblem`` with the dotted key below ``when`` and what to write
instead; jobs/playbooks/__init__.py adds the file and the playbook.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.mapping.rules import suggest
from jobs.core.conditions import AllOf, AnyOf, Condition, FieldTest

_TESTS = ("equals", "one_of", "none_of", "at_least", "below", "empty")
_EXAMPLE = '{ field = "deal_type", equals = "Renewal" }'


class ConditionProblem(ValueError):
    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def parse_condition(raw: object, key: str = "when") -> Condition:
    if not isinstance(raw, Mapping):
        raise ConditionProblem(key, f"must be a table like {_EXAMPLE}, or {{ all = [...] }} / {{ any = [...] }}")
    groups = [name for name in ("all", "any") if name in raw]
    if groups:
        return _group(raw, groups, key)
    return _field_test(raw, key)


def _group(raw: Mapping[str, Any], groups: list[str], key: str) -> Condition:
    if len(groups) > 1 or len(raw) > 1:
        raise ConditionProblem(key, "a table with `all` or `any` holds nothing else; nest the other tests inside it")
    name = groups[0]
    parts = raw[name]
    if not isinstance(parts, list) or not parts:
        raise ConditionProblem(f"{key}.{name}", f"must be a non-empty list of conditions, like [{_EXAMPLE}]")
    parsed = tuple(parse_condition(part, f"{key}.{name}[{index}]") for index, part in enumerate(parts))
    return AllOf(parts=parsed) if name == "all" else AnyOf(parts=parsed)


def _field_test(raw: Mapping[str, Any], key: str) -> FieldTest:
    for name in raw:
        if name != "field" and name not in _TESTS:
            known = suggest(str(name), ("field", *_TESTS, "all", "any"))
            raise ConditionProblem(f"{key}.{name}", f"unknown key{known}; a test is one of: {', '.join(_TESTS)}")
    field = raw.get("field")
    if not isinstance(field, str) or not field.strip():
        raise ConditionProblem(f"{key}.field", f"names the fact to test, like {_EXAMPLE}")
    values: dict[str, Any] = {"field": field.strip()}
    if "equals" in raw:
        values["equals"] = _equals(raw["equals"], f"{key}.equals")
    for name, target in (("one_of", "one_of"), ("none_of", "not_one_of")):
        if name in raw:
            values[target] = _texts(raw[name], f"{key}.{name}")
    for name in ("at_least", "below"):
        if name in raw:
            values[name] = _number(raw[name], f"{key}.{name}")
    if "empty" in raw:
        if not isinstance(raw["empty"], bool):
            raise ConditionProblem(f"{key}.empty", "must be true or false")
        values["empty"] = raw["empty"]
    try:
        return FieldTest(**values)
    except ValueError as exc:
        raise ConditionProblem(key, str(exc)) from None


def _equals(value: object, key: str) -> str | Decimal:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value, key)
    if isinstance(value, str):
        return value
    raise ConditionProblem(key, "must be a text or a number")


def _texts(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConditionProblem(key, 'must be a non-empty list, like ["Renewal", "Existing Customer - Upgrade"]')
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ConditionProblem(key, "must list texts or numbers")
        out.append(str(item))
    return tuple(out)


def _number(value: object, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConditionProblem(key, "must be a number, like 50000")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():  # TOML allows inf and nan; neither compares with an amount
        raise ConditionProblem(key, "must be a finite number, like 50000")
    return number
