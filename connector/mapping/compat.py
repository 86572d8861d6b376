"""Which canonical types fit which CRM field types: the one compatibility table. Pure.

A CRM as an admin found it has history: ``referral_status`` may exist as single-line text, a
date may live in a date-time field. AfterClose fails closed only where a write (or a read)
would really be wrong; a compatible pair passes with a one-line note, and the writers convert
the value (``Note.write_as``). mappings/README.md holds the same table for admins;
tests/unit/test_mapping_compat.py walks every cell of it.

Each CRM's own field types are first named as a neutral ``CrmKind`` (``KIND_OF``), so the table
is written once for both CRMs:

- HubSpot property ``type``/``fieldType``: https://developers.hubspot.com/docs/api/crm/properties
  (``enumeration`` with fieldType ``checkbox`` is a multi-select);
- Salesforce describe ``type``: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm
  (``combobox`` takes any text, its values are suggestions; ``email``/``phone``/``url`` are
  text the CRM checks the format of).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from connector.mapping.model import FieldType
from connector.model import Provider


class CrmKind(StrEnum):
    TEXT = "text"
    FORMATTED_TEXT = "formatted text"
    """Text whose format the CRM checks (email, phone, URL)."""
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    PICKLIST = "picklist"
    MULTIPICKLIST = "multi-select picklist"
    BOOL = "bool"
    OTHER = "other"


KIND_OF: Mapping[Provider, Mapping[str, CrmKind]] = MappingProxyType({
    Provider.HUBSPOT: MappingProxyType({
        "string": CrmKind.TEXT, "phone_number": CrmKind.FORMATTED_TEXT, "number": CrmKind.NUMBER,
        "date": CrmKind.DATE, "datetime": CrmKind.DATETIME, "enumeration": CrmKind.PICKLIST,
        "bool": CrmKind.BOOL,
    }),
    Provider.SALESFORCE: MappingProxyType({
        "string": CrmKind.TEXT, "textarea": CrmKind.TEXT, "combobox": CrmKind.TEXT,
        "email": CrmKind.FORMATTED_TEXT, "phone": CrmKind.FORMATTED_TEXT, "url": CrmKind.FORMATTED_TEXT,
        "double": CrmKind.NUMBER, "int": CrmKind.NUMBER, "long": CrmKind.NUMBER, "currency": CrmKind.NUMBER,
        "percent": CrmKind.NUMBER, "date": CrmKind.DATE, "datetime": CrmKind.DATETIME,
        "picklist": CrmKind.PICKLIST, "multipicklist": CrmKind.MULTIPICKLIST, "boolean": CrmKind.BOOL,
    }),
})
OPTIONS_ADDABLE = frozenset({Provider.HUBSPOT, Provider.SALESFORCE})
"""CRMs where ``afterclose setup`` adds missing options to AfterClose's own picklist (HubSpot:
PATCH the property's options; Salesforce: a Tooling API update of the custom field, or the
package ``setup --write-package`` writes, connector/salesforce/setup_org.py)."""


def kind_of(provider: Provider, crm_type: str, field_type: str | None = None) -> CrmKind:
    if provider is Provider.HUBSPOT and crm_type == "enumeration" and field_type == "checkbox":
        return CrmKind.MULTIPICKLIST
    return KIND_OF[provider].get(crm_type, CrmKind.OTHER)


@dataclass(frozen=True, kw_only=True, slots=True)
class CrmField:
    """One live CRM field as the picker and the check see it."""

    name: str
    """The internal (API) name a mapping holds."""
    label: str
    type: str
    """The CRM's own type name (``string``, ``picklist`` ...), for messages."""
    kind: CrmKind
    options: tuple[str, ...] = ()
    """For picklists: the active options' values."""
    writable: bool = True
    own: bool = False
    """One of AfterClose's own fields (created by setup), whose options setup may add to."""
    provider: Provider | None = None


# -- the table ---------------------------------------------------------------------------------

SAME = "same"
OPTIONS = "options"
"""Fits when every value AfterClose may write is one of the field's options."""


