"""Checks one input's properties the way HubSpot does, and returns the values to store.

Everything wrong with an input is reported together, each with ``context.propertyName``
(brief; [DOC: https://developers.hubspot.com/docs/api-reference/error-handling]).
"""

from __future__ import annotations

from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.errors import InputError, detail
from connector.sandbox.hubspot.schema import ObjectType, PropertyDef, Stored, ValueProblem, normalise
from connector.sandbox.hubspot.store import Record

Reserved = dict[tuple[str, str], int]
"""(unique property, value) claimed by an earlier input of the same batch -> its index."""


def check_properties(b: Backend, kind: ObjectType, raw: object, *, existing: Record | None,
                     reserved: Reserved | None = None) -> dict[str, Stored | None]:
    if not isinstance(raw, dict):
        raise InputError("properties must be an object of property name -> value",
                         errors=[detail("properties is not an object", "INVALID_INPUT")])
    schema = b.store.schema[kind.name]
    values: dict[str, Stored | None] = {}
    problems: list[dict] = []
    for name, value in raw.items():
        prop = schema.get(name)
        try:
            values[name] = _one_value(b, prop, name, value)
        except ValueProblem as problem:
            problems.append(detail(problem.message, problem.code, propertyName=[name]))
    if not problems:
        problems += _object_rules(b, kind, values, existing)
        problems += _unique_rules(b, kind, values, existing, reserved)
    if problems:
        conflict = next((p for p in problems if p["code"] == "CONTACT_EXISTS"), None)
        if conflict:
            raise InputError(conflict["message"], category="CONFLICT", status=409, errors=[conflict])
        names = sorted({n for p in problems for n in p.get("context", {}).get("propertyName", [])})
        raise InputError(f"Property values were not valid: {'; '.join(p['message'] for p in problems)}",
                         errors=problems, context={"propertyName": names} if names else {})
    return values


def _one_value(b: Backend, prop: PropertyDef | None, name: str, value: object) -> Stored | None:
    if prop is None or prop.archived:
        raise ValueProblem("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if prop.read_only_value:
        # PATCH docs: "Read-only and non-existent properties will result in an error."
        raise ValueProblem("READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set')
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise ValueProblem("INVALID_VALUE", f'"{name}" must be a string, got {type(value).__name__}')
    stored = normalise(prop, value)
    if name == "email" and stored is not None:
        stored = Stored(stored.text.strip().lower())  # HubSpot stores emails lower-cased
    if prop.referenced_object_type == "OWNER" and stored is not None:
        _check_owner(b, stored.text)
    return stored


def _check_owner(b: Backend, owner_id: str) -> None:
    owner = b.owners.get(owner_id)
    if owner is None:
        raise ValueProblem("INVALID_OWNER_ID", f"{owner_id} is not a valid owner id")
    if not owner.active:
        # Undocumented by HubSpot; the brief asks for a per-input VALIDATION_ERROR (stricter reading),
        # see docs/hubspot-api-notes.md "Deactivated owners".
        raise ValueProblem("INACTIVE_OWNER", f"owner {owner_id} is deactivated and cannot be assigned")


def _object_rules(b: Backend, kind: ObjectType, values: dict[str, Stored | None],
                  existing: Record | None) -> list[dict]:
    if kind.name == "tasks":
        return _task_rules(values, existing)
    if kind.name == "deals":
        return _deal_rules(b, values, existing)
    return []


def _task_rules(values: dict[str, Stored | None], existing: Record | None) -> list[dict]:
    # hs_timestamp is required (tasks guide, facts §3); clearing it on update is refused too.
    missing = ("hs_timestamp" in values and values["hs_timestamp"] is None) or (
        existing is None and values.get("hs_timestamp") is None)
    if missing:
        return [detail("hs_timestamp is required for tasks (the task's due date)", "REQUIRED_PROPERTY",
                       propertyName=["hs_timestamp"])]
    return []


def _deal_rules(b: Backend, values: dict[str, Stored | None], existing: Record | None) -> list[dict]:
    """The stage must belong to the deal's pipeline; hs_is_closed(_won) follow the stage."""
    old = existing.props if existing else {}
    pipeline_id = values["pipeline"].text if values.get("pipeline") else old.get("pipeline", "default")
    stage_id = values["dealstage"].text if values.get("dealstage") else old.get("dealstage")
    pipeline = b.pipelines.get(pipeline_id)
    if pipeline is None:
        return [detail(f"{pipeline_id} is not a valid pipeline", "INVALID_OPTION", propertyName=["pipeline"])]
    if stage_id is None:
        # Deals guide: a deal is created with a dealstage (and pipeline, "default" if omitted).
        return [detail("dealstage is required to create a deal", "REQUIRED_PROPERTY", propertyName=["dealstage"])]
    stage = pipeline.stage(stage_id)
    if stage is None:
        return [detail(f"{stage_id} is not a valid deal stage of pipeline {pipeline_id}", "INVALID_OPTION",
                       propertyName=["dealstage"])]
    values["pipeline"] = Stored(pipeline.id)
    values["dealstage"] = Stored(stage.id)
    values["hs_is_closed_won"] = Stored("true" if stage.won else "false")
    values["hs_is_closed"] = Stored("true" if stage.closed else "false")
    return []


def _unique_rules(b: Backend, kind: ObjectType, values: dict[str, Stored | None], existing: Record | None,
                  reserved: Reserved | None) -> list[dict]:
    problems = []
    for name, index in b.store.types[kind.name].unique.items():
        stored = values.get(name)
        if stored is None:
            continue
        holder = index.get(stored.text)
        taken = holder is not None and (existing is None or holder != existing.id)
        if reserved is not None and (name, stored.text) in reserved:
            taken = True
        if not taken:
            continue
        if kind.name == "contacts" and name == "email":
            message = f"Contact already exists. Existing ID: {holder}" if holder else "Contact already exists."
            problems.append(detail(message, "CONTACT_EXISTS", propertyName=[name]))
        else:
            # A duplicate unique value is refused, never a second record. HubSpot's message contains
            # "already has that value" [2ND, see docs/hubspot-api-notes.md]; it does not say which record
            # holds the value (stricter reading: the sandbox does not either).
            problems.append(detail(f'{stored.text} already has that value for unique property "{name}"',
                                   "VALUE_NOT_UNIQUE", propertyName=[name]))
    return problems


def reserve(values: dict[str, Stored | None], b: Backend, kind: ObjectType, reserved: Reserved, index: int) -> None:
    for name in b.store.types[kind.name].unique:
        if values.get(name) is not None:
            reserved[(name, values[name].text)] = index
