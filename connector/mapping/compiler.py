"""Compiling one parsed mapping file into a ``FieldMap``, collecting every problem on the way.

Each problem names the dotted key and (best effort) its line; ``raise_if_any`` turns them into one
``ConfigError`` so an admin fixes them all in one pass (mappings/README.md explains each key).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from connector.errors import ConfigError
from connector.mapping.lines import KeyPath, format_key, line_of
from connector.mapping.model import FieldMap, FieldSpec, FieldType, HandoffRule, RuleKind, TaskTemplate, humanize
from connector.mapping.rules import RULE_VALUE_CHECKS, placeholder_problem, suggest
from connector.mapping.templates import PLACEHOLDERS, RESERVED_NAMES
from connector.model import Provider, RecordKind

EnumT = TypeVar("EnumT", bound=StrEnum)


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
    "optional": _Key(bool),
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



# --- Compiling -----------------------------------------------------------------------------

_CANONICAL = re.compile(r"[a-z][a-z0-9_]*")
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_RULE_KINDS_IN_FILE = (RuleKind.REQUIRED, RuleKind.MIN_LENGTH, RuleKind.ALLOWED_VALUES,
                       RuleKind.DATE_AFTER)


class Compiler:
    """Checks one parsed file and builds its ``FieldMap``, collecting every problem on the way."""

    def __init__(self, source: str, text: str):
        self.source = source
        self.text = text
        self.problems: list[tuple[KeyPath, str]] = []

    def compile(self, data: dict[str, Any]) -> FieldMap:
        top = self.table(data, _TOP, ())
        provider = self.provider(top)
        key_field = self.task(top.get("task"))
        fields = self.fields(top.get("fields"))
        rules = self.handoff(top.get("handoff"), fields, declared=set(top.get("fields") or ()))
        self.check_optional(fields, rules)
        templates = self.templates(top.get("templates"), fields)
        extras = self.extras(top, provider)
        self.raise_if_any()
        assert provider is not None, "a missing provider is a problem raised above"
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
        line = line_of(self.text, path)
        return f"{message} (line {line})" if line else message

    # generic structure

    def table(self, value: object, schema: Mapping[str, _Key], path: KeyPath) -> dict[str, Any]:
        """The well-typed entries of a table; every unknown, missing or mistyped key is a problem."""
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {_toml_type(value)}")
            return {}
        good: dict[str, Any] = {}
        for key, item in value.items():
            spec = schema.get(key)
            if spec is None:
                self.problem((*path, key), f"unknown key{suggest(key, schema)}; "
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
        items = value if isinstance(value, list) else []
        bad = [i for i, item in enumerate(items) if not _is(item, spec.items)]
        for i in bad:
            self.problem((*path, i), f"expected {_TOML_TYPE_NAMES[spec.items]}, "
                         f"got {_toml_type(items[i])}")
        return not bad

    def choice(self, value: str, enum: type[EnumT], path: KeyPath,
               allowed: Iterable[EnumT] | None = None) -> EnumT | None:
        """``value`` as a member of ``enum`` (limited to ``allowed``), or None and a problem."""
        names = [member.value for member in (allowed or enum)]
        if value in names:
            return enum(value)
        self.problem(path, f"unknown {path[-1]} {value!r}{suggest(value, names)}; "
                     f"expected one of: {', '.join(names)}")
        return None

    # sections

    def provider(self, top: dict[str, Any]) -> Provider | None:
        raw = top.get("provider")
        return None if raw is None else self.choice(raw, Provider, ("provider",))

    def task(self, value: object) -> str:
        if value is None:
            return ""
        keys = self.table(value, _TASK, ("task",))
        key_field: str = keys.get("key_field", "")
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
                         label=keys.get("label", "").strip() or humanize(canonical),
                         optional=self.optional(keys, path))

    def optional(self, keys: dict[str, Any], path: KeyPath) -> bool:
        optional = keys.get("optional", False)
        if optional and not keys.get("write", False):
            self.problem((*path, "optional"), "only a write-back target (write = true) can be optional: "
                         "AfterClose reads this field, so it must exist; remove optional = true")
        return bool(optional)

    def check_optional(self, fields: Mapping[str, FieldSpec], rules: Iterable[HandoffRule]) -> None:
        """An optional target that is also a handoff input: skipping it when it is missing would
        make every handoff incomplete (or silently pass), so the pair is refused."""
        inputs = {rule.field for rule in rules if rule.field} | {
            rule.value for rule in rules if rule.kind is RuleKind.DATE_AFTER and isinstance(rule.value, str)}
        for name, spec in fields.items():
            if spec.optional and name in inputs:
                self.problem(("fields", name, "optional"),
                             f"{name!r} ({spec.record} field {spec.crm_name}) is a handoff input ([[handoff.rules]]) "
                             "and cannot be an optional target: remove optional = true, or the rules that test it")

    def options(self, type_: FieldType | None, options: list[str] | None, path: KeyPath) -> tuple[str, ...] | None:
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
                             f"fields.{seen[slot]}; each CRM field may hold one canonical field: point one "
                             "of them at another field, or delete one")
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
                seen.add((rule.kind, rule.field or ""))
                rules.append(rule)
        rules.extend(self.stakeholder_rules(keys))
        return tuple(rules)

    def stakeholder_rules(self, keys: dict[str, Any]) -> list[HandoffRule]:
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

    def rule(self, entry: dict[str, Any], path: KeyPath, fields: Mapping[str, FieldSpec],
             declared: set[str]) -> HandoffRule | None:
        keys = self.table(entry, _RULE, path)
        kind = self.rule_kind(keys["kind"], (*path, "kind")) if "kind" in keys else None
        name = keys.get("field")
        if name is None:
            return None
        if name not in declared:
            self.problem((*path, "field"), f"{name!r} is not declared under [fields]"
                         f"{suggest(name, declared)}")
            return None
        spec = fields.get(name)
        if kind is None or spec is None:
            return None  # the field's own problem is reported where it is declared
        value = self.rule_value(kind, spec, keys.get("value"), "value" in keys, path, fields)
        if value is _INVALID or not isinstance(value, int | str | tuple | None):  # narrows for mypy
            return None
        label = keys.get("label", "").strip() or spec.label
        return HandoffRule(kind=kind, field=name, value=value, label=label)

    def rule_kind(self, raw: str, path: KeyPath) -> RuleKind | None:
        if raw in (RuleKind.MIN_STAKEHOLDERS, RuleKind.STAKEHOLDER_ROLE):
            self.problem(path, f"{raw} is not a per-field rule: set handoff.{raw} instead")
            return None
        return self.choice(raw, RuleKind, path, _RULE_KINDS_IN_FILE)

    def rule_value(self, kind: RuleKind, spec: FieldSpec, value: object, given: bool,
                   path: KeyPath, fields: Mapping[str, FieldSpec]) -> object:
        """The rule's value as HandoffRule holds it, or ``_INVALID`` (its problem reported)."""
        path = (*path, "value")
        check = RULE_VALUE_CHECKS[kind]
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
        problems = [placeholder_problem(name, spec, conversion, allowed)
                    for _, name, spec, conversion in parsed if name is not None]
        for problem in dict.fromkeys(p for p in problems if p):
            self.problem(path, problem)
        return not any(problems)

    def extras(self, top: dict[str, Any], provider: Provider | None) -> Mapping[str, object]:
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
