"""Object types and their properties, and how a written value is checked and normalised.

Property fields follow ``GET /crm/v3/properties/{type}`` (SDK ``ModelProperty``): name, label, type,
fieldType, options[{label, value}], calculated, hasUniqueValue, modificationMetadata.readOnlyValue
[DOC: https://developers.hubspot.com/docs/api-reference/latest/crm/properties/create-property].
Values travel as strings both ways (facts §2, "property values go through str()").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from connector.sandbox.demo import CHANNELS
from connector.sandbox.hubspot import timefmt
from connector.sandbox.hubspot.property_rules import OptionDef, as_option


@dataclass(frozen=True, kw_only=True)
class ObjectType:
    name: str            # plural path segment: "deals"
    type_id: str         # "0-3" (HubSpot object type ids; paths accept them too)
    singular: str
    created_prop: str
    modified_prop: str
    defaults: tuple[str, ...]
    """Properties a read returns when none are asked for (facts §3 lists the deal defaults)."""
    search_text: tuple[str, ...]
    """Properties the free-text ``query`` of search looks in."""


OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t for t in (
        ObjectType(name="deals", type_id="0-3", singular="deal", created_prop="createdate",
                   modified_prop="hs_lastmodifieddate",
                   defaults=("dealname", "amount", "closedate", "pipeline", "dealstage", "createdate",
                             "hs_lastmodifieddate", "hs_object_id"),
                   search_text=("dealname",)),
        # Contacts keep ``lastmodifieddate`` (no hs_ prefix): the name search and filters must use.
        ObjectType(name="contacts", type_id="0-1", singular="contact", created_prop="createdate",
                   modified_prop="lastmodifieddate",
                   defaults=("firstname", "lastname", "email", "createdate", "lastmodifieddate",
                             "hs_object_id"),
                   search_text=("firstname", "lastname", "email")),
        ObjectType(name="companies", type_id="0-2", singular="company", created_prop="createdate",
                   modified_prop="hs_lastmodifieddate",
                   defaults=("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
                   search_text=("name", "domain")),
        ObjectType(name="tasks", type_id="0-27", singular="task", created_prop="hs_createdate",
                   modified_prop="hs_lastmodifieddate",
                   defaults=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
                   search_text=("hs_task_subject", "hs_task_body")),
    )
}
_ALIASES = {alias: t.name for t in OBJECT_TYPES.values() for alias in (t.name, t.singular, t.type_id)}


def object_type(segment: str) -> ObjectType | None:
    """Paths accept the plural, the singular or the type id (``deals``, ``deal``, ``0-3``)."""
    name = _ALIASES.get(segment.lower())
    return OBJECT_TYPES[name] if name else None


@dataclass(frozen=True, kw_only=True)
class PropertyDef:
    name: str
    label: str
    type: str
    """property_rules.TYPES: string | number | date | datetime | enumeration | bool | phone_number."""
    field_type: str               # property_rules.FIELD_TYPES: text | textarea | number | date | select | radio ...
    group_name: str = "sandbox"
    options: tuple[OptionDef, ...] = ()
    """Given as (label, value) pairs or ``OptionDef``s; always held as ``OptionDef``s."""
    calculated: bool = False
    has_unique_value: bool = False
    read_only_value: bool = False
    hubspot_defined: bool = False
    external_options: bool = False
    """Options come from elsewhere (owners, pipelines, stages) and are checked by the object layer."""
    referenced_object_type: str | None = None
    """"OWNER": values are owner ids, checked against the portal's owners (validation.py)."""
    description: str = ""
    display_order: int = -1
    hidden: bool = False
    form_field: bool | None = None
    """None: a form field unless the value is read-only."""
    number_display_hint: str | None = None
    text_display_hint: str | None = None
    show_currency_symbol: bool | None = None
    currency_property_name: str | None = None
    data_sensitivity: str | None = None
    created_ms: int = 0
    updated_ms: int | None = None
    archived: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(as_option(o, n) for n, o in enumerate(self.options)))

    @property
    def numeric(self) -> bool:
        return self.type in ("number", "datetime", "date")

    def option_values(self) -> frozenset[str]:
        return frozenset(value for _, value in self.options)

    def to_json(self) -> dict:
        stamp = timefmt.iso_from_ms(self.created_ms)
        out = {
            "name": self.name, "label": self.label, "type": self.type, "fieldType": self.field_type,
            "description": self.description, "groupName": self.group_name,
            "options": [o.to_json() for o in self.options],
            "calculated": self.calculated, "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value, "hidden": self.hidden, "hubspotDefined": self.hubspot_defined,
            "formField": (not self.read_only_value) if self.form_field is None else self.form_field,
            "displayOrder": self.display_order, "archived": self.archived,
            "createdAt": stamp, "updatedAt": timefmt.iso_from_ms(self.updated_ms or self.created_ms),
            "modificationMetadata": {"archivable": not self.hubspot_defined,
                                     "readOnlyDefinition": self.hubspot_defined,
                                     "readOnlyValue": self.read_only_value,
                                     "readOnlyOptions": self.external_options},
        }
        optional = {"numberDisplayHint": self.number_display_hint, "textDisplayHint": self.text_display_hint,
                    "showCurrencySymbol": self.show_currency_symbol,
                    "currencyPropertyName": self.currency_property_name, "dataSensitivity": self.data_sensitivity,
                    "referencedObjectType": self.referenced_object_type}
        out.update({key: value for key, value in optional.items() if value is not None})
        return out


