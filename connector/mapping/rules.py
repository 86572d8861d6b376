"""What each handoff rule's ``value`` may be, and what a template placeholder may look like: the
checks the compiler runs, one function per rule kind."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping

from connector.mapping.model import FieldSpec, FieldType, RuleKind

CLOSE_DATE = "close_date"
"""What a ``date_after`` rule names to compare with the deal's own close date."""
_DATE_TYPES = (FieldType.DATE, FieldType.DATETIME)


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def placeholder_problem(name: str, spec: str | None, conversion: str | None,
                         allowed: set[str]) -> str | None:
    if name == "":
        return "empty placeholder {}: name the value, e.g. {deal_name}"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return f"placeholder {{{name}}} must be a plain name (no dots, brackets or spaces)"
    if spec or conversion:
        return f"placeholder {{{name}}} cannot carry a format (':' or '!'); write {{{name}}}"
    if name not in allowed:
        return (f"unknown placeholder {{{name}}}{suggest(name, allowed)}; see mappings/README.md "
                "for the list (declared field names work too)")
    return None


def _check_required(spec: FieldSpec, value: object, given: bool, fields: Mapping[str, FieldSpec]) -> str | None:
    return "a required rule takes no value" if given else None


def _check_min_length(spec: FieldSpec, value: object, given: bool, fields: Mapping[str, FieldSpec]) -> str | None:
    if spec.type is not FieldType.TEXT:
        return f"min_length applies to text fields; {spec.canonical} is {spec.type}"
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        return "min_length needs value = a whole number of characters, 1 or more"
    return None


def _check_allowed_values(spec: FieldSpec, value: object, given: bool, fields: Mapping[str, FieldSpec]) -> str | None:
    if spec.type not in (FieldType.TEXT, FieldType.ENUM):
        return f"allowed_values applies to text and enum fields; {spec.canonical} is {spec.type}"
    if not isinstance(value, list) or not value or not all(
            isinstance(item, str) and item.strip() for item in value):
        return "allowed_values needs value = an array of non-blank strings"
    if len(set(value)) != len(value):
        return "allowed_values lists a value twice"
    return None


def _check_date_after(spec: FieldSpec, value: object, given: bool, fields: Mapping[str, FieldSpec]) -> str | None:
    if spec.type not in _DATE_TYPES:
        return f"date_after applies to date fields; {spec.canonical} is {spec.type}"
    if not isinstance(value, str):
        return f"date_after needs value = {CLOSE_DATE!r} or the name of another date field"
    if value == spec.canonical:
        return "a field cannot be compared with itself"
    if value == CLOSE_DATE:
        return None
    other = fields.get(value)
    if other is None:
        dates = [CLOSE_DATE, *(name for name, f in fields.items() if f.type in _DATE_TYPES)]
        return f"{value!r} is neither {CLOSE_DATE!r} nor a declared field{suggest(value, dates)}"
    if other.type not in _DATE_TYPES:
        return f"{value!r} is {other.type}, not a date field"
    return None


RuleCheck = Callable[[FieldSpec, object, bool, Mapping[str, FieldSpec]], str | None]
RULE_VALUE_CHECKS: Mapping[RuleKind, RuleCheck] = {
    RuleKind.REQUIRED: _check_required,
    RuleKind.MIN_LENGTH: _check_min_length,
    RuleKind.ALLOWED_VALUES: _check_allowed_values,
    RuleKind.DATE_AFTER: _check_date_after,
}
