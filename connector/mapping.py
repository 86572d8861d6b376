"""Admin-edited field mappings: mappings/<crm>.toml compiled once into a ``FieldMap``.

A ``FieldMap`` says which CRM field holds each canonical field (``decision_criteria`` -> the
org's own API name), which fields the handoff requires and by which rules, which fields
AfterClose writes back, and the task templates. Vendor field names come from the TOML files
only: this module holds none.

``load_mapping`` refuses a file with one ``ConfigError`` that names the file, the dotted key and
(best effort) the line of every problem it found, so an admin fixes them all in one pass. The
file format is explained key by key in mappings/README.md.

This module uses the standard library only (tomllib, string.Formatter): the pure core
(jobs/core/handoff.py, jobs/core/values.py) imports its types, and the design keeps the pure core free of
third-party imports.
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import json
import re
import string
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from connector.errors import ConfigError
from connector.model import Contact, Provider, RecordKind


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"
    BOOL = "bool"


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldSpec:
    canonical: str
    record: RecordKind
    crm_name: str
    type: FieldType
    options: tuple[str, ...] = ()
    """For enum fields: the values AfterClose may write (checked against the live picklist)."""
    write: bool = False
    """AfterClose writes this field back (it must exist and be updateable)."""
    afterclose_owned: bool = False
    """One of AfterClose's own fields, which ``afterclose setup`` creates where the API allows."""
    label: str = ""
    """How a rep reads the field's name ("Decision criteria"); ``FieldMap.label`` falls back
    to the canonical name when empty."""


class RuleKind(StrEnum):
    REQUIRED = "required"
    MIN_LENGTH = "min_length"
    ALLOWED_VALUES = "allowed_values"
    DATE_AFTER = "date_after"
    MIN_STAKEHOLDERS = "min_stakeholders"
    STAKEHOLDER_ROLE = "stakeholder_role"


@dataclass(frozen=True, kw_only=True, slots=True)
class HandoffRule:
    kind: RuleKind
    field: str | None = None
    """Canonical field the rule checks (None for stakeholder rules)."""
    value: int | str | tuple[str, ...] | None = None
    """min_length: int; allowed_values: tuple; date_after: the other canonical field
    (or "close_date"); min_stakeholders: int; stakeholder_role: the role name."""
    label: str | None = None
    """How the field is named to a rep in the missing list ("Decision criteria")."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskTemplate:
    subject: str
    body: str


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldMap:
    provider: Provider
    source: str
    """The file it was loaded from, for error messages."""
    fields: Mapping[str, FieldSpec]
    handoff_rules: tuple[HandoffRule, ...]
    templates: Mapping[str, TaskTemplate]
    """By touch point id; ``default`` is used for touch points without their own."""
    task_key_field: str
    """The CRM field on tasks that holds AfterClose's idempotency key."""
    extras: Mapping[str, object] = field(default_factory=dict)
    """Vendor-specific settings from the file's ``[<provider>]`` table, for the adapter only."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        object.__setattr__(self, "templates", MappingProxyType(dict(self.templates)))

    def spec(self, canonical: str) -> FieldSpec:
        return self.fields[canonical]

    def has(self, canonical: str) -> bool:
        return canonical in self.fields

    def for_record(self, record: RecordKind) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields.values() if f.record is record)

    def writable(self, record: RecordKind) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.for_record(record) if f.write)

    def template(self, touch_point: str) -> TaskTemplate:
        return self.templates.get(touch_point) or self.templates["default"]

    def label(self, canonical: str) -> str:
        """The field's label for a rep; a readable form of the name when none is declared."""
        spec = self.fields.get(canonical)
        if spec is not None and spec.label:
            return spec.label
        return humanize(canonical)


