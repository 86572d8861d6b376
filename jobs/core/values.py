"""Raw CRM strings -> typed values, by the ``FieldType`` the mapping declares. Pure; stdlib only.

Adapters hand every mapped field over as text (``connector.model.FieldValue``): HubSpot's v3 API
sends all property values as strings, and the Salesforce adapter turns JSON numbers, booleans and
dates into their text form (crm-api-facts.md §2 "Deserialization constraints", §4 "Query"). This
module reads that text back. It never raises for a bad value: it returns ``ValueProblem`` with a
reason a rep understands, so one odd record becomes a finding instead of a stopped run.

What each type accepts (anything else is a ``ValueProblem``; blank is always ``None``):

- text: any string, surrounding whitespace stripped.
- number: plain decimals with an optional sign, fraction and exponent: ``5``, ``-3.25``, ``5.0``,
  ``1e3`` (``str(float)`` writes large values that way). Refused: ``1,5`` and ``1,000`` (a comma
  is a decimal point in half the world and a thousands separator in the other half, so either
  reading could be wrong), ``NaN``, ``Infinity``, currency signs, and exponents beyond ±100.
- date: ``YYYY-MM-DD``; an ISO datetime (``2026-01-01T00:00:00Z``, Salesforce's
  ``2013-05-20T20:49:32.000+0000``) gives its day in UTC, because HubSpot date properties are
  midnight UTC; a string of 9-15 digits is epoch milliseconds, HubSpot's timestamp form
  (https://developers.hubspot.com/docs/faq/how-should-timestamps-be-formatted-for-hubspots-apis).
- datetime: the same forms; a bare date is midnight UTC, and a datetime without an offset is
  taken as UTC (both CRMs' APIs speak UTC). The result is always timezone-aware.
- bool: ``true`` / ``false`` in any case (the HubSpot SDK turns JSON ``true`` into ``"True"``).
- enum: the stripped text, which must be one of the declared options when there are any
  (exact case: CRM picklists store values exactly).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from connector.mapping import FieldType
from connector.model import FieldValue
from connector.text_limits import same_text

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

Value = str | Decimal | bool | dt.date | dt.datetime

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
_MAX_EXPONENT = 100
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# fromisoformat (3.11) also takes week dates and compact forms; admit only what CRMs send.
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_EPOCH_MS = re.compile(r"[0-9]{9,15}")
_SHOWN_CHARS = 40


@dataclass(frozen=True, slots=True)
class ValueProblem:
    """A raw value that cannot be read as its declared type; ``reason`` completes "<label> ..."."""

    reason: str


def shown(raw: str) -> str:
    """A raw value quoted for a message: shortened, with control characters made visible."""
    text = raw if len(raw) <= _SHOWN_CHARS else raw[: _SHOWN_CHARS - 1] + "…"
    return repr(text)


def clean_text(raw: FieldValue) -> str | None:
    """The stripped text, or None when the value is missing or only whitespace."""
    if raw is None:
        return None
    text = raw.strip()
    return text or None


def parse(
    type_: FieldType, raw: FieldValue, options: Sequence[str] = ()
) -> Value | ValueProblem | None:
    """Read one raw CRM value as ``type_``; None when blank, ``ValueProblem`` when unreadable."""
    text = clean_text(raw)
    if text is None:
        return None
    return _PARSERS[type_](text, options)


def parse_number(text: str, _options: Sequence[str] = ()) -> Decimal | ValueProblem:
    if not _NUMBER.fullmatch(text):
        hint = " (use a point, not a comma)" if "," in text else ""
        return ValueProblem(f"is not a number{hint}: {shown(text)}")
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return ValueProblem(f"is not a number: {shown(text)}")
    if abs(number.adjusted()) > _MAX_EXPONENT and number != 0:
        return ValueProblem(f"is not a plausible number: {shown(text)}")
    return number


def parse_datetime(text: str, _options: Sequence[str] = ()) -> dt.datetime | ValueProblem:
    if _EPOCH_MS.fullmatch(text):
        return _from_epoch_ms(text)
    if _DATE.fullmatch(text):
        day = _date_or_none(text)
        if day is None:
            return ValueProblem(f"is not a valid date: {shown(text)}")
        return dt.datetime.combine(day, dt.time(), tzinfo=UTC)
    if _DATETIME.fullmatch(text):
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return ValueProblem(f"is not a valid date and time: {shown(text)}")
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return ValueProblem(f"is not a date (expected YYYY-MM-DD): {shown(text)}")


def parse_date(text: str, _options: Sequence[str] = ()) -> dt.date | ValueProblem:
    if _DATE.fullmatch(text):
        day = _date_or_none(text)
        return day if day is not None else ValueProblem(f"is not a valid date: {shown(text)}")
    moment = parse_datetime(text)
    if isinstance(moment, ValueProblem):
        return moment
    return _utc_day(moment)


def parse_bool(text: str, _options: Sequence[str] = ()) -> bool | ValueProblem:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return ValueProblem(f"is not true or false: {shown(text)}")


def parse_enum(text: str, options: Sequence[str] = ()) -> str | ValueProblem:
    if options and text not in options:
        return ValueProblem(f"is {shown(text)}, not one of: {', '.join(options)}")
    return text


def parse_text(text: str, _options: Sequence[str] = ()) -> str:
    return text


def normalize_for_compare(type_: FieldType, raw: FieldValue) -> str | None:
    """One spelling per value, so "5" equals "5.0" and "2026-01-01" equals its midnight UTC.

    The planner compares what it would write with what the CRM holds and skips equal writes.
    An unreadable value compares as its stripped text: it differs from any readable one.
    """
    value = parse(type_, raw)
    if value is None:
        return None
    if isinstance(value, ValueProblem):
        return clean_text(raw)
    return _canonical_text(value)


def differs(type_: FieldType, current: FieldValue, wanted: FieldValue) -> bool:
    """Whether a write-back would change what the CRM holds (``normalize_for_compare``). A text
    the adapter cut to the field's length (``connector.text_limits``) holds the value it was cut
    from: writing it again would be cut the same way, on every run."""
    held, meant = normalize_for_compare(type_, current), normalize_for_compare(type_, wanted)
    if held == meant:
        return False
    return not (type_ is FieldType.TEXT and held is not None and meant is not None and same_text(held, meant))


def _canonical_text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _plain_decimal(value)
    if isinstance(value, dt.datetime):
        return _utc_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _plain_decimal(number: Decimal) -> str:
    if number == 0:
        return "0"  # also folds "-0" and "0.00"
    return format(number.normalize(), "f")


def _utc_text(moment: dt.datetime) -> str:
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # at the edge of datetime's range: keep the offset it was written with
        return moment.isoformat()
    return moment.isoformat().replace("+00:00", "Z")


def _date_or_none(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _from_epoch_ms(text: str) -> dt.datetime | ValueProblem:
    try:
        return _EPOCH + dt.timedelta(milliseconds=int(text))
    except OverflowError:
        return ValueProblem(f"is not a plausible timestamp: {shown(text)}")


def _utc_day(moment: dt.datetime) -> dt.date:
    try:
        return moment.astimezone(UTC).date()
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC day inside datetime's range
        return moment.date()


_PARSERS = {
    FieldType.TEXT: parse_text,
    FieldType.NUMBER: parse_number,
    FieldType.DATE: parse_date,
    FieldType.DATETIME: parse_datetime,
    FieldType.BOOL: parse_bool,
    FieldType.ENUM: parse_enum,
}
