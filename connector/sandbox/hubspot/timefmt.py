"""Times as HubSpot writes and reads them.

HubSpot returns datetimes as ISO-8601 UTC with milliseconds and a ``Z`` (``2024-05-01T10:00:00.123Z``),
date properties as ``YYYY-MM-DD``, and accepts datetime values as epoch milliseconds or ISO strings
(facts §3, "Datetime filter values: epoch ms strings (ISO accepted)"; tasks guide: ``hs_timestamp``
"ISO UTC or epoch ms").
"""

from __future__ import annotations

import datetime as dt
import time

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_from_ms(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment.isoformat()[:19]}.{ms % 1000:03d}Z"


def ms_from_datetime(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()} has no time zone")
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def ms_from_date(day: dt.date) -> int:
    """Date properties are stored as midnight UTC (HubSpot properties guide, date type)."""
    return ms_from_datetime(dt.datetime.combine(day, dt.time(0, 0), UTC))


def parse_datetime_ms(raw: object) -> int:
    """Epoch milliseconds (int or digit string) or an ISO-8601 string with a zone -> epoch ms.

    Raises ValueError naming the value when it is neither.
    """
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a datetime")
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither epoch milliseconds nor an ISO-8601 datetime") from None
    if moment.tzinfo is None:
        # A zone-less datetime is ambiguous by hours; HubSpot reads it as UTC, the sandbox too.
        moment = moment.replace(tzinfo=UTC)
    return ms_from_datetime(moment)


def parse_date(raw: object) -> dt.date:
    """``YYYY-MM-DD`` or epoch ms at midnight UTC -> date. Anything else raises ValueError."""
    text = str(raw).strip()
    if text.isdigit():
        ms = int(text)
        if ms % 86_400_000:
            raise ValueError(f"{text} is not midnight UTC; date properties take whole days")
        return (_EPOCH + dt.timedelta(milliseconds=ms)).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD or epoch ms at midnight UTC)") from None