@dataclass(frozen=True, slots=True)
class Rule:
    read: str | None
    """For a field AfterClose only reads: SAME, a note (fits, said in one line), or None (refused).
    A write-back target is judged by ``write`` alone: what AfterClose reads back is what it wrote."""
    write: str | None
    """SAME, OPTIONS, a note, or None (refused)."""
    write_as: FieldType | None = None
    """How a writer formats the value for this field, when it differs from the canonical type."""
    why_not: str = ""


_TEXT_ONLY = "the CRM checks this field's format (email, phone, URL), so free text could be refused"
_NOT_OPTIONS = "free text is not a fixed set of options"
_FREE_TEXT = "a rep may type anything into a text field, so it is no source for this type"

TABLE: Mapping[tuple[FieldType, CrmKind], Rule] = MappingProxyType({
    (FieldType.TEXT, CrmKind.TEXT): Rule(SAME, SAME),
    (FieldType.TEXT, CrmKind.FORMATTED_TEXT): Rule("read as text", None, why_not=_TEXT_ONLY),
    (FieldType.TEXT, CrmKind.PICKLIST): Rule(SAME, None, why_not=_NOT_OPTIONS),  # the option's value is text
    (FieldType.TEXT, CrmKind.MULTIPICKLIST): Rule("the selected options are read as the CRM joins them", None,
                                                  why_not=_NOT_OPTIONS),
    (FieldType.TEXT, CrmKind.NUMBER): Rule("the number is read as text", None,
                                           why_not="free text cannot be written to a number field"),
    (FieldType.TEXT, CrmKind.DATE): Rule("the date is read as text (YYYY-MM-DD)", None,
                                         why_not="free text cannot be written to a date field"),
    (FieldType.TEXT, CrmKind.DATETIME): Rule("the date-time is read as text", None,
                                             why_not="free text cannot be written to a date-time field"),
    (FieldType.TEXT, CrmKind.BOOL): Rule("true/false is read as text", None,
                                         why_not="free text cannot be written to a checkbox"),
    (FieldType.NUMBER, CrmKind.NUMBER): Rule(SAME, SAME),
    (FieldType.NUMBER, CrmKind.TEXT): Rule(None, "numbers are written as their text (9, 7.5)",
                                           write_as=FieldType.TEXT, why_not=_FREE_TEXT),
    (FieldType.DATE, CrmKind.DATE): Rule(SAME, SAME),
    (FieldType.DATE, CrmKind.DATETIME): Rule("a date-time is read as its day in UTC",
                                             "dates are written as midnight in the playbook's time zone",
                                             write_as=FieldType.DATETIME),
    (FieldType.DATE, CrmKind.TEXT): Rule(None, "dates are written as text, YYYY-MM-DD", write_as=FieldType.TEXT,
                                         why_not=_FREE_TEXT),
    (FieldType.DATETIME, CrmKind.DATETIME): Rule(SAME, SAME),
    (FieldType.DATETIME, CrmKind.DATE): Rule("a date is read as midnight UTC", None,
                                             why_not="a date field would lose the time of day"),
    (FieldType.DATETIME, CrmKind.TEXT): Rule(None, "date-times are written as text, ISO 8601 in UTC",
                                             write_as=FieldType.TEXT, why_not=_FREE_TEXT),
    (FieldType.ENUM, CrmKind.PICKLIST): Rule(SAME, OPTIONS),
    (FieldType.ENUM, CrmKind.TEXT): Rule("a value that is not one of the options counts as not readable",
                                         "the option values are written as text", write_as=FieldType.TEXT),
    (FieldType.BOOL, CrmKind.BOOL): Rule(SAME, SAME),
    (FieldType.BOOL, CrmKind.PICKLIST): Rule("the options true and false are read as a checkbox", OPTIONS),
    (FieldType.BOOL, CrmKind.TEXT): Rule(None, "written as the text true or false", write_as=FieldType.TEXT,
                                         why_not=_FREE_TEXT),
})
"""(canonical type, CRM kind) -> how AfterClose may read and write it. A pair not listed is refused."""

