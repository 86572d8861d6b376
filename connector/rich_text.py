"""A task body's structure, and its two renderings: HTML for a CRM whose task body is rich text
(HubSpot's task body is an HTML property: plain text with line breaks shows as one paragraph
there), plain text for one whose body is plain (Salesforce's task description).

The pure core decides a body once, as *structured text* (``jobs/core/task_text.py``): blocks
separated by a blank line; a block's lines starting with ``- `` (or ``* ``, ``• ``) are the
items of a list, lines starting with ``1. `` (any number, or ``1)``) the items of a numbered
list, its other lines are one paragraph whose line breaks are kept. Each adapter
renders that text (``to_html`` / the text itself) and reads its CRM's value back to the same
form (``from_html``), so a task read back is compared with the plan like with like.

Every piece of text is escaped on its way into HTML (``html.escape`` with quotes): a deal value
holding ``<script>``, ``<img onerror=...>``, ``&`` or quotes is shown as those characters, never
taken for markup. The only tags written are ``p``, ``br``, ``ul``, ``ol`` and ``li``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

ALLOWED_TAGS = frozenset({"p", "br", "ul", "ol", "li"})
"""Every tag ``to_html`` writes."""

_ITEM = re.compile(r"^\s*[-*\u2022]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+(.*)$")


@dataclass(frozen=True, slots=True)
class Paragraph:
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Numbered:
    items: tuple[str, ...]


Block = Paragraph | Bullets | Numbered


def blocks(text: str) -> tuple[Block, ...]:
    """The structure of a body written as structured text (see the module's docstring)."""
    out: list[Block] = []
    lines: list[str] = []
    items: list[str] = []
    kind: type[Bullets] | type[Numbered] = Bullets

    def flush() -> None:
        if lines:
            out.append(Paragraph(tuple(lines)))
            lines.clear()
        if items:
            out.append(kind(tuple(items)))
            items.clear()

    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            flush()
            continue
        bullet, number = _ITEM.match(raw), _NUMBERED.match(raw)
        item = bullet or number
        if item and item.group(1).strip():
            wanted = Bullets if bullet else Numbered
            if lines or (items and kind is not wanted):
                flush()
            kind = wanted
            items.append(item.group(1).strip())
        else:
            if items:
                flush()
            lines.append(line)
    flush()
    return tuple(out)


def to_plain(parts: tuple[Block, ...]) -> str:
    """The canonical structured text of ``parts``: what two bodies are compared as."""
    return "\n\n".join(_plain_block(b) for b in parts)


def _plain_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return "\n".join(block.lines)
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    return "\n".join(f"{n}. {item}" for n, item in enumerate(block.items, 1))


def plain(text: str) -> str:
    """``text`` in its canonical structured form (line endings, blanks and list markers made one)."""
    return to_plain(blocks(text))


def to_html(text: str) -> str:
    """Structured text as HTML: ``<p>`` per paragraph (``<br>`` between its lines), ``<ul><li>``
    per list; every piece of text escaped."""
    out = []
    for block in blocks(text):
        if isinstance(block, Paragraph):
            out.append("<p>" + "<br>".join(_escape(line) for line in block.lines) + "</p>")
        else:
            tag = "ul" if isinstance(block, Bullets) else "ol"
            out.append(f"<{tag}>" + "".join(f"<li>{_escape(item)}</li>" for item in block.items) + f"</{tag}>")
    return "".join(out)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def from_html(value: str) -> str:
    """A rich-text value read back, as canonical structured text (``plain``): paragraphs, line
    breaks and list items kept, other tags dropped, entities decoded. A value without any tag (a
    body written as plain text before AfterClose sent HTML) is read as structured text itself."""
    if "<" not in value:
        return plain(value)
    reader = _Reader()
    reader.feed(value)
    reader.close()
    return plain(reader.text())


class _Reader(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._lists: list[list[int]] = []
        """Open lists, innermost last: [0] for a bullet list, [n] for a numbered one at item n."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._out.append("\n")
        elif tag == "li":
            current = self._lists[-1] if self._lists else [0]
            if current[0]:
                current[0] += 1
            self._out.append(f"\n{current[0] - 1}. " if current[0] else "\n- ")
        elif tag in self._BLOCKS:
            if tag in ("ul", "ol"):
                self._lists.append([1 if tag == "ol" else 0])
            self._out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol") and self._lists:
            self._lists.pop()
        if tag in self._BLOCKS:
            self._out.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        # Source line breaks inside HTML are layout, not text (a browser shows them as spaces).
        self._out.append(data.replace("\r\n", " ").replace("\n", " "))

    def text(self) -> str:
        return "".join(self._out)
