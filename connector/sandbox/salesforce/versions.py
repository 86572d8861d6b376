"""The API versions an org serves, their release labels, and the ``latest`` alias.

- Versions 31.0 up to the current release are supported; 21.0-30.0 were retired in Summer '25
  (and 7.0-20.0 in Summer '22), so a request for them fails
  [DOC: https://developer.salesforce.com/docs/platform/ajax/guide/sforce-api-ajax-eol.html].
- ``GET /services/data/`` lists ``{label, url, version}`` for each, oldest first, without
  authentication; ``/services/data/latest`` resolves to the newest
  [DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/dome-versions.md].
- The release in force in December 2026 is Winter '27, API version 68.0 (the SOAP guide's version
  list and the end-of-life table name 31.0 through 68.0 as supported).
- Labels follow the release train: v31.0 is Summer '14, then Winter, Spring, Summer each year
  (v62.0 Winter '25, v66.0 Spring '26).
"""

from __future__ import annotations

from .errors import not_found

OLDEST = 31
CURRENT = "68.0"
_SEASONS = ("Summer", "Winter", "Spring")


def label(version: str) -> str:
    """``"62.0"`` -> ``"Winter '25"``."""
    index = int(float(version)) - OLDEST
    year = 14 + (index + 2) // 3
    return f"{_SEASONS[index % 3]} '{year:02d}"


def served(newest: str) -> list[str]:
    """Every version from 31.0 up to ``newest``, oldest first."""
    return [f"{major}.0" for major in range(OLDEST, int(float(newest)) + 1)]


def listing(newest: str) -> list[dict]:
    return [{"label": label(v), "url": f"/services/data/v{v}", "version": v} for v in served(newest)]


def resolve(segment: str, newest: str) -> str:
    """The version a ``/services/data/{segment}`` path asks for (``v59.0`` -> ``59.0``), or 404
    NOT_FOUND: ``latest`` is the org's newest; anything outside 31.0..newest does not exist."""
    if segment == "latest":
        return newest
    if not segment.startswith("v"):
        raise not_found()
    major, dot, minor = segment[1:].partition(".")
    if not (dot and major.isdigit() and minor == "0" and OLDEST <= int(major) <= int(float(newest))):
        raise not_found()
    return segment[1:]


def at_least(version: str, major: int) -> bool:
    return float(version) >= major