BOOL_VALUES = ("true", "false")


# -- the verdict -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Compatible:
    """The field holds the canonical type as it is."""

    fits: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class Note:
    """Compatible, with a difference worth one line (and, for writes, how the value is written)."""

    text: str
    write_as: FieldType | None = None
    fits: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class Refusal:
    text: str
    missing_options: tuple[str, ...] = ()
    """For a picklist: the values AfterClose may write that are not options."""
    fixable_by_setup: bool = False
    """``afterclose setup`` can add the missing options (AfterClose's own field, on a CRM that allows it)."""
    fits: bool = False


Verdict = Compatible | Note | Refusal


def writes_values(canonical_type: FieldType, options: tuple[str, ...]) -> tuple[str, ...] | None:
    """Every value AfterClose may write for a field of this type, when that is a fixed set."""
    if canonical_type is FieldType.ENUM:
        return options
    if canonical_type is FieldType.BOOL:
        return BOOL_VALUES
    return None


def verdict(canonical_type: FieldType, values: tuple[str, ...] | None, crm_field: CrmField, *,
            write: bool = True) -> Verdict:
    """May AfterClose read (and, with ``write``, write) a ``canonical_type`` value in ``crm_field``?
    ``values``: every value it may write (an enum's options), None when that is not a fixed set."""
    rule = TABLE.get((canonical_type, crm_field.kind))
    shown = f"the {crm_field.type} field"
    if rule is None or (rule.write if write else rule.read) is None:
        why = f": {rule.why_not}" if rule is not None and rule.why_not else ""
        doing = "writes" if write else "reads"
        return Refusal(text=f"AfterClose {doing} a {canonical_type} value, which {shown} cannot hold{why}; map a "
                            f"field that can ({', '.join(fitting_kinds(canonical_type, write=write))})")
    if not write:
        if rule.read == SAME:
            return Compatible()
        return Note(text=f"{shown} holds this {canonical_type} value: {rule.read}")
    if rule.write == OPTIONS:
        return _options_verdict(canonical_type, values, crm_field)
    if rule.write == SAME:
        return Compatible()
    return Note(text=f"{shown} takes this {canonical_type} value: {rule.write}", write_as=rule.write_as)


def _options_verdict(canonical_type: FieldType, values: tuple[str, ...] | None, crm_field: CrmField) -> Verdict:
    if values is None:
        return Refusal(text=f"a {crm_field.type} field takes only its options, and a {canonical_type} value is "
                            "not a fixed set; map a text field")
    missing = tuple(v for v in values if v not in crm_field.options)
    if not missing:
        if canonical_type is FieldType.ENUM:
            return Compatible()
        return Note(text=f"a {crm_field.type} field with the options true and false takes this bool value")
    has = ", ".join(crm_field.options) or "none"
    fixable = crm_field.own and crm_field.provider in OPTIONS_ADDABLE
    todo = ("run `afterclose setup`: it adds them to AfterClose's own field" if fixable else
            "add them to the field in the CRM, or map a text field instead" if crm_field.own else
            "it is not AfterClose's own field (afterclose = false), so AfterClose does not change its options: "
            "add them in the CRM, or map a text field instead")
    return Refusal(text=f"the {crm_field.type} lacks option(s) AfterClose writes: {', '.join(missing)} "
                        f"(has: {has}); {todo}", missing_options=missing, fixable_by_setup=fixable)


def fitting_kinds(canonical_type: FieldType, *, write: bool) -> list[str]:
    """The CRM kinds a field of this type may be mapped to, for a refusal's "what to do"."""
    return [kind.value for (ctype, kind), rule in TABLE.items()
            if ctype is canonical_type and (rule.write if write else rule.read) is not None]


# -- writing a value the target holds differently -----------------------------------------------


def date_as_datetime(day: dt.date, zone: dt.tzinfo) -> str:
    """A day written to a date-time field: midnight of that day in ``zone`` (the playbook's), in UTC."""
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    return midnight.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
