"""Masking secrets in text, in every form a message can carry them.

A secret rarely reaches an error message as it was configured. A library prints a header it
refused with ``repr`` (``Invalid header value b'Bearer pat-...\\n'``), a CRM or proxy echoes the
request body back URL-encoded (an OAuth form) or XML-escaped (a SOAP login), a JSON error body
escapes quotes and non-ASCII, and an HTML error page escapes all of that once more. Searching
only for the value as written misses each of these, so every secret is searched for in each
encoding and in each encoding of an encoding (two layers: an HTML page quoting a JSON body, a
repr of a form body).

One mechanism for the whole program: ``connector.retry.without_secrets`` cleans CRM error facts
with it, ``jobs.logs.redact`` every log event and command output.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")


def _str_repr(text: str) -> str:
    return repr(text)[1:-1]


def _bytes_repr(text: str) -> str:
    return repr(text.encode("utf-8"))[2:-1]


def _json(text: str) -> str:
    return json.dumps(text)[1:-1]


def _json_unicode(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _url(text: str) -> str:
    return quote(text, safe="")


def _url_lower(text: str) -> str:
    return _PERCENT_HEX.sub(lambda m: m.group(0).lower(), quote(text, safe=""))


def _url_path(text: str) -> str:
    return quote(text)


def _url_plus(text: str) -> str:
    return quote_plus(text)


def _xml(text: str) -> str:
    return html.escape(text)


def _xml_text(text: str) -> str:
    return html.escape(text, quote=False)


def _xml_apos(text: str) -> str:
    return html.escape(text).replace("&#x27;", "&apos;")


ENCODINGS: tuple[Callable[[str], str], ...] = (
    _str_repr, _bytes_repr, _json, _json_unicode, _url, _url_lower, _url_path, _url_plus, _xml, _xml_text, _xml_apos,
)
"""How a message may have escaped a value; each is applied once and twice (``forms``)."""


@functools.lru_cache(maxsize=256)
def forms(secret: str) -> frozenset[str]:
    """The secret as written, and every one- and two-layer encoding of it."""
    first = {encode(secret) for encode in ENCODINGS} | {secret}
    return frozenset(first | {encode(form) for form in first for encode in ENCODINGS})


def searched_forms(secrets: Iterable[str | None]) -> tuple[str, ...]:
    """Every form of every secret, longest first (a longer form may contain a shorter one)."""
    found = {form for secret in secrets if secret for form in forms(secret)}
    return tuple(sorted(found, key=len, reverse=True))


def mask(text: str, searched: Iterable[str]) -> str:
    """``text`` with each of ``searched`` (from ``searched_forms``) replaced by ``MASK``."""
    for form in searched:
        if form in text:
            text = text.replace(form, MASK)
    return text
