"""Server-side query cursors: the result of a query is fixed when the query runs, and later pages
come from that snapshot (``nextRecordsUrl`` = ``/services/data/vXX.X/query/<locator>-<offset>``, facts §4).

Since API v56.0 there is no limit on open cursors and results stay available for two days
(before: 10 per user, oldest released)
[DOC: https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-apicursors.html].
The sandbox keeps up to MAX_OPEN_PER_USER per user only to bound its memory, releasing the
oldest; a released, fully read or unknown locator is 400 INVALID_QUERY_LOCATOR
[DOC: https://help.salesforce.com/s/articleView?id=000384958 "INVALID_QUERY_LOCATOR"].
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

from .errors import ApiError
from .ids import KEY_PREFIXES, IdFactory

MAX_OPEN_PER_USER = 200


@dataclass
class Cursor:
    locator: str
    user: str
    records: list[dict]
    page_size: int


def invalid_locator() -> ApiError:
    return ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")


class Cursors:
    def __init__(self, ids: IdFactory):
        self._ids = ids
        self._open: collections.OrderedDict[str, Cursor] = collections.OrderedDict()
        self._lock = threading.Lock()

    def open(self, user: str, records: list[dict], page_size: int) -> str:
        with self._lock:
            locator = self._ids.next(KEY_PREFIXES["QueryLocator"])
            self._open[locator] = Cursor(locator, user, records, page_size)
            mine = [c for c in self._open.values() if c.user == user]
            for stale in mine[:-MAX_OPEN_PER_USER]:
                del self._open[stale.locator]
            return locator

    def page(self, user: str, token: str) -> tuple[Cursor, list[dict], int | None]:
        """(cursor, records of the page, next offset or None when this was the last page)."""
        locator, sep, offset_text = token.rpartition("-")
        with self._lock:
            cursor = self._open.get(locator)
            if not sep or cursor is None or cursor.user != user or not offset_text.isdigit():
                raise invalid_locator()
            offset = int(offset_text)
            if offset >= len(cursor.records):
                raise invalid_locator()
            end = offset + cursor.page_size
            if end >= len(cursor.records):
                del self._open[locator]  # fully read: Salesforce releases the cursor
                return cursor, cursor.records[offset:], None
            return cursor, cursor.records[offset:end], end

    def close_all(self, user: str | None = None) -> None:
        with self._lock:
            for locator in [k for k, c in self._open.items() if user is None or c.user == user]:
                del self._open[locator]
