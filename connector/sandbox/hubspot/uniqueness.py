"""Whether a task property can have unique values: a sandbox setting, because nobody has shown it.

HubSpot lists unique-value properties for "Companies, Deals, Tickets, and Custom Objects" and, since
September 2023, contacts; tasks are not named, and no public source shows a unique task property or
the error a portal gives when refusing one (facts §7, docs/hubspot-api-notes.md). An adapter must
stay exactly-once under each of three portals:

- ``refuse``: creating a task property with ``hasUniqueValue: true`` answers 400 VALIDATION_ERROR;
- ``ignore``: the property is created, but reads back with ``hasUniqueValue: false`` and duplicate
  values are accepted;
- ``grant``: uniqueness is enforced as on deals (the sandbox's behaviour before this setting).

Whichever mode, a property without unique values cannot be an ``idProperty`` for batch upsert,
batch update or reads (objects.py). ``refuse`` is the stricter reading and the default.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from connector.sandbox.hubspot.errors import ApiError, validation_error
from connector.sandbox.hubspot.schema import PropertyDef


class TaskUniqueness(StrEnum):
    REFUSE = "refuse"
    IGNORE = "ignore"
    GRANT = "grant"


DEFAULT_TASK_UNIQUENESS = TaskUniqueness.REFUSE
"""``refuse``: the stricter reading (no public source shows a unique task property)."""

_TASKS = "tasks"


def mode_of(value: TaskUniqueness | str) -> TaskUniqueness:
    try:
        return TaskUniqueness(value)
    except ValueError:
        raise ValueError(f"task_uniqueness {value!r} is not one of "
                         f"{', '.join(m.value for m in TaskUniqueness)}") from None


def on_create(mode: TaskUniqueness, type_name: str, prop: PropertyDef) -> PropertyDef:
    """The definition a property create stores, or the 400 the portal answers (API route)."""
    if type_name != _TASKS or not prop.has_unique_value or mode is TaskUniqueness.GRANT:
        return prop
    if mode is TaskUniqueness.REFUSE:
        raise refusal(prop.name)
    return replace(prop, has_unique_value=False)


def refusal(name: str) -> ApiError:
    # The wording is the sandbox's own: no public source quotes HubSpot refusing this [UNVERIFIED].
    return validation_error(f"Property {name!r} cannot have unique values: unique value properties are not "
                            "supported for object type 0-27 (tasks)", propertyName=[name])


def allows_unique(mode: TaskUniqueness, type_name: str) -> bool:
    """Can a unique-value property exist on this object type in this portal?"""
    return type_name != _TASKS or mode is TaskUniqueness.GRANT
