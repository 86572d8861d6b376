"""The values a task template is filled with: one place for every kind of task (touch points,
the handoff task, NPS follow-ups), after the one placeholder table in
connector/mapping/templates.py. Pure.

It is also the one place where text that came from outside (CRM fields, deal and company names,
survey comments) goes into a task, and so where what a CRM, a spreadsheet export or a terminal
would interpret in it is neutralised, keeping the words:

- terminal escape sequences (``ESC [ ... m``, ``ESC ] 8 ;; url BEL``) are removed whole, and
  every other control character but tab and line breaks;
- bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069: "Trojan
  Source", ``invoice\u202egnp.exe`` shown as ``invoiceexe.png``) are removed; the plain marks
  U+200E/U+200F that right-to-left text needs are kept;
- an HTML tag's angle brackets become ``‹ ›`` (U+2039/U+203A), so ``<script>`` or ``<img ...>``
  reads the same but no rich-text body (HubSpot's task body is HTML) takes it for markup; a
  ``<`` that does not open a tag (``a < b``, ``<3``) stays;
- a task subject, body or written-back field whose first character would start a spreadsheet
  formula (``=``, ``+``, ``-``, ``@``) gets a leading ``'``, what spreadsheets read as "text"
  (OWASP, "CSV Injection"): CRM exports put each in a cell.

Ordinary text passes unchanged, so tasks already written are not rewritten.

A body is *structured text* (``connector/rich_text.py``): paragraphs separated by a blank line,
``- `` and ``1. `` list items. It is decided here once; each adapter renders it for its CRM
(HubSpot: escaped HTML; Salesforce: the text itself) and cuts it to the field's limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from connector.mapping import TaskTemplate, format_stakeholders, render_template
from connector.model import Deal


def deal_values(deal: Deal | None, *, company_name: str | None = None,
                renewal_date: str | None = None) -> dict[str, str | None]:
    """The placeholders that come from the deal: its mapped fields by canonical name, then its
    name, id, company, owner, close date, amount and stakeholders. ``company_name`` and
    ``renewal_date`` override the deal's own (the NPS account's name, the cycle's renewal date)."""
    if deal is None:
        return {"company_name": company_name, "renewal_date": renewal_date}
    values: dict[str, str | None] = dict(deal.fields)
    values.update(
        deal_name=deal.name,
        deal_id=deal.id,
        company_name=company_name or (deal.company.name if deal.company else None),
        owner_name=(deal.owner.name or deal.owner.email) if deal.owner else None,
        close_date=deal.close_date.isoformat() if deal.close_date else None,
        renewal_date=renewal_date or deal.value("renewal_date"),
        amount=deal.amount,
        stakeholders=format_stakeholders(deal.contacts),
    )
    return values


def render_task(template: TaskTemplate, values: Mapping[str, str | None]) -> tuple[str, str]:
    """(subject, body): a missing value shows as the template's "not recorded" marker; every
    value is outside text (``outside_text``), and neither result starts a formula (``cell_text``)."""
    cleaned = {name: outside_text(value) if isinstance(value, str) else value for name, value in values.items()}
    subject = render_template(template.subject, cleaned).strip()
    return cell_text(subject), cell_text(render_template(template.body, cleaned))


_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TAG = re.compile(r"<(/?[A-Za-z!?][^<>]*)>")
_TAG_START = re.compile(r"<(?=/?[A-Za-z!?])")
_FORMULA_STARTS = ("=", "+", "-", "@")


def without_controls(text: str) -> str:
    """``text`` without terminal escape sequences, control characters (tab and line breaks kept)
    and bidirectional overrides: what a terminal or a viewer would act on instead of showing."""
    return _CONTROLS.sub("", _ESCAPE_SEQUENCE.sub("", text))


def outside_text(text: str) -> str:
    """A value from outside as it may appear inside a task: ``without_controls``, and HTML tags
    defused into look-alike brackets."""
    return _TAG_START.sub("\u2039", _TAG.sub("\u2039\\1\u203a", without_controls(text)))


def cell_text(text: str) -> str:
    """``text`` with a ``'`` before its first visible character when that would start a
    spreadsheet formula."""
    start = len(text) - len(text.lstrip())
    return f"{text[:start]}'{text[start:]}" if text[start:].startswith(_FORMULA_STARTS) else text


def field_text(text: str | None) -> str | None:
    """Outside text written into a CRM field of its own (an NPS comment): ``outside_text``, then
    ``cell_text``, as a task's body gets."""
    return cell_text(outside_text(text)) if text else text