def humanize(name: str) -> str:
    """``decision_criteria`` -> ``Decision criteria``."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# --- Templates -----------------------------------------------------------------------------

NOT_RECORDED = "(not recorded)"
"""What a placeholder renders as when its value is missing or blank. Words, not a dash, because
a task body is read as prose ("Customer goal: (not recorded)") and should tell the rep the CRM
has nothing, which is itself worth fixing."""

_DEAL_PLACEHOLDERS: Mapping[str, str] = MappingProxyType({
    "deal_name": "the deal's name",
    "deal_id": "the deal's CRM id",
    "company_name": "the deal's company (HubSpot) or account (Salesforce)",
    "owner_name": "the deal owner's name",
    "close_date": "the deal's close date, YYYY-MM-DD",
    "amount": "the deal amount as the CRM holds it",
    "stakeholders": "one line per contact on the deal: name, role, email",
    "missing_fields": "the labels of the handoff fields still missing, comma-separated",
    "touch_point_title": "the touch point's title from the playbook (\"Kickoff call\")",
    "due_date": "the task's due date, YYYY-MM-DD",
    "cycle": "the renewal cycle the task belongs to (1 for the first year, 2 for the second ...)",
    "nps_comment": "the comment of the latest NPS response",
})
_FIELD_PLACEHOLDERS: Mapping[str, str] = MappingProxyType({
    "first_touch_channel": "where the customer first came from",
    "decision_criteria": "the customer's final decision criteria",
    "customer_goal": "what the customer wants to achieve with the purchase",
    "success_criteria": "how the customer will judge success",
    "renewal_date": "the renewal date, YYYY-MM-DD",
    "nps_score": "the latest NPS score, 0-10",
})
PLACEHOLDERS: Mapping[str, str] = MappingProxyType({**_DEAL_PLACEHOLDERS, **_FIELD_PLACEHOLDERS})
"""Placeholders every template may use, with what they hold. Any declared canonical field name
is a placeholder too (its raw value)."""
RESERVED_NAMES = frozenset(_DEAL_PLACEHOLDERS)
"""Names that come from the deal or the playbook, so no mapped field may take them."""


def render_template(template: str, values: Mapping[str, str | None]) -> str:
    """Fill ``{name}`` placeholders; a missing or blank value renders as ``NOT_RECORDED``.

    Pure. Values are inserted as they are (never formatted again), so braces in CRM text are
    harmless. Raises ValueError only for malformed templates, which ``load_mapping`` refuses.
    """
    parts: list[str] = []
    for literal, name in _parsed_template(template):
        parts.append(literal)
        if name is not None:
            value = values.get(name)
            text = "" if value is None else str(value).strip()
            parts.append(text or NOT_RECORDED)
    return "".join(parts)


@functools.lru_cache(maxsize=256)
def _parsed_template(template: str) -> tuple[tuple[str, str | None], ...]:
    """(literal, placeholder) pairs; a mapping has a few templates, rendered for every task."""
    return tuple((literal, name) for literal, name, _spec, _conversion in string.Formatter().parse(template))


def format_stakeholders(contacts: Iterable[Contact]) -> str:
    """The ``{stakeholders}`` value: one line per contact, "- name, role, email" (parts that
    are missing are left out; the primary contact is marked). Empty when there are none."""
    return "\n".join(f"- {_contact_line(contact)}" for contact in contacts)


def _contact_line(contact: Contact) -> str:
    parts = [contact.name or "(name not recorded)", contact.role, contact.email]
    line = ", ".join(part.strip() for part in parts if part and part.strip())
    return f"{line} (primary)" if contact.is_primary else line


# --- Loading ------------------------------------------------------------------------------

def builtin_mapping(provider: Provider | str) -> Path:
    """The path of the mapping shipped for ``provider`` (package data of ``mappings``)."""
    try:
        provider = Provider(provider)
    except ValueError:
        known = ", ".join(p.value for p in Provider)
        raise ConfigError(f"no built-in mapping for {provider!r}; expected one of: {known}",
                          key="provider") from None
    resource = importlib.resources.files("mappings").joinpath(f"{provider.value}.toml")
    return Path(str(resource))


def load_mapping(path: str | Path) -> FieldMap:
    """Read and compile a mapping file; every user mistake is a ``ConfigError``."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the mapping file: {exc.strerror or exc}",
                          source=source, key="(file)") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the file is not UTF-8 text (byte {exc.start})",
                          source=source, key="(file)") from None
    return parse_mapping(text, source=source)


