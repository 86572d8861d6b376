"""The ``hubspot-native`` source: NPS answers HubSpot's own surveys (Service Hub) left on contacts.

HubSpot keeps the latest NPS answer of each contact in contact properties (docs/nps.md §5):
``hs_feedback_last_nps_rating_number`` (the score; the deprecated enumeration
``hs_feedback_last_nps_rating`` is read when the number is empty), ``hs_feedback_last_survey_date``
and ``hs_feedback_last_nps_follow_up`` (the comment). The HubSpot adapter searches them
(nps.py, where the property names are declared); this module turns each contact into an
``NpsResponse``.

- identity: ``hubspot:<contact id>:<survey date in epoch ms>``. A contact answering again gets a
  new id (a new response); re-reading the same answer gives the same id, so the job skips it.
- cursor: the latest survey date read; the next fetch asks for answers at or after it (inclusive,
  so an answer recorded in the same millisecond is not lost; its repeat is skipped by id).
- only the latest answer per contact is visible (HubSpot overwrites the properties), so an
  answer replaced between two runs is never seen: run the NPS job at least as often as surveys
  go out, or use the ``feedback_submissions`` object when the full history matters.
- a portal without these properties (no NPS survey ever ran) is a ``SourceError``: the source
  cannot be used at all, and the job keeps its cursor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from connector.hubspot.nps import NPS_COMMENT, NPS_DATE, NPS_SCORE, NPS_SCORE_DEPRECATED
from connector.model import NpsResponse
from connector.nps import SourceBatch, SourceCursor
from connector.nps.collect import Collector
from connector.nps.values import BadValue, parse_email, parse_responded_at, parse_score, parse_text

SOURCE = "hubspot-native"
SCORE, SCORE_DEPRECATED, DATE, COMMENT = NPS_SCORE, NPS_SCORE_DEPRECATED, NPS_DATE, NPS_COMMENT
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_UTC = ZoneInfo("UTC")


class NativeNpsReader(Protocol):
    """What the source needs from the HubSpot adapter."""

    def nps_native_contacts(self, since: dt.datetime | None) -> Iterator[tuple[str, dict[str, Any]]]:
        ...


class HubSpotNativeSource:
    name = SOURCE

    def __init__(self, reader: NativeNpsReader):
        self._reader = reader

    def fetch(self, since: SourceCursor | None = None) -> SourceBatch:
        collector = Collector()
        latest = since.since if since else None
        # The reader raises SourceError when the portal lacks the NPS properties.
        for contact_id, properties in self._reader.nps_native_contacts(latest):
            response = self._response(contact_id, properties, collector)
            if response is not None:
                collector.keep(response, f"contact {contact_id}")
                latest = max(latest, response.responded_at) if latest else response.responded_at
        return collector.batch(SourceCursor(since=latest) if latest else since)

    def _response(self, contact_id: str, p: dict[str, Any], collector: Collector) -> NpsResponse | None:
        where = f"{SOURCE}: contact {contact_id}"
        try:
            raw_score = p.get(SCORE) if p.get(SCORE) not in (None, "") else p.get(SCORE_DEPRECATED)
            score = parse_score(raw_score)
            responded_at = _survey_date(p.get(DATE))
            email = parse_email(p.get("email"))
        except BadValue as bad:
            collector.reject(where, None, str(bad), repr({k: p.get(k) for k in (SCORE, SCORE_DEPRECATED, DATE)}))
            return None
        stamp = (responded_at - _EPOCH) // dt.timedelta(milliseconds=1)
        return NpsResponse(response_id=f"hubspot:{contact_id}:{stamp}", email=email, score=score,
                           responded_at=responded_at, comment=parse_text(p.get(COMMENT)), source=SOURCE)


def _survey_date(raw: object) -> dt.datetime:
    """HubSpot datetimes come as ISO 8601 with ``Z`` or as epoch milliseconds (facts §3)."""
    text = str(raw).strip() if raw is not None else ""
    if text.isdigit():
        return _EPOCH + dt.timedelta(milliseconds=int(text))
    return parse_responded_at(raw, zone=_UTC)
