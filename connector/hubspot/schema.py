"""Does the mapping fit the live portal? And ``setup``: create AfterClose's own properties.

Property definitions are read once per run per object type (GET /crm/v3/properties/{type}) and
compared with the mapping: missing properties (deleted, or renamed: HubSpot internal names never
change, so a "rename" in the UI that breaks a mapping is a new property), incompatible types,
read-only properties AfterClose must write, enumeration options lacking a value AfterClose
writes, and the task key property, which must exist as a string. Whether it has unique values
decides the task key mode (taskprops.py): both are exactly-once, see docs/hubspot-adapter.md.

Property types: https://developers.hubspot.com/docs/api/crm/properties ("type" is the data
type: string, number, date, datetime, enumeration, bool; "fieldType" how it is edited).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyGroupCreate, PropertyUpdate

from connector.errors import FatalCrmError
from connector.hubspot.client import HubSpotClient
from connector.mapping import FieldMap, FieldSpec, FieldType
from connector.model import RENEWAL_DEAL_KEY, RecordKind
from connector.port import SchemaProblem

GROUP_NAME = "afterclose"
GROUP_LABEL = "AfterClose"
TASK_KEY_MAPPING = "task_key_field"

OBJECT_TYPE = {RecordKind.DEAL: "deals", RecordKind.COMPANY: "companies", RecordKind.CONTACT: "contacts"}

# Which live HubSpot types can hold each canonical type (reading raw text is always possible,
# so text accepts anything textual; numbers, dates and enums must match to be written safely).
_COMPATIBLE = {
    FieldType.TEXT: {"string", "enumeration", "phone_number"},
    FieldType.NUMBER: {"number"},
    FieldType.DATE: {"date"},
    FieldType.DATETIME: {"datetime"},
    FieldType.ENUM: {"enumeration"},
    FieldType.BOOL: {"bool", "enumeration"},
}
_CREATE_AS = {
    FieldType.TEXT: ("string", "textarea"),
    FieldType.NUMBER: ("number", "number"),
    FieldType.DATE: ("date", "date"),
    FieldType.DATETIME: ("datetime", "date"),
    FieldType.ENUM: ("enumeration", "select"),
    FieldType.BOOL: ("bool", "booleancheckbox"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class LiveProperty:
    name: str
    label: str
    type: str
    options: tuple[str, ...]
    read_only: bool
    unique: bool


def _live(p: Any) -> LiveProperty:
    metadata = p.modification_metadata
    return LiveProperty(
        name=p.name, label=p.label or "", type=p.type or "",
        options=tuple(o.value for o in p.options or [] if not getattr(o, "hidden", False)),
        read_only=bool(p.calculated) or bool(metadata and metadata.read_only_value),
        unique=bool(p.has_unique_value),
    )


class PortalSchema:
    """Property definitions per object type, read at most once per run (``forget`` to re-read)."""

    def __init__(self, client: HubSpotClient):
        self._client = client
        self._by_type: dict[str, dict[str, LiveProperty]] = {}

    def properties(self, object_type: str) -> dict[str, LiveProperty]:
        if object_type not in self._by_type:
            reply = self._client.call(f"GET /crm/v3/properties/{object_type}", "crm.properties.core_api",
                                      "get_all", object_type=object_type, archived=False)
            self._by_type[object_type] = {p.name: _live(p) for p in reply.results or []}
        return self._by_type[object_type]

    def forget(self, object_type: str) -> None:
        self._by_type.pop(object_type, None)


# -- check ------------------------------------------------------------------------------------


def check(schema: PortalSchema, fieldmap: FieldMap) -> list[SchemaProblem]:
    problems: list[SchemaProblem] = []
    for spec in fieldmap.fields.values():
        object_type = OBJECT_TYPE[spec.record]
        problems.extend(_check_field(spec, object_type, schema.properties(object_type)))
    problems.extend(_check_task_key(fieldmap.task_key_field, schema.properties("tasks")))
    return problems


def _check_field(spec: FieldSpec, object_type: str, live: dict[str, LiveProperty]) -> Iterable[SchemaProblem]:
    where = f"{object_type}.{spec.crm_name}"
    prop = live.get(spec.crm_name)
    if prop is None:
        yield SchemaProblem(mapping_key=spec.canonical, crm_field=where,
                            problem=f"property does not exist on {object_type}{_suggest(spec.crm_name, live)}")
        return
    if prop.type not in _COMPATIBLE[spec.type]:
        yield SchemaProblem(mapping_key=spec.canonical, crm_field=where,
                            problem=f"mapped as {spec.type} but the property's type is {prop.type}")
    if spec.write and prop.read_only:
        yield SchemaProblem(mapping_key=spec.canonical, crm_field=where,
                            problem="AfterClose writes this field but the property is read-only (calculated)")
    if spec.write and prop.type == "enumeration":
        missing = [o for o in spec.options if o not in prop.options]
        if missing:
            yield SchemaProblem(mapping_key=spec.canonical, crm_field=where,
                                problem=f"enumeration lacks option(s) AfterClose writes: {', '.join(missing)}"
                                        f" (has: {', '.join(prop.options) or 'none'})")


def _check_task_key(name: str, live: dict[str, LiveProperty]) -> Iterable[SchemaProblem]:
    where = f"tasks.{name}"
    prop = live.get(name)
    if prop is None:
        yield SchemaProblem(mapping_key=TASK_KEY_MAPPING, crm_field=where,
                            problem="task key property does not exist (deleted, or never set up): run "
                                    "`afterclose setup` to create it; nothing was written")
    elif prop.type != "string":
        yield SchemaProblem(mapping_key=TASK_KEY_MAPPING, crm_field=where,
                            problem=f"task key property must be a single-line text (string) property, is "
                                    f"{prop.type}: delete it in HubSpot (or point task_key_field at another "
                                    "name) and run `afterclose setup`; nothing was written")


def _suggest(name: str, live: dict[str, LiveProperty]) -> str:
    """A hint for a renamed property: close internal names, or a label that reads like the old name."""
    by_label = {p.label.lower().replace(" ", "_"): p.name for p in live.values() if p.label}
    close = difflib.get_close_matches(name, list(live), n=1, cutoff=0.8)
    close = close or [by_label[m] for m in difflib.get_close_matches(name.lower(), list(by_label), n=1, cutoff=0.8)]
    return f" (did you mean {close[0]}?)" if close else ""


# -- setup ------------------------------------------------------------------------------------


def setup(client: HubSpotClient, schema: PortalSchema, fieldmap: FieldMap, *, ask_unique: bool = True) -> list[str]:
    """Create AfterClose's own properties (and their group) where missing; safe to repeat.
    ``ask_unique``: ask for unique values on the task key property (not when the setting forces
    the non-unique mode)."""
    report: list[str] = []
    wanted: dict[str, list[tuple[PropertyCreate, set[str]]]] = {}
    for spec in fieldmap.fields.values():
        if spec.afterclose_owned:
            wanted.setdefault(OBJECT_TYPE[spec.record], []).append((_definition(spec), _COMPATIBLE[spec.type]))
    for object_type, definitions in wanted.items():
        report.extend(_setup_object(client, schema, object_type, definitions))
    report.extend(_setup_task_key(client, schema, fieldmap.task_key_field, ask_unique=ask_unique))
    return report


def _setup_task_key(client: HubSpotClient, schema: PortalSchema, name: str, *, ask_unique: bool) -> list[str]:
    """The task key property: asked for with unique values (unless told not to); a portal that
    refuses them gets a plain text property. Either way the definition is read back, because a
    portal may accept ``hasUniqueValue`` and not keep it (facts §7)."""
    live = schema.properties("tasks").get(name)
    if live is not None:
        if live.type != "string":
            return [f"cannot fix tasks.{name}: it exists as {live.type}, AfterClose needs a single-line text "
                    "(string) property: delete it in HubSpot (or set task_key_field to another name) and run "
                    "setup again"]
        return [f"exists tasks.{name} ({'unique values' if live.unique else 'plain text'})"]
    report = _ensure_group(client, "tasks")
    unique_asked = ask_unique
    try:
        _create_property(client, "tasks", _task_key_definition(name, unique=ask_unique))
    except FatalCrmError as refused:
        if not ask_unique or refused.status != 400:
            raise
        report.append(f"HubSpot refused unique values on tasks.{name} ({refused}); creating it as plain text")
        _create_property(client, "tasks", _task_key_definition(name, unique=False))
        unique_asked = False
    schema.forget("tasks")
    live = schema.properties("tasks").get(name)
    if live is None:
        raise FatalCrmError(f"tasks.{name} was created but does not read back", provider="hubspot")
    lost_uniqueness = unique_asked and not live.unique
    asked = " (created with unique values, but the portal reads it back without)" if lost_uniqueness else ""
    report.append(f"created tasks.{name} ({'unique values' if live.unique else 'plain text'}){asked}")
    return report


def _create_property(client: HubSpotClient, object_type: str, definition: PropertyCreate) -> None:
    client.call(f"POST /crm/v3/properties/{object_type}", "crm.properties.core_api", "create",
                object_type=object_type, property_create=definition)


def _setup_object(client: HubSpotClient, schema: PortalSchema, object_type: str,
                  definitions: list[tuple[PropertyCreate, set[str]]]) -> list[str]:
    live = schema.properties(object_type)
    missing = [d for d, _ in definitions if d.name not in live]
    report = [line for d, accepted in definitions if d.name in live
              for line in _reconcile(client, object_type, d, accepted, live[d.name])]
    if missing:
        report.extend(_ensure_group(client, object_type))
    for definition in missing:
        try:
            _create_property(client, object_type, definition)
        except FatalCrmError as refused:
            if not definition.has_unique_value or refused.status != 400:
                raise
            # Deal properties may have unique values (documented, facts §7), but a portal at its
            # limit of 10 refuses: the renewal deal key then works without (deal_creates.py).
            report.append(f"HubSpot refused unique values on {object_type}.{definition.name} ({refused}); "
                          "creating it as plain text")
            definition.has_unique_value = False
            _create_property(client, object_type, definition)
        report.append(f"created {object_type}.{definition.name} ({definition.type}"
                      f"{', unique' if definition.has_unique_value else ''})")
    if missing or any(r.startswith("added") for r in report):
        schema.forget(object_type)
    return report


def _reconcile(client: HubSpotClient, object_type: str, wanted: PropertyCreate, accepted: set[str],
               live: LiveProperty) -> list[str]:
    """An existing property: add enumeration options AfterClose writes, report what cannot be fixed."""
    where = f"{object_type}.{wanted.name}"
    if live.type not in accepted:
        return [f"cannot fix {where}: it exists as {live.type}, AfterClose expects {wanted.type}"]
    absent = [o for o in wanted.options or [] if o.value not in live.options]
    if live.type != "enumeration" or wanted.type != "enumeration" or not absent:
        return [f"exists {where}"]
    # PATCH replaces the option list: send the live options too, so none is lost.
    keep = [OptionInput(label=v, value=v, hidden=False, display_order=i) for i, v in enumerate(live.options)]
    options = keep + [OptionInput(label=o.label, value=o.value, hidden=False, display_order=len(keep) + i)
                      for i, o in enumerate(absent)]
    client.call(f"PATCH /crm/v3/properties/{object_type}/{{propertyName}}", "crm.properties.core_api", "update",
                object_type=object_type, property_name=wanted.name, property_update=PropertyUpdate(options=options))
    return [f"added option(s) {', '.join(o.value for o in absent)} to {where}"]


def _ensure_group(client: HubSpotClient, object_type: str) -> list[str]:
    """Create the ``afterclose`` property group; one that already exists (409) is fine."""
    try:
        client.call(f"POST /crm/v3/properties/{object_type}/groups", "crm.properties.groups_api", "create",
                    object_type=object_type,
                    property_group_create=PropertyGroupCreate(name=GROUP_NAME, label=GROUP_LABEL, display_order=-1))
    except FatalCrmError as refused:
        if refused.status == 409:
            return []
        # The properties matter, their folder does not: go on and say so.
        return [f"could not create property group {object_type}.{GROUP_NAME} ({refused}); properties are "
                f"created with groupName={GROUP_NAME} anyway"]
    return [f"created property group {object_type}.{GROUP_NAME}"]


def _definition(spec: FieldSpec) -> PropertyCreate:
    type_, field_type = _CREATE_AS[spec.type]
    options = None
    if spec.type is FieldType.ENUM:
        options = [OptionInput(label=_humanize(v), value=v, hidden=False, display_order=i) for i,
                   v in enumerate(spec.options)]
    elif spec.type is FieldType.BOOL:
        options = [OptionInput(label="Yes", value="true", hidden=False, display_order=0),
                   OptionInput(label="No", value="false", hidden=False, display_order=1)]
    return PropertyCreate(
        name=spec.crm_name, label=getattr(spec, "label", "") or _humanize(spec.canonical), type=type_,
        field_type=field_type, group_name=GROUP_NAME, options=options,
        has_unique_value=spec.canonical == RENEWAL_DEAL_KEY,  # one renewal deal per key (deal_creates.py)
        description="Written by AfterClose.", form_field=False,
    )


def _task_key_definition(name: str, *, unique: bool) -> PropertyCreate:
    return PropertyCreate(
        name=name, label="AfterClose key", type="string", field_type="text", group_name=GROUP_NAME,
        has_unique_value=unique, form_field=False,
        description="AfterClose's idempotency key: one task per key, ever. Do not edit.",
    )


def _humanize(name: str) -> str:
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]