def parse_mapping(text: str, *, source: str = "<mapping>") -> FieldMap:
    """Compile mapping TOML text; ``source`` names it in errors (``load_mapping`` passes the path)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc, text, source) from None
    return _Compiler(source, text).compile(data)


_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_DECLARED_TWICE = re.compile(r"Cannot declare \((.*)\) twice")


def _toml_error(exc: tomllib.TOMLDecodeError, text: str, source: str) -> ConfigError:
    message = str(exc)
    twice = _DECLARED_TWICE.search(message)
    if twice:
        names = (part.strip().strip("'\"") for part in twice.group(1).split(","))
        key = ".".join(name for name in names if name)
        where = _AT_LINE.search(message)
        line = f" (line {where.group(1)})" if where else ""
        return ConfigError(f"declared twice{line}; each name may appear once",
                           source=source, key=key)
    where = _AT_LINE.search(message)
    key = _key_at_line(text, int(where.group(1))) if where else "(end of file)"
    return ConfigError(f"not valid TOML: {message}", source=source, key=key)


# --- Finding a key's line (best effort, for messages only) --------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")

KeyPath = tuple[str | int, ...]


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_key(path: KeyPath) -> str:
    """('handoff', 'rules', 0, 'kind') -> 'handoff.rules[0].kind'; odd names quoted as in TOML."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        out += f".{name}" if out else name
    return out


def _header_parts(inner: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in inner.split("."))


def _headers(lines: Sequence[str]) -> list[tuple[int, tuple[str, ...], bool]]:
    found = []
    for number, line in enumerate(lines, 1):
        match = _HEADER.match(line)
        if match:
            found.append((number, _header_parts(match.group(2)), match.group(1) == "[["))
    return found


def _header_line(headers, prefix: KeyPath) -> int | None:
    """Line of the table header for ``prefix`` (the n-th ``[[a.b]]`` for ('a', 'b', n))."""
    if prefix and isinstance(prefix[-1], int):
        names, index = prefix[:-1], prefix[-1]
        arrays = [n for n, parts, is_array in headers if is_array and parts == names]
        return arrays[index] if index < len(arrays) else None
    if any(isinstance(part, int) for part in prefix):
        return None
    return next((n for n, parts, is_array in headers if parts == prefix and not is_array), None)


def _line_of(text: str, path: KeyPath) -> int | None:
    lines = text.splitlines()
    headers = _headers(lines)
    for cut in range(len(path), 0, -1):
        start = _header_line(headers, path[:cut])
        if start is not None:
            end = next((n for n, _, _ in headers if n > start), len(lines) + 1)
            return _key_line(lines, start, end, path[cut:]) or start
    end = headers[0][0] if headers else len(lines) + 1
    return _key_line(lines, 0, end, path)


def _key_line(lines: Sequence[str], start: int, end: int, rest: KeyPath) -> int | None:
    """The line in (start, end) that assigns the dotted key at the head of ``rest``."""
    names = []
    for part in rest:
        if isinstance(part, int):
            break
        names.append(part)
    if not names:
        return None
    for size in range(len(names), 0, -1):
        pattern = re.compile(r"^\s*" + r"\s*\.\s*".join(
            r"[\"']?" + re.escape(name) + r"[\"']?" for name in names[:size]) + r"\s*=")
        for number in range(start + 1, end):
            if pattern.match(lines[number - 1]):
                return number
    return None


def _key_at_line(text: str, line: int) -> str:
    """The dotted key a TOML syntax error is in: the table above it plus the key on the line."""
    lines = text.splitlines()
    table = ""
    for number, parts, _ in _headers(lines):
        if number <= line:
            table = ".".join(parts)
    match = _KEY_LINE.match(lines[line - 1]) if 0 < line <= len(lines) else None
    key = match.group(1).strip() if match else ""
    return ".".join(part for part in (table, key) if part) or "(top level)"


# --- Structure -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Key:
    kind: type
    """Expected Python type after TOML parsing; ``object`` accepts anything."""
    required: bool = False
    items: type | None = None
    """For arrays: the type of each item."""


