"""Actions -> sObject Collections calls, and their per-record results -> ``ActionResult``.

* Tasks (create, reschedule) are **upserted by AfterClose's key**: PATCH
  ``composite/sobjects/Task/<KeyField>``, <= 200 records, ``allOrNone: false``
  [DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html].
  Salesforce matches the External ID: a create whose reply was lost, retried, updates the task
  it already made instead of making a second one.
* Closes and record write-backs are updates by Id: PATCH ``composite/sobjects``, <= 200 records
  of any types (grouped by type: Salesforce processes runs of one type as chunks, at most 10)
  [DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-update.html].
  A close is never an upsert: upserting ``{key, Status: Completed}`` for a task a rep deleted
  would create an empty, completed task.
* A well-formed collection request answers 200 with one ``{id, success, errors[{statusCode,
  message, fields}]}`` per record, in order (facts §4): failures become REJECTED, the rest stand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from connector.actions import ActionResult, CloseTask, CreateDeal, CreateTask, Outcome, UpdateRecord, UpdateTask
from connector.errors import ConfigError, FatalCrmError
from connector.mapping import FieldMap, FieldSpec, FieldType
from connector.model import Priority, RecordKind, TaskRef, TaskSpec, TaskStatus, TaskType
from connector.salesforce import limits
from connector.salesforce.errors import PROVIDER

COLLECTION_MAX = 200
SOBJECT = {RecordKind.DEAL: "Opportunity", RecordKind.COMPANY: "Account", RecordKind.CONTACT: "Contact"}

# Standard Task picklist values (facts §4 "Task"); an org that renamed them overrides them in the
# mapping's [salesforce] table: task_status / task_priority / task_type = {neutral = "Label"}.
_DEFAULTS: dict[str, Mapping[Any, str]] = {
    "Status": {TaskStatus.OPEN: "Not Started", TaskStatus.COMPLETED: "Completed"},
    "Priority": {Priority.HIGH: "High", Priority.NORMAL: "Normal", Priority.LOW: "Low"},
    "Type": {TaskType.CALL: "Call", TaskType.EMAIL: "Email", TaskType.TODO: "Other"},
}
_EXTRAS_KEY = {"Status": "task_status", "Priority": "task_priority", "Type": "task_type"}

T = TypeVar("T")


def check_extras(fieldmap: FieldMap) -> None:
    """The mapping's ``[salesforce]`` table is passed through unchecked; this adapter checks it."""
    known = {key: field_name for field_name, key in _EXTRAS_KEY.items()}
    for key, value in fieldmap.extras.items():
        where = dict(source=fieldmap.source, key=f"salesforce.{key}")
        if key not in known:
            raise ConfigError(f"unknown setting; expected one of {', '.join(sorted(known))}", **where)
        neutral = {str(v) for v in _DEFAULTS[known[key]]}
        if not isinstance(value, Mapping) or not all(isinstance(v, str) and v for v in value.values()):
            raise ConfigError("must be a table of neutral value = \"Salesforce picklist value\"", **where)
        unknown = sorted(set(value) - neutral)
        if unknown:
            raise ConfigError(f"unknown values {', '.join(unknown)}; expected {', '.join(sorted(neutral))}",
                              **where)


def task_values(fieldmap: FieldMap) -> dict[str, dict[str, str]]:
    out = {}
    for field_name, defaults in _DEFAULTS.items():
        given = fieldmap.extras.get(_EXTRAS_KEY[field_name])
        overrides: Mapping[str, object] = given if isinstance(given, Mapping) else {}  # checked at load
        out[field_name] = {str(k): str(overrides.get(str(k), v)) for k, v in defaults.items()}
    return out


def task_picklist_values(fieldmap: FieldMap) -> dict[str, tuple[str, ...]]:
    return {name: tuple(values.values()) for name, values in task_values(fieldmap).items()}


def task_record(spec: TaskSpec, fieldmap: FieldMap) -> dict[str, Any]:
    values = task_values(fieldmap)
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        fieldmap.task_key_field: spec.key,
        # Cut to the field's limit with a visible marker (limits.py); the body is plain text here.
        "Subject": limits.field_text("Task", "Subject", spec.subject),
        "Description": limits.field_text("Task", "Description", spec.body),
        "ActivityDate": spec.due_date.isoformat(),
        "Priority": values["Priority"][spec.priority],
        "Status": values["Status"][spec.status],
        "Type": values["Type"][spec.type],
        # WhatId links deal (and, through it, the account: Task.AccountId is derived);
        # WhoId links the main contact and is cleared when the deal has none any more.
        "WhatId": spec.deal_id,
        "WhoId": spec.contact_id,
    }
    if spec.owner_id:
        record["OwnerId"] = spec.owner_id  # absent: Salesforce assigns the integration user
    return record


def task_ref(record: Mapping[str, Any], key_field: str) -> TaskRef:
    due = record.get("ActivityDate")
    return TaskRef(
        key=record[key_field], crm_id=record["Id"], deal_id=record.get("WhatId"),
        # ActivityDate is a date; midnight UTC stands for "that day" in the neutral model.
        due_at=dt.datetime.combine(dt.date.fromisoformat(due), dt.time(0), dt.UTC) if due else None,
        status=TaskStatus.COMPLETED if record.get("IsClosed") else TaskStatus.OPEN,
        owner_id=record.get("OwnerId"),
    )


