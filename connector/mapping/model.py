"""What a compiled mapping is: canonical fields, their CRM fields and types, handoff rules, task
templates. Pure values; the compiler (compiler.py) builds them from mappings/<crm>.toml."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from connector.model import Provider, RecordKind


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
    optional: bool = False
    """A write-back target AfterClose may do without: when the CRM field is missing or does not
    fit, the job writes the others and reports this one as skipped (never silently)."""
    write_as: FieldType | None = None
    """Set by the schema check (``FieldMap.fitted``) when the live field holds this value in
    another compatible type (connector/mapping/compat.py): how the writers format it."""


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

    def fitted(self, skipped: Iterable[str] = (), write_as: Mapping[str, FieldType] | None = None) -> FieldMap:
        """This mapping as one job uses it against the live CRM: the optional targets that do not
        fit left out (the job reports them), and each field's ``write_as`` from the check."""
        skipped = set(skipped)
        write_as = write_as or {}
        if not skipped and not write_as:
            return self
        fields = {name: replace(spec, write_as=write_as.get(name, spec.write_as))
                  for name, spec in self.fields.items() if name not in skipped}
        return replace(self, fields=fields)

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
