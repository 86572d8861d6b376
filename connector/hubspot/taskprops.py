"""AfterClose's tasks as HubSpot task properties, both ways, and how the portal keeps task keys.

``TaskSpec`` -> properties for a create or an update (the body rendered as HTML, subject and
body cut to HubSpot's limits: limits.py); a task read back (batch read reply) -> ``TaskRef``
with its content, the body read back from HTML to structured text, so a task found in HubSpot
can be compared with the plan like with like (``TaskRef.differences``) instead of being taken
as already written. Property names and options:
https://developers.hubspot.com/docs/api/crm/tasks.

**Task key modes.** The key is always a plain text task property written on every task. Whether
HubSpot enforces unique values on it is not documented for tasks (facts §7): the portal decides.
``UNIQUE``: the property reads back ``hasUniqueValue: true``; a repeated create is refused per
input and looked up by ``idProperty``. ``NON_UNIQUE``: it reads back false, or the setting
``task_key_mode = "non_unique"`` says not to rely on it; then nothing reads or writes by
``idProperty`` on it and creation is made exactly-once by the create journal and reads by deal
(creates.py, reconcile.py, docs/hubspot-adapter.md).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from hubspot.crm.objects import AssociationSpec, PublicAssociationsForObject, PublicObjectId

from connector.hubspot import limits
from connector.hubspot.client import sdk_model
from connector.hubspot.search import parse_instant, to_epoch_ms
from connector.model import Priority, TaskRef, TaskSpec, TaskStatus, TaskType
from connector.rich_text import from_html

TASK_TO_DEAL, TASK_TO_COMPANY, TASK_TO_CONTACT = 216, 192, 204
"""HubSpot-defined association types (hubspot.crm.association_type.AssociationType, facts §2)."""

PRIORITY = {Priority.HIGH: "HIGH", Priority.NORMAL: "MEDIUM", Priority.LOW: "LOW"}
TYPE = {TaskType.CALL: "CALL", TaskType.EMAIL: "EMAIL", TaskType.TODO: "TODO"}
STATUS = {TaskStatus.OPEN: "NOT_STARTED", TaskStatus.COMPLETED: "COMPLETED"}
_PRIORITY_OF = {v: k for k, v in PRIORITY.items()}
_TYPE_OF = {v: k for k, v in TYPE.items()}

READ_PROPERTIES = ("hs_task_status", "hs_timestamp", "hubspot_owner_id", "hs_task_subject", "hs_task_body",
                   "hs_task_priority", "hs_task_type")
"""What a task read asks for besides the key: enough to compare a found task with the plan."""


class KeyMode(StrEnum):
    UNIQUE = "unique"
    NON_UNIQUE = "non_unique"


KEY_MODE_SETTINGS = ("auto", "non_unique")
"""``[hubspot] task_key_mode``: "auto" follows the portal; "non_unique" never relies on uniqueness."""


def key_mode(setting: str, property_is_unique: bool) -> KeyMode:
    if setting == "non_unique" or not property_is_unique:
        return KeyMode.NON_UNIQUE
    return KeyMode.UNIQUE


def describe(mode: KeyMode, key_property: str, setting: str) -> str:
    """The mode in a user's words (setup, check, status)."""
    if mode is KeyMode.UNIQUE:
        return (f"unique task keys: tasks.{key_property} has unique values, so HubSpot itself refuses a "
                "second task with one key (the faster path)")
    why = ("task_key_mode = \"non_unique\"" if setting == "non_unique"
           else f"tasks.{key_property} does not have unique values on this portal")
    return (f"non-unique task keys ({why}): every create is written ahead in the state store and a create "
            "without an answer is looked up on its deal before it is sent again")


def task_properties(spec: TaskSpec, key_property: str) -> dict[str, str]:
    properties = {
        key_property: spec.key,
        "hs_task_subject": limits.task_subject(spec.subject),
        "hs_task_body": limits.task_body(spec.body),  # HTML: hs_task_body is a rich-text property
        "hs_timestamp": str(to_epoch_ms(spec.due_at)),
        "hs_task_priority": PRIORITY[spec.priority],
        "hs_task_type": TYPE[spec.type],
        "hs_task_status": STATUS[spec.status],
    }
    if spec.owner_id:
        properties["hubspot_owner_id"] = spec.owner_id
    return properties


def task_associations(spec: TaskSpec) -> list[PublicAssociationsForObject]:
    links = [(spec.deal_id, TASK_TO_DEAL), (spec.company_id, TASK_TO_COMPANY), (spec.contact_id, TASK_TO_CONTACT)]
    return [
        sdk_model(PublicAssociationsForObject,
            to=sdk_model(PublicObjectId, id=to_id),
            types=[sdk_model(AssociationSpec, association_category="HUBSPOT_DEFINED", association_type_id=type_id)],
        )
        for to_id, type_id in links if to_id
    ]


def task_ref(task_id: str, properties: dict[str, Any], key_property: str, deal_id: str | None = None) -> TaskRef:
    """A task as read back: key, id, due, status, owner, and its content for comparison."""
    p = properties or {}
    return TaskRef(
        key=p.get(key_property) or "", crm_id=str(task_id), deal_id=deal_id,
        due_at=parse_instant(p.get("hs_timestamp")),
        status=TaskStatus.COMPLETED if p.get("hs_task_status") == STATUS[TaskStatus.COMPLETED] else TaskStatus.OPEN,
        owner_id=p.get("hubspot_owner_id") or None,
        subject=p.get("hs_task_subject") or "", body=from_html(p.get("hs_task_body") or ""),
        priority=_PRIORITY_OF.get(p.get("hs_task_priority") or ""), type=_TYPE_OF.get(p.get("hs_task_type") or ""),
    )