_TOP = {
    "provider": _Key(str, required=True),
    "task": _Key(dict, required=True),
    "fields": _Key(dict, required=True),
    "handoff": _Key(dict),
    "templates": _Key(dict, required=True),
    **{provider.value: _Key(dict) for provider in Provider},
}
_TASK = {"key_field": _Key(str, required=True)}
_FIELD = {
    "record": _Key(str, required=True),
    "crm": _Key(str, required=True),
    "type": _Key(str, required=True),
    "label": _Key(str),
    "options": _Key(list, items=str),
    "write": _Key(bool),
    "afterclose": _Key(bool),
}
_HANDOFF = {"min_stakeholders": _Key(int), "stakeholder_role": _Key(str), "rules": _Key(list, items=dict)}
_RULE = {"field": _Key(str, required=True), "kind": _Key(str, required=True),
         "value": _Key(object), "label": _Key(str)}
_TEMPLATE = {"subject": _Key(str, required=True), "body": _Key(str, required=True)}

_TOML_TYPE_NAMES = {bool: "true or false", int: "a whole number", float: "a decimal number",
                    str: "a quoted string", list: "an array [...]", dict: "a table"}


def _toml_type(value: object) -> str:
    for kind, name in _TOML_TYPE_NAMES.items():  # bool before int: True is an int in Python
        if isinstance(value, kind):
            return name
    return "a date or time"


def _is(value: object, kind: type) -> bool:
    if kind is object:
        return True
    if kind is int and isinstance(value, bool):
        return False
    return isinstance(value, kind)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- Compiling -----------------------------------------------------------------------------

_CANONICAL = re.compile(r"[a-z][a-z0-9_]*")
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_RULE_KINDS_IN_FILE = (RuleKind.REQUIRED, RuleKind.MIN_LENGTH, RuleKind.ALLOWED_VALUES,
                       RuleKind.DATE_AFTER)
_DATE_TYPES = (FieldType.DATE, FieldType.DATETIME)
CLOSE_DATE = "close_date"
"""What a ``date_after`` rule names to compare with the deal's own close date."""


