"""Reading a window before the cursor again, without deciding again what did not change.

A cursor is safe only if the CRM's reads show changes in the order of their modified stamps.
HubSpot's search index does not promise that: writes "appear with delay" (facts §3), each after
its own lag, so deal A won at 10:00:00 can become searchable after deal B edited at 10:00:01 was
already read; a run in between moves its cursor past B, and so past A, for good
(tests/jobs/test_sync_lookback.py). So a pull reads from ``cursor - lookback`` (the adapter's
``StreamTuning.lookback``, sized to the index lag), and in that window skips each deal met again
in the version the sync already handled (jobs/state/deal_versions.py): a deal the index showed
late has no such version, or an older one, and is decided.

Why this is enough: a run's cursor is at most the newest modified stamp search showed it, so at
most the CRM's time of that search. A deal modified at ``t`` and not yet searchable at that time
was modified less than its index lag before it, so it lies within ``lookback`` before the cursor
as long as ``lookback`` covers the lag, in every later run until search shows it. Once a run began
long enough after its cursor, the window behind that cursor is settled and the next run from it
skips the window (``LOOKBACK_SETTLED`` in jobs/sync/job.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connector.model import Cursor, DealStamp


@dataclass(frozen=True, kw_only=True)
class LookBack:
    since: Cursor
    """Where the run's cursor stands."""
    span: dt.timedelta
    handled: Mapping[str, dt.datetime]
    """Deal id -> the modified stamp the sync handled it in (at least the window's deals)."""

    @property
    def scan_from(self) -> Cursor:
        """Every deal modified at or after ``since.modified - span``."""
        return Cursor(modified=self.since.modified - self.span)

    def unchanged(self, stamp: DealStamp) -> bool:
        """Met again behind the cursor in a version already handled: nothing to decide."""
        seen = self.handled.get(stamp.id)
        return stamp.modified <= self.since.modified and seen is not None and seen >= stamp.modified

    def cursor_after(self, stamp: DealStamp) -> Cursor:
        """The position after ``stamp``, never behind where the run started."""
        return stamp.cursor if stamp.modified > self.since.modified else self.since


def recent(stamps: Iterable[DealStamp], cursor: Cursor, span: dt.timedelta) -> dict[str, dt.datetime]:
    """The versions a later run's look-back can meet again: modified within ``span`` of ``cursor``."""
    if not span:
        return {}
    oldest = cursor.modified - span
    return {s.id: s.modified for s in stamps if s.modified >= oldest}
