"""Reading one response's values, the same way for every source. Each function returns the value
or raises ``BadValue`` with a reason an admin understands ("score '10/10' is not ...").

Decisions (the strict reading wherever a value could mean two things; docs/nps.md lists them):

- score: a whole number 0-10. ``9.0`` is accepted as 9 (spreadsheets write integers that way);
  ``9.5``, ``10/10``, ``11``, ``-1``, empty and words are refused, because guessing a score
  would write a wrong category to the CRM.
- email: stripped and lower-cased (``" Ann@Example.COM "`` is ``ann@example.com``); it must
  look like one address (one ``@``, no spaces).
- responded_at: ISO 8601 date or date-time (``2026-03-02``, ``2026-03-02 14:05``,
  ``2026-03-02T14:05:00+01:00``, ``...Z``); without an offset it is in the configured zone.
  ``03/02/2026`` is refused unless ``date_format`` says which number is the day: March 2nd and
  February 3rd are both plausible. JSON numbers are Unix epoch seconds (milliseconds when the
  value is too large for seconds).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

_WHOLE = re.compile(r"[+-]?[0-9]+(?:\.0+)?")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")
_ISO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?(?:Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_SLASHED = re.compile(r"[0-9]{1,2}[/.][0-9]{1,2}[/.][0-9]{2,4}(?:[ T].*)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_EPOCH_MS_FROM = 100_000_000_000  # larger than any epoch *seconds* value before the year 5138
_SHOWN = 60


class BadValue(ValueError):
    """A value that cannot be imported; ``str()`` is the reason."""


def shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…")


def parse_score(raw: object) -> int:
    if raw is None:
        raise BadValue("score is missing")
    if isinstance(raw, bool):
        raise BadValue(f"score {raw} is not a number 0-10")
    if isinstance(raw, int):
        return _in_range(raw)
    if isinstance(raw, float):
        if not raw.is_integer():
            raise BadValue(f"score {raw} is not a whole number 0-10")
        return _in_range(int(raw))
    if not isinstance(raw, str):
        raise BadValue(f"score {shown(raw)} is not a number 0-10")
    return _score_text(raw.strip())


def _score_text(text: str) -> int:
    if not text:
        raise BadValue("score is empty")
    if "/" in text:
        raise BadValue(f"score {shown(text)} is not a plain number 0-10 (export the score alone, e.g. '10' "
                       "rather than '10/10')")
    if _WHOLE.fullmatch(text):
        try:
            return _in_range(int(Decimal(text)))
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            pass
    if _DECIMAL.fullmatch(text):
        raise BadValue(f"score {shown(text)} is not a whole number 0-10")
    raise BadValue(f"score {shown(text)} is not a number 0-10")


def _in_range(score: int) -> int:
    if not 0 <= score <= 10:
        raise BadValue(f"score {score} is outside 0-10")
    return score


def parse_email(raw: object) -> str | None:
    """The normalised address, or None when blank."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise BadValue(f"email {shown(raw)} is not text")
    text = raw.strip().lower()
    if not text:
        return None
    if not _EMAIL.fullmatch(text):
        raise BadValue(f"email {shown(raw.strip())} is not one email address")
    return text


def parse_text(raw: object) -> str | None:
    """Optional text (comment, ids): stripped, None when blank; numbers become their text."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return str(raw)
    if not isinstance(raw, str):
        raise BadValue(f"value {shown(raw)} is not text")
    return raw.strip() or None


def parse_responded_at(raw: object, *, zone: ZoneInfo, date_format: str | None = None) -> dt.datetime:
    if raw is None:
        raise BadValue("responded_at is missing")
    if isinstance(raw, bool):
        raise BadValue(f"responded_at {raw} is not a date")
    if isinstance(raw, int | float):
        return _from_epoch(raw)
    if not isinstance(raw, str):
        raise BadValue(f"responded_at {shown(raw)} is not a date")
    text = raw.strip()
    if not text:
        raise BadValue("responded_at is empty")
    if date_format:
        moment = _with_format(text, date_format)
        if moment is not None:
            return _localise(moment, zone)
    if _ISO.fullmatch(text):
        return _localise(_from_iso(text), zone)
    if _SLASHED.fullmatch(text):
        raise BadValue(f"responded_at {shown(text)} is ambiguous (day/month or month/day?); set "
                       "date_format, e.g. '%d/%m/%Y' or '%m/%d/%Y'")
    expected = f"'{date_format}' or ISO 8601" if date_format else "ISO 8601, e.g. 2026-03-02 or 2026-03-02T14:05Z"
    raise BadValue(f"responded_at {shown(text)} is not a date ({expected})")


def _with_format(text: str, fmt: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, fmt)
    except ValueError:
        return None


def _from_iso(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.replace(",", ".").replace("z", "Z"))
    except ValueError as exc:
        raise BadValue(f"responded_at {shown(text)} is not a valid date ({exc})") from None


def _localise(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A naive value is wall-clock time in the configured zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=zone)
    return moment


def _from_epoch(value: float) -> dt.datetime:
    seconds = value / 1000 if abs(value) >= _EPOCH_MS_FROM else value
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise BadValue(f"responded_at {value} is not a plausible Unix timestamp") from None


def derived_response_id(prefix: str, email: str | None, account_id: str | None, responded_at: dt.datetime) -> str:
    """A stable id for a response its tool did not number: the same person at the same instant
    is the same response, whichever format or zone the time was written in."""
    who = email or f"account:{account_id or ''}"
    moment = responded_at.astimezone(dt.UTC).isoformat()
    digest = hashlib.sha1(f"{who}|{moment}".encode()).hexdigest()
    return f"{prefix}:{digest}"
