"""Task templates: the one table of placeholders, and filling a template with values.

Every template in a mapping (touch point tasks, the handoff task, the NPS tasks) may use every
placeholder below, and any declared canonical field name; the loader checks against this table
and the renderers fill from it, so a template copied from one kind of task into another always
loads. A placeholder a task has no value for renders as ``NOT_RECORDED``.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from connector.model import Contact

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
    "missing_list": "one line per missing handoff field: its label, what is wrong, and where to fill it in",
    "why": "why the task exists: the touch point, the date it counts from, the playbook, and what it is for",
    "playbook": "the title of the deal's playbook (\"New business\")",
    "touch_point_title": "the touch point's title from the playbook (\"Kickoff call\")",
    "due_date": "the task's due date, YYYY-MM-DD",
    "cycle": "the renewal cycle the task belongs to (1 for the first year, 2 for the second ...)",
    "nps_comment": "the comment of the NPS response the task is about (NPS tasks)",
    "respondent": "who answered the NPS survey: their name and email (NPS tasks)",
    "responded_on": "the day they answered, YYYY-MM-DD (NPS tasks)",
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
"""Placeholders every template may use, with what they hold (jobs/core/task_text.py fills them).
Any declared canonical field name is a placeholder too (its raw value)."""
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


def placeholders_in(template: str) -> frozenset[str]:
    """The placeholder names ``template`` uses (``{decision_criteria}`` -> decision_criteria)."""
    return frozenset(name for _literal, name in _parsed_template(template) if name)


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