def _enum(*values: str) -> tuple[tuple[str, str], ...]:
    return tuple((v.replace("_", " ").title() if v.isupper() else v.replace("_", " ").capitalize(), v)
                 for v in values)


def _hs(name: str, label: str, type_: str, field_type: str, **kw) -> PropertyDef:
    return PropertyDef(name=name, label=label, type=type_, field_type=field_type, hubspot_defined=True,
                       group_name=kw.pop("group_name", "default"), **kw)


def _system(created: str, modified: str) -> list[PropertyDef]:
    """Maintained by HubSpot, read-only to clients (facts §3: hs_lastmodifieddate read-only)."""
    return [
        _hs("hs_object_id", "Record ID", "number", "number", read_only_value=True),
        _hs(created, "Create Date", "datetime", "date", read_only_value=True),
        _hs(modified, "Last Modified Date", "datetime", "date", read_only_value=True),
    ]


def _owner() -> PropertyDef:
    return _hs("hubspot_owner_id", "Owner", "enumeration", "select", external_options=True,
               referenced_object_type="OWNER")


def _deal_properties() -> list[PropertyDef]:
    return [
        _hs("dealname", "Deal Name", "string", "text"),
        _hs("amount", "Amount", "number", "number"),
        _hs("closedate", "Close Date", "datetime", "date"),
        _hs("pipeline", "Pipeline", "enumeration", "select", external_options=True),
        _hs("dealstage", "Deal Stage", "enumeration", "radio", external_options=True),
        # HubSpot ships New Business and Existing Business; the demo portal added Renewal, as
        # teams that track renewals by type do (docs/playbooks.md).
        _hs("dealtype", "Deal Type", "enumeration", "radio",
            options=(("New Business", "newbusiness"), ("Existing Business", "existingbusiness"),
                     ("Renewal", "renewal"))),
        _hs("description", "Deal Description", "string", "textarea"),
        _owner(),
        # Derived from the stage's metadata, never written (facts §3, [2ND]).
        _hs("hs_is_closed_won", "Is Closed Won", "bool", "calculation_equation", calculated=True,
            read_only_value=True, options=(("True", "true"), ("False", "false"))),
        _hs("hs_is_closed", "Is Deal Closed?", "bool", "calculation_equation", calculated=True,
            read_only_value=True, options=(("True", "true"), ("False", "false"))),
        *_system("createdate", "hs_lastmodifieddate"),
        # The customer's own handoff fields: always present in the portal the demo imitates.
        PropertyDef(name="first_touch_channel", label="First Touch Channel", type="enumeration",
                    field_type="select", options=tuple((c, c) for c in CHANNELS)),
        PropertyDef(name="decision_criteria", label="Decision Criteria", type="string", field_type="textarea"),
        PropertyDef(name="customer_goal", label="Customer Goal", type="string", field_type="textarea"),
        PropertyDef(name="success_criteria", label="Success Criteria", type="string", field_type="textarea"),
        PropertyDef(name="renewal_date", label="Renewal Date", type="date", field_type="date"),
    ]


