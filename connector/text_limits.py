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

from collections.abc import Callable

MARKER = "[… cut by AfterClose: longer than this CRM field allows]"
"""Ends every cut value, so a reader knows there was more (and where to look: the source record)."""

_BOUNDARY = 80
"""How far back from the limit a cut looks for a space or line break, to end on a whole word."""


def _unchanged(text: str) -> str:
    return text


def cut(text: str, limit: int, render: Callable[[str], str] = _unchanged) -> str:
    """``render(text)`` when that fits in ``limit`` characters; else ``render`` of the longest
    start of ``text`` (ended on a word boundary where one is near) followed by ``MARKER`` that
    fits. ``render`` must not shorten text as it grows (escaping, HTML); the identity by default."""
    rendered = render(text)
    if len(rendered) <= limit:
        return rendered

    def fits(n: int) -> bool:
        return len(render(_with_marker(text[:n]))) <= limit

    low, high = 0, len(text)  # fits(low) is assumed (an empty start and the marker); find the largest n
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    end = low
    space = max(text.rfind(" ", max(0, low - _BOUNDARY), low + 1), text.rfind("\n", max(0, low - _BOUNDARY), low + 1))
    if space > 0 and low < len(text) and not text[low].isspace():
        end = space
    return render(_with_marker(text[:end]))


def _with_marker(start: str) -> str:
    start = start.rstrip()
    return f"{start} {MARKER}" if start else MARKER


def was_cut(text: str | None) -> bool:
    return text is not None and text.rstrip().endswith(MARKER)


def same_text(stored: str, planned: str) -> bool:
    """Whether a value read back from the CRM is ``planned``: equal, or ``planned`` cut by ``cut``
    (the start the CRM holds, then the marker). Both in the same form (plain text, trimmed)."""
    if stored == planned:
        return True
    if not was_cut(stored):
        return False
    start = stored.rstrip()[: -len(MARKER)].rstrip()
    return len(planned) > len(start) and planned.startswith(start)