class _Compiler:
    """Checks one parsed file and builds its ``FieldMap``, collecting every problem on the way."""

    def __init__(self, source: str, text: str):
        self.source = source
        self.text = text
        self.problems: list[tuple[KeyPath, str]] = []

    def compile(self, data: dict) -> FieldMap:
        top = self.table(data, _TOP, ())
        provider = self.provider(top)
        key_field = self.task(top.get("task"))
        fields = self.fields(top.get("fields"))
        rules = self.handoff(top.get("handoff"), fields, declared=set(top.get("fields") or ()))
        templates = self.templates(top.get("templates"), fields)
        extras = self.extras(top, provider)
        self.raise_if_any()
        return FieldMap(provider=provider, source=self.source, fields=fields,
                        handoff_rules=rules, templates=templates,
                        task_key_field=key_field, extras=extras)

    # problems

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append((path, message))

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        described = [(format_key(path), self.with_line(path, message))
                     for path, message in self.problems]
        first_key, first = described[0]
        if len(described) > 1:
            others = "\n".join(f"  - {key}: {message}" for key, message in described[1:])
            first = f"{first}\n  and {len(described) - 1} more problem(s):\n{others}"
        raise ConfigError(first, source=self.source, key=first_key)

    def with_line(self, path: KeyPath, message: str) -> str:
        line = _line_of(self.text, path)
        return f"{message} (line {line})" if line else message

    # generic structure

    def table(self, value: object, schema: Mapping[str, _Key], path: KeyPath) -> dict:
        """The well-typed entries of a table; every unknown, missing or mistyped key is a problem."""
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {_toml_type(value)}")
            return {}
        good = {}
        for key, item in value.items():
            spec = schema.get(key)
            if spec is None:
                self.problem((*path, key), f"unknown key{_suggest(key, schema)}; "
                             f"allowed here: {', '.join(schema)}")
            elif self.typed(item, spec, (*path, key)):
                good[key] = item
        for key, spec in schema.items():
            if spec.required and key not in value:
                self.problem((*path, key), "required key is missing")
        return good

    def typed(self, value: object, spec: _Key, path: KeyPath) -> bool:
        if not _is(value, spec.kind):
            self.problem(path, f"expected {_TOML_TYPE_NAMES[spec.kind]}, got {_toml_type(value)}")
            return False
        if spec.items is None:
            return True
        bad = [i for i, item in enumerate(value) if not _is(item, spec.items)]
        for i in bad:
            self.problem((*path, i), f"expected {_TOML_TYPE_NAMES[spec.items]}, "
                         f"got {_toml_type(value[i])}")
        return not bad

    def choice(self, value: str, enum: type[StrEnum], path: KeyPath,
               allowed: Iterable[StrEnum] | None = None):
        """``value`` as a member of ``enum`` (limited to ``allowed``), or None and a problem."""
        names = [member.value for member in (allowed or enum)]
        if value in names:
            return enum(value)
        self.problem(path, f"unknown {path[-1]} {value!r}{_suggest(value, names)}; "
                     f"expected one of: {', '.join(names)}")
        return None

    # sections

    def provider(self, top: dict) -> Provider | None:
        raw = top.get("provider")
        return None if raw is None else self.choice(raw, Provider, ("provider",))

    def task(self, value: object) -> str:
        if value is None:
            return ""
        keys = self.table(value, _TASK, ("task",))
        key_field = keys.get("key_field", "")
        if "key_field" in keys and not _API_NAME.fullmatch(key_field):
            self.problem(("task", "key_field"), _api_name_problem(key_field))
        return key_field

    def fields(self, value: object) -> dict[str, FieldSpec]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(("fields",), f"expected a table, got {_toml_type(value)}")
            return {}
        specs: dict[str, FieldSpec] = {}
        for canonical, entry in value.items():
            spec = self.field(canonical, entry)
            if spec is not None:
                specs[canonical] = spec
        self.check_unique_crm_names(specs)
        return specs

    def field(self, canonical: str, entry: object) -> FieldSpec | None:
        path = ("fields", canonical)
        if not _CANONICAL.fullmatch(canonical):
            self.problem(path, "field names are lowercase letters, digits and underscores, "
                         "starting with a letter (they are also {placeholders})")
        elif canonical in RESERVED_NAMES:
            self.problem(path, f"{canonical!r} is a built-in placeholder filled from the deal; "
                         "choose another name")
        keys = self.table(entry, _FIELD, path)
        record = self.choice(keys["record"], RecordKind, (*path, "record")) if "record" in keys else None
        type_ = self.choice(keys["type"], FieldType, (*path, "type")) if "type" in keys else None
        crm = keys.get("crm")
        if crm is not None and not _API_NAME.fullmatch(crm):
            self.problem((*path, "crm"), _api_name_problem(crm))
        options = self.options(type_, keys.get("options"), path)
        if record is None or type_ is None or crm is None or options is None:
            return None
        return FieldSpec(canonical=canonical, record=record, crm_name=crm, type=type_,
                         options=options, write=keys.get("write", False),
                         afterclose_owned=keys.get("afterclose", False),
                         label=keys.get("label", "").strip() or humanize(canonical))

    def options(self, type_: FieldType | None, options: list | None, path: KeyPath):
        path = (*path, "options")
        if type_ is None:
            return None  # the type's own problem is reported; options cannot be judged yet
        if type_ is FieldType.ENUM:
            if not options:
                self.problem(path, "an enum field needs its options (the values AfterClose "
                             "may write), e.g. options = [\"complete\", \"incomplete\"]")
                return None
            return self.distinct_strings(options, path)
        if options:
            self.problem(path, f"options only apply to enum fields, not {type_} fields")
            return None
        return ()

    def distinct_strings(self, values: list[str], path: KeyPath) -> tuple[str, ...] | None:
        ok = True
        for i, item in enumerate(values):
            if not item.strip():
                self.problem((*path, i), "must not be blank")
                ok = False
            elif item in values[:i]:
                self.problem((*path, i), f"{item!r} is listed twice")
                ok = False
        return tuple(values) if ok else None

    def check_unique_crm_names(self, specs: Mapping[str, FieldSpec]) -> None:
        """One CRM field per record holds one canonical field: two names on one CRM field would
        be written twice or checked twice, which is a copy-paste slip, not a plan. Case is
        ignored because Salesforce API names are case-insensitive."""
        seen: dict[tuple[RecordKind, str], str] = {}
        for canonical, spec in specs.items():
            slot = (spec.record, spec.crm_name.casefold())
            if slot in seen:
                self.problem(("fields", canonical, "crm"),
                             f"{spec.crm_name!r} on the {spec.record} is already mapped by "
                             f"fields.{seen[slot]}; each CRM field may hold one canonical field")
            else:
                seen[slot] = canonical

    def handoff(self, value: object, fields: Mapping[str, FieldSpec],
                declared: set[str]) -> tuple[HandoffRule, ...]:
        if value is None:
            return ()
        keys = self.table(value, _HANDOFF, ("handoff",))
        rules = []
        seen: set[tuple[RuleKind, str]] = set()
        for i, entry in enumerate(keys.get("rules", ())):
            rule = self.rule(entry, ("handoff", "rules", i), fields, declared)
            if rule is not None and (rule.kind, rule.field) in seen:
                self.problem(("handoff", "rules", i), f"a {rule.kind} rule for {rule.field!r} "
                             "is already declared above")
            elif rule is not None:
                seen.add((rule.kind, rule.field))
                rules.append(rule)
        rules.extend(self.stakeholder_rules(keys))
        return tuple(rules)

    def stakeholder_rules(self, keys: dict) -> list[HandoffRule]:
        rules = []
        count = keys.get("min_stakeholders", 0)
        if count < 0:
            self.problem(("handoff", "min_stakeholders"), "must be 0 or more")
        elif count:
            rules.append(HandoffRule(kind=RuleKind.MIN_STAKEHOLDERS, value=count,
                                     label="Stakeholders"))
        role = keys.get("stakeholder_role", "").strip()
        if role:
            rules.append(HandoffRule(kind=RuleKind.STAKEHOLDER_ROLE, value=role,
                                     label=f"Stakeholder: {role}"))
        return rules

    def rule(self, entry: dict, path: KeyPath, fields: Mapping[str, FieldSpec],
             declared: set[str]) -> HandoffRule | None:
        keys = self.table(entry, _RULE, path)
        kind = self.rule_kind(keys["kind"], (*path, "kind")) if "kind" in keys else None
        name = keys.get("field")
        if name is None:
            return None
        if name not in declared:
            self.problem((*path, "field"), f"{name!r} is not declared under [fields]"
                         f"{_suggest(name, declared)}")
            return None
        spec = fields.get(name)
        if kind is None or spec is None:
            return None  # the field's own problem is reported where it is declared
        value = self.rule_value(kind, spec, keys.get("value"), "value" in keys, path, fields)
        if value is _INVALID:
            return None
        label = keys.get("label", "").strip() or spec.label
        return HandoffRule(kind=kind, field=name, value=value, label=label)

    def rule_kind(self, raw: str, path: KeyPath) -> RuleKind | None:
        if raw in (RuleKind.MIN_STAKEHOLDERS, RuleKind.STAKEHOLDER_ROLE):
            self.problem(path, f"{raw} is not a per-field rule: set handoff.{raw} instead")
            return None
        return self.choice(raw, RuleKind, path, _RULE_KINDS_IN_FILE)

    def rule_value(self, kind: RuleKind, spec: FieldSpec, value: object, given: bool,
                   path: KeyPath, fields: Mapping[str, FieldSpec]):
        path = (*path, "value")
        check = _RULE_VALUE_CHECKS[kind]
        problem = check(spec, value, given, fields)
        if problem:
            self.problem(path, problem)
            return _INVALID
        return tuple(value) if isinstance(value, list) else value

    def templates(self, value: object, fields: Mapping[str, FieldSpec]) -> dict[str, TaskTemplate]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(("templates",), f"expected a table, got {_toml_type(value)}")
            return {}
        allowed = set(PLACEHOLDERS) | set(fields)
        templates = {}
        for name, entry in value.items():
            path = ("templates", name)
            if not _CANONICAL.fullmatch(name):
                self.problem(path, "template names are touch point ids: lowercase letters, "
                             "digits and underscores")
            keys = self.table(entry, _TEMPLATE, path)
            ok = all([self.template_text(keys.get(part), (*path, part), allowed)
                      for part in ("subject", "body")])
            if "subject" in keys and ("\n" in keys["subject"] or not keys["subject"].strip()):
                self.problem((*path, "subject"), "a subject is one non-empty line")
                ok = False
            if ok and len(keys) == 2:
                templates[name] = TaskTemplate(subject=keys["subject"], body=keys["body"])
        if "default" not in value:
            self.problem(("templates", "default"), "required template is missing: it is used "
                         "for every touch point without a template of its own")
        return templates

    def template_text(self, text: str | None, path: KeyPath, allowed: set[str]) -> bool:
        if text is None:
            return False
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            self.problem(path, f"unbalanced braces ({exc}); write {{{{ or }}}} for a literal brace")
            return False
        problems = [_placeholder_problem(name, spec, conversion, allowed)
                    for _, name, spec, conversion in parsed if name is not None]
        for problem in dict.fromkeys(p for p in problems if p):
            self.problem(path, problem)
        return not any(problems)

    def extras(self, top: dict, provider: Provider | None) -> Mapping[str, object]:
        if provider is None:
            return MappingProxyType({})
        for other in Provider:
            if other is not provider and other.value in top:
                self.problem((other.value,), f"[{other.value}] settings in a {provider} mapping; "
                             f"vendor settings go in [{provider}]")
        return MappingProxyType(dict(top.get(provider.value, {})))


