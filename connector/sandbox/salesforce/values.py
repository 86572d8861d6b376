"""Values in and out: JSON request values -> Python values on write; Python -> JSON on read.

Read side (facts §4): datetimes as ``2013-05-20T20:49:32.000+0000``, dates ``YYYY-MM-DD``, numbers as
JSON numbers, booleans as JSON booleans, no value as ``null``.
Write side: Salesforce stores an empty string as null; a value of the wrong JSON type is a
JSON_PARSER_ERROR ("Cannot deserialize instance of ...").
"""

from __future__ import annotations

import datetime as dt
import functools
import re

from .errors import RecordError
from .ids import normalize_id
from .schema import FieldDef

UTC = dt.UTC
TEXT_TYPES = frozenset({"string", "textarea", "email", "combobox", "picklist", "id", "phone", "url"})
NUMBER_TYPES = frozenset({"double", "currency", "percent"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@functools.lru_cache(maxsize=65536)  # many records share a stamp; formatting dominates big queries
def format_datetime(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def to_json(value: object) -> object:
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def now_ms(clock) -> dt.datetime:
    """Salesforce keeps milliseconds; truncate so what we store is what we return."""
    now = clock()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _deserialize_error(fd: FieldDef, value: object, kind: str) -> RecordError:
    return RecordError("JSON_PARSER_ERROR",
                       f"Cannot deserialize instance of {kind} from value {value!r} for field {fd.name}",
                       [fd.name])


def parse_datetime(text: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _coerce_text(fd: FieldDef, value: object) -> str | None:
    if not isinstance(value, str):
        raise _deserialize_error(fd, value, "string")
    if value == "":
        return None
    if fd.length and len(value) > fd.length:
        raise RecordError("STRING_TOO_LONG",
                          f"{fd.label}: data value too large: {value[:40]}... (max length={fd.length})", [fd.name])
    if fd.type == "email" and not _EMAIL.fullmatch(value):
        raise RecordError("INVALID_EMAIL_ADDRESS", f"{fd.label}: invalid email address: {value}", [fd.name])
    if fd.type == "picklist" and fd.restricted and value not in fd.picklist:
        raise RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                          f"{fd.label}: bad value for restricted picklist field: {value}", [fd.name])
    return value


def _coerce_number(fd: FieldDef, value: object) -> float:
    if isinstance(value, bool):
        raise _deserialize_error(fd, value, "double")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _deserialize_error(fd, value, "double")


def _coerce_date(fd: FieldDef, value: object) -> dt.date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _deserialize_error(fd, value, "date")


def _coerce_datetime(fd: FieldDef, value: object) -> dt.datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise _deserialize_error(fd, value, "datetime")
    return parsed


def _coerce_reference(fd: FieldDef, value: object) -> str:
    normalized = normalize_id(value)
    if normalized is None:
        raise RecordError("MALFORMED_ID", f"{fd.label}: id value of incorrect type: {value}", [fd.name])
    return normalized


def coerce_input(fd: FieldDef, value: object) -> object:
    """The stored form of a value sent for ``fd`` (raises RecordError like the API would)."""
    if value is None:
        return None
    if fd.type in TEXT_TYPES:
        return _coerce_text(fd, value)
    if fd.type in NUMBER_TYPES:
        return _coerce_number(fd, value)
    if fd.type == "boolean":
        if not isinstance(value, bool):
            raise _deserialize_error(fd, value, "boolean")
        return value
    if fd.type == "date":
        return _coerce_date(fd, value)
    if fd.type == "datetime":
        return _coerce_datetime(fd, value)
    if fd.type == "reference":
        return _coerce_reference(fd, value)
    raise _deserialize_error(fd, value, fd.type)
