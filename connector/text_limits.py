"""Text cut to a CRM field's length, with a visible marker: the one cutting rule for every text
AfterClose writes (task subjects and bodies, text write-backs such as ``handoff_missing`` or an
NPS comment), on every CRM.

Each adapter states its fields' limits once, as data (``connector/hubspot/limits.py``,
``connector/salesforce/limits.py``) and cuts with ``cut``. A CRM refuses a value over its limit
(HubSpot 400 ``INVALID_STRING``, Salesforce ``STRING_TOO_LONG``) on every run, so one long
handoff field or survey comment would otherwise keep that deal's tasks out of the CRM forever.

The text is cut *before* it is rendered (escaped, turned into HTML), so a rendered value is
always well-formed; the rendered length is what is held to the limit. ``same_text`` is how a
value read back from the CRM is compared with the one planned: a value cut by ``cut`` equals the
planned text it was cut from, so a re-run does not rewrite it every time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MARKER = "[… cut by AfterClose: longer than this CRM field allows]"
"""Ends every cut value, so a reader knows there was more (and where to look: the source record)."""

_BOUNDARY = 80
"""How far back from the limit a cut looks for a space or line break, to end on a whole word."""

TAIL_MAX = 1_500
"""A cut keeps the text's last paragraphs (up to two, this many characters together) after the
marker: that is where a task says why it exists and what AfterClose changed (jobs/core/task_specs.py)."""

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def _unchanged(text: str) -> str:
    return text


def cut(text: str, limit: int, render: Callable[[str], str] = _unchanged) -> str:
    """``render(text)`` when that fits in ``limit`` characters; else ``render`` of the longest
    start of ``text`` (ended on a word boundary where one is near), ``MARKER``, and the text's
    last short paragraphs (``TAIL_MAX``) when they fit too. ``render`` must not shorten text as
    it grows (escaping, HTML); the identity by default."""
    rendered = render(text)
    if len(rendered) <= limit:
        return rendered
    head, tail = _split_tail(text)
    if tail and len(render(_joined("", tail))) > limit:
        head, tail = text, ""  # too little room for the end: keep the start only

    def fits(n: int) -> bool:
        return len(render(_joined(head[:n], tail))) <= limit

    low, high = 0, len(head)  # fits(0) holds (checked above, or the marker alone); find the largest n
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    end = low
    space = max(head.rfind(" ", max(0, low - _BOUNDARY), low + 1), head.rfind("\n", max(0, low - _BOUNDARY), low + 1))
    if space > 0 and low < len(head) and not head[low].isspace():
        end = space
    return render(_joined(head[:end], tail))


def _split_tail(text: str) -> tuple[str, str]:
    """(start, end): the end is the text's last paragraphs, at most two and ``TAIL_MAX``
    characters, when something is left before them."""
    paragraphs = _PARAGRAPH_BREAK.split(text.strip())
    kept: list[str] = []
    while len(paragraphs) > 1 and len(kept) < 2 and sum(map(len, kept)) + len(paragraphs[-1]) <= TAIL_MAX:
        kept.insert(0, paragraphs.pop())
    return "\n\n".join(paragraphs), "\n\n".join(kept)


def _joined(start: str, tail: str) -> str:
    start = start.rstrip()
    marked = f"{start} {MARKER}" if start else MARKER
    return f"{marked}\n\n{tail}" if tail else marked


def was_cut(text: str | None) -> bool:
    return text is not None and MARKER in text


def same_text(stored: str, planned: str) -> bool:
    """Whether a value read back from the CRM is ``planned``: equal, or ``planned`` cut by ``cut``
    (the start the CRM holds, the marker, the end it kept). Both in the same form (plain text,
    trimmed)."""
    if stored == planned:
        return True
    at = stored.rfind(MARKER)
    if at < 0:
        return False
    start, end = stored[:at].rstrip(), stored[at + len(MARKER):].strip()
    return len(planned) > len(start) + len(end) and planned.startswith(start) and planned.rstrip().endswith(end)
