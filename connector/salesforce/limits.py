"""Salesforce's text limits: the one table this adapter cuts every text it writes to
(``connector/text_limits.py``). Task bodies are plain text here (``Task.Description`` is a long
text area, not rich text), so nothing is rendered.

- ``Task.Subject`` is a 255-character combobox, ``Task.Description`` a 32,000-character long
  text area [DOC: https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_task.htm];
- a written-back text field holds what its definition says: the ``length`` its describe reports
  [DOC: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm],
  else the Long Text Area(32768) that ``setup`` advises creating.

A value over the limit is refused (``STRING_TOO_LONG``) on every run.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.text_limits import cut

WRITE_BACK_MAX = 32_768

FIELD_LIMITS: dict[tuple[str, str], int] = {
    ("Task", "Subject"): 255,
    ("Task", "Description"): 32_000,
}
"""(sObject, field) -> its limit in characters; another text field: its described length."""

Lengths = Callable[[str, str], int | None]
"""(sObject, field) -> the length the org's describe reports, None when not described."""


def _not_described(sobject: str, field: str) -> int | None:
    return None


def limit_of(sobject: str, field: str, lengths: Lengths = _not_described) -> int:
    if (sobject, field) in FIELD_LIMITS:
        return FIELD_LIMITS[(sobject, field)]
    return lengths(sobject, field) or WRITE_BACK_MAX


def field_text(sobject: str, field: str, text: str, lengths: Lengths = _not_described) -> str:
    return cut(text, limit_of(sobject, field, lengths))