class Refused(Exception):
    """An action AfterClose itself cannot turn into a valid record (reported as REJECTED)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def record_update(action: UpdateRecord, fieldmap: FieldMap, lengths: limits.Lengths | None = None) -> dict[str, Any]:
    """The record of a write-back; a text longer than its field holds (``lengths``: what the
    org's describe says) is cut with a visible marker."""
    update = action.update
    record: dict[str, Any] = {"attributes": {"type": SOBJECT[update.kind]}, "Id": update.record_id}
    for canonical, value in update.values.items():
        spec = fieldmap.fields.get(canonical)
        if spec is None:
            raise Refused("UNMAPPED_FIELD", f"fields.{canonical} is not in the mapping ({fieldmap.source})")
        if spec.record is not update.kind or not spec.write:
            raise Refused("NOT_A_WRITE_BACK_FIELD",
                          f"fields.{canonical} is not a {update.kind} write-back field in {fieldmap.source}")
        typed = typed_value(spec, value)
        if isinstance(typed, str) and spec.type is FieldType.TEXT:
            typed = limits.field_text(SOBJECT[update.kind], spec.crm_name, typed, lengths or _not_described)
        record[spec.crm_name] = typed
    return record


def _not_described(sobject: str, field: str) -> int | None:
    return None


def typed_value(spec: FieldSpec, value: str | None) -> Any:
    """Neutral text -> the JSON type the Salesforce field takes; None clears the field. A field
    that holds the value as another compatible type (``write_as``: a number in a text field, a
    date in a date-time field) takes the text as the planner wrote it for that type."""
    if value is None:
        return None
    if spec.write_as is not None and spec.write_as is not spec.type:
        return value
    try:
        if spec.type is FieldType.NUMBER:
            number = Decimal(value.strip())
            return int(number) if number == number.to_integral_value() else float(number)
        if spec.type is FieldType.DATE:
            return dt.date.fromisoformat(value.strip()).isoformat()
        if spec.type is FieldType.BOOL:
            return {"true": True, "false": False}[value.strip().lower()]
    except (InvalidOperation, ValueError, KeyError):
        raise Refused("INVALID_VALUE", f"fields.{spec.canonical} ({spec.crm_name}): {value!r} is not a "
                                       f"valid {spec.type}") from None
    return value


def chunks(items: Sequence[T], identity: Callable[[T], str], size: int = COLLECTION_MAX) -> list[list[T]]:
    """Collections of at most ``size`` in which no record appears twice (Salesforce refuses a
    duplicate Id or external id inside one collection)."""
    out: list[list[T]] = []
    current: list[T] = []
    seen: set[str] = set()
    for item in items:
        if len(current) >= size or identity(item) in seen:
            out.append(current)
            current, seen = [], set()
        current.append(item)
        seen.add(identity(item))
    if current:
        out.append(current)
    return out


@dataclass(frozen=True)
class Pending:
    index: int
    action: CreateTask | UpdateTask | CloseTask | UpdateRecord | CreateDeal
    record: dict[str, Any]


def check_reply(reply: Any, sent: int, endpoint: str) -> list[Mapping[str, Any]]:
    if not isinstance(reply, list) or len(reply) != sent or not all(isinstance(r, dict) for r in reply):
        raise FatalCrmError(f"collection reply does not hold one result per record ({sent} sent)",
                            provider=PROVIDER, endpoint=endpoint)
    return reply


def outcome_of(pending: Pending, result: Mapping[str, Any]) -> ActionResult:
    action = pending.action
    if not result.get("success"):
        return _rejected(action, result.get("errors") or [])
    crm_id = result.get("id") or pending.record.get("Id")
    if isinstance(action, CreateTask):
        if result.get("created") is False:
            return ActionResult(action=action, outcome=Outcome.UPDATED, crm_id=crm_id,
                                message="a task with this key already existed; it was brought up to date")
        return ActionResult(action=action, outcome=Outcome.CREATED, crm_id=crm_id)
    if isinstance(action, UpdateTask):
        if result.get("created"):
            return ActionResult(action=action, outcome=Outcome.CREATED, crm_id=crm_id,
                                message="no task with this key existed (deleted in Salesforce?); created again")
        return ActionResult(action=action, outcome=Outcome.UPDATED, crm_id=crm_id)
    if isinstance(action, CloseTask):
        return ActionResult(action=action, outcome=Outcome.CLOSED, crm_id=crm_id)
    return ActionResult(action=action, outcome=Outcome.UPDATED, crm_id=crm_id)


def _rejected(action: Any, errors: Iterable[Mapping[str, Any]]) -> ActionResult:
    errors = list(errors)
    first = errors[0] if errors else {}
    code = first.get("statusCode")
    if isinstance(action, CloseTask) and code == "ENTITY_IS_DELETED":
        return ActionResult(action=action, outcome=Outcome.UNCHANGED, message="task was deleted in Salesforce",
                            error_code=code)
    message = "; ".join(_describe(error, code) for error in errors) or "Salesforce refused the record without a reason"
    if code == "INACTIVE_OWNER_OR_USER":
        message += INACTIVE_OWNER_HINT
    return ActionResult(action=action, outcome=Outcome.REJECTED, message=message, error_code=code)


INACTIVE_OWNER_HINT = ("; a deal owner who has left? `[playbook] fallback_owner` gives their tasks to someone else")
"""Salesforce refuses a task owned by a deactivated user (INACTIVE_OWNER_OR_USER): the way out is
the playbook's fallback owner (jobs/core/task_specs.py), as the demo's hint says (jobs/cli/demo.py)."""


def _describe(error: Mapping[str, Any], shown_code: str | None) -> str:
    """One error in words. The code the result carries (``error_code``: `run` and `status` print
    it after the message) is not said again; another error's code is."""
    fields = error.get("fields") or []
    suffix = f" (fields: {', '.join(fields)})" if fields else ""
    code = error.get("statusCode", "ERROR")
    prefix = "" if code == shown_code else f"{code}: "
    return f"{prefix}{error.get('message', '')}{suffix}"
