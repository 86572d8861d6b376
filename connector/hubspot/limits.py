"""HubSpot's text limits: the one table this adapter cuts every text it writes to
(``connector/text_limits.py``), and the renderings that go with them.

A ``string`` property holds "any text up to 65,536 characters"
[DOC: https://developers.hubspot.com/docs/api/crm/properties] (facts §7); a longer value is
refused (400). The task's subject and body are string properties; the body is rich text
(``fieldType: html``), so it is rendered as HTML (``connector/rich_text.py``) and it is the HTML
that must fit. A write-back (``handoff_missing``, an NPS comment) is a string property as well.
"""

from __future__ import annotations

from connector.rich_text import to_html
from connector.text_limits import cut

STRING_MAX = 65_536

FIELD_LIMITS: dict[str, int] = {
    "hs_task_subject": STRING_MAX,
    "hs_task_body": STRING_MAX,
}
"""Property -> its limit in characters; a property not listed is a string property (STRING_MAX)."""


def limit_of(property_name: str) -> int:
    return FIELD_LIMITS.get(property_name, STRING_MAX)


def task_subject(subject: str) -> str:
    return cut(subject, limit_of("hs_task_subject"))


def task_body(body: str) -> str:
    """The body as HubSpot shows it: HTML, cut before rendering so it stays well-formed."""
    return cut(body, limit_of("hs_task_body"), to_html)


def property_value(property_name: str, text: str) -> str:
    """A text written back to a record property."""
    return cut(text, limit_of(property_name))