def _afterclose_deal_properties() -> list[PropertyDef]:
    group = "afterclose"
    return [
        PropertyDef(name="handoff_status", label="Handoff Status", type="enumeration", field_type="select",
                    options=_enum("complete", "incomplete"), group_name=group),
        PropertyDef(name="handoff_missing", label="Handoff Missing", type="string", field_type="textarea",
                    group_name=group),
        PropertyDef(name="nps_score", label="NPS Score", type="number", field_type="number", group_name=group),
        PropertyDef(name="nps_category", label="NPS Category", type="enumeration", field_type="select",
                    options=_enum("promoter", "passive", "detractor"), group_name=group),
        PropertyDef(name="nps_date", label="NPS Date", type="date", field_type="date", group_name=group),
        PropertyDef(name="referral_status", label="Referral Status", type="enumeration", field_type="select",
                    options=_enum("not_eligible", "eligible", "asked", "referred", "declined"),
                    group_name=group),
    ]


def _task_properties() -> list[PropertyDef]:
    # Task properties and their options: [DOC: https://developers.hubspot.com/docs/api/crm/tasks]
    # (facts §3). Only the documented options are accepted (stricter reading).
    return [
        _hs("hs_timestamp", "Due date", "datetime", "date"),
        _hs("hs_task_subject", "Task Title", "string", "text"),
        _hs("hs_task_body", "Notes", "string", "html"),
        _hs("hs_task_status", "Task Status", "enumeration", "select", options=_enum("NOT_STARTED", "COMPLETED")),
        _hs("hs_task_priority", "Priority", "enumeration", "select", options=_enum("LOW", "MEDIUM", "HIGH")),
        _hs("hs_task_type", "Task Type", "enumeration", "select", options=_enum("EMAIL", "CALL", "TODO")),
        _hs("hs_task_reminders", "Reminder", "string", "text"),
        _owner(),
        *_system("hs_createdate", "hs_lastmodifieddate"),
    ]


def _contact_properties() -> list[PropertyDef]:
    return [
        _hs("firstname", "First Name", "string", "text"),
        _hs("lastname", "Last Name", "string", "text"),
        _hs("email", "Email", "string", "text"),
        _hs("company", "Company Name", "string", "text"),
        _hs("phone", "Phone Number", "string", "phonenumber"),
        _owner(),
        *_system("createdate", "lastmodifieddate"),
    ]


def _company_properties() -> list[PropertyDef]:
    return [
        _hs("name", "Company name", "string", "text"),
        _hs("domain", "Company Domain Name", "string", "text"),
        _owner(),
        *_system("createdate", "hs_lastmodifieddate"),
    ]


AFTERCLOSE_TASK_KEY = "afterclose_key"
MAX_UNIQUE_PROPERTIES = 10
"""Per object type [DOC: https://developers.hubspot.com/changelog/unique-properties-for-contacts]:
"the contact object type can only have a maximum of 10 unique properties", "similar to the other
object types"."""