_INVALID = object()


def _api_name_problem(name: str) -> str:
    return (f"{name!r} is not an API name: use the field's API (internal) name, letters, digits "
            "and underscores, not its label")


def _placeholder_problem(name: str, spec: str | None, conversion: str | None,
                         allowed: set[str]) -> str | None:
    if name == "":
        return "empty placeholder {}: name the value, e.g. {deal_name}"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return f"placeholder {{{name}}} must be a plain name (no dots, brackets or spaces)"
    if spec or conversion:
        return f"placeholder {{{name}}} cannot carry a format (':' or '!'); write {{{name}}}"
    if name not in allowed:
        return (f"unknown placeholder {{{name}}}{_suggest(name, allowed)}; see mappings/README.md "
                "for the list (declared field names work too)")
    return None


def _check_required(spec: FieldSpec, value: object, given: bool, fields) -> str | None:
    return "a required rule takes no value" if given else None


def _check_min_length(spec: FieldSpec, value: object, given: bool, fields) -> str | None:
    if spec.type is not FieldType.TEXT:
        return f"min_length applies to text fields; {spec.canonical} is {spec.type}"
    if not _is(value, int) or value < 1:
        return "min_length needs value = a whole number of characters, 1 or more"
    return None


def _check_allowed_values(spec: FieldSpec, value: object, given: bool, fields) -> str | None:
    if spec.type not in (FieldType.TEXT, FieldType.ENUM):
        return f"allowed_values applies to text and enum fields; {spec.canonical} is {spec.type}"
    if not isinstance(value, list) or not value or not all(
            isinstance(item, str) and item.strip() for item in value):
        return "allowed_values needs value = an array of non-blank strings"
    if len(set(value)) != len(value):
        return "allowed_values lists a value twice"
    return None


def _check_date_after(spec: FieldSpec, value: object, given: bool, fields) -> str | None:
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
        return f"{value!r} is neither {CLOSE_DATE!r} nor a declared field{_suggest(value, dates)}"
    if other.type not in _DATE_TYPES:
        return f"{value!r} is {other.type}, not a date field"
    return None


_RULE_VALUE_CHECKS = {
    RuleKind.REQUIRED: _check_required,
    RuleKind.MIN_LENGTH: _check_min_length,
    RuleKind.ALLOWED_VALUES: _check_allowed_values,
    RuleKind.DATE_AFTER: _check_date_after,
}