def seed_properties(*, afterclose: bool, created_ms: int,
                    unique_task_key: bool = True) -> dict[str, dict[str, PropertyDef]]:
    """object type -> property name -> definition, as a fresh portal (plus AfterClose's own).

    ``unique_task_key=False``: the portal cannot hold a unique task property (uniqueness.py), so
    AfterClose's task key exists without unique values."""
    by_type = {
        "deals": _deal_properties() + (_afterclose_deal_properties() if afterclose else []),
        "contacts": _contact_properties(),
        "companies": _company_properties(),
        "tasks": _task_properties() + ([PropertyDef(
            name=AFTERCLOSE_TASK_KEY, label="AfterClose Key", type="string", field_type="text",
            has_unique_value=unique_task_key, group_name="afterclose")] if afterclose else []),
    }
    return {t: {p.name: replace(p, created_ms=created_ms) for p in props} for t, props in by_type.items()}


# --- values ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stored:
    """A normalised value: the string HubSpot returns, and its number (ms for dates) if numeric."""

    text: str
    number: float | None = None


@dataclass
class ValueProblem(Exception):
    code: str
    message: str
    details: dict = field(default_factory=dict)


MAX_STRING = 65_536  # "any text up to 65,536 characters" [DOC: https://developers.hubspot.com/docs/api/crm/properties]


def normalise(prop: PropertyDef, raw: object) -> Stored | None:
    """The stored form of ``raw`` for ``prop``; None clears the value ("" or null clears, per the
    PATCH docs: "Properties values can be cleared by passing an empty string")."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    text = raw if isinstance(raw, str) else str(raw)
    if text == "":
        return None
    checker = _CHECKERS.get(prop.type, _check_string)
    return checker(prop, text)


def _check_string(prop: PropertyDef, text: str) -> Stored:
    if len(text) > MAX_STRING:
        raise ValueProblem("INVALID_STRING", f"{prop.name} is longer than {MAX_STRING} characters")
    return Stored(text)


def _check_number(prop: PropertyDef, text: str) -> Stored:
    try:
        number = float(text)
    except ValueError:
        raise ValueProblem("INVALID_NUMBER", f"{text!r} is not a valid number for {prop.name}") from None
    if not math.isfinite(number):
        raise ValueProblem("INVALID_NUMBER", f"{text!r} is not a finite number for {prop.name}")
    shown = str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    return Stored(shown, number)


def _check_datetime(prop: PropertyDef, text: str) -> Stored:
    try:
        ms = timefmt.parse_datetime_ms(text)
    except ValueError as exc:
        raise ValueProblem("INVALID_DATETIME", f"{prop.name}: {exc}") from None
    return Stored(timefmt.iso_from_ms(ms), float(ms))


def _check_date(prop: PropertyDef, text: str) -> Stored:
    try:
        day = timefmt.parse_date(text)
    except ValueError as exc:
        raise ValueProblem("INVALID_DATE", f"{prop.name}: {exc}") from None
    return Stored(day.isoformat(), float(timefmt.ms_from_date(day)))


def _check_enum(prop: PropertyDef, text: str) -> Stored:
    if prop.external_options:
        return Stored(text)  # owners / pipelines / stages: checked against live data by the caller
    allowed = prop.option_values()
    parts = text.split(";") if prop.field_type == "checkbox" else [text]
    for part in parts:
        if part not in allowed:  # options are case-sensitive (facts §3, enum filters case-sensitive)
            raise ValueProblem("INVALID_OPTION",
                               f"{part!r} was not one of the allowed options: {sorted(allowed)}",
                               {"allowedOptions": sorted(allowed)})
    return Stored(text)


def _check_bool(prop: PropertyDef, text: str) -> Stored:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ValueProblem("INVALID_BOOLEAN", f"{text!r} is not true or false for {prop.name}")
    return Stored(lowered)


# phone_number values are held as text: how HubSpot checks or formats them is not documented [UNVERIFIED].
_CHECKERS = {"string": _check_string, "phone_number": _check_string, "number": _check_number,
             "datetime": _check_datetime, "date": _check_date, "enumeration": _check_enum, "bool": _check_bool}
