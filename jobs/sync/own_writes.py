"""Telling AfterClose's own write-backs from a user's change, for every CRM.

A write-back bumps the deal's modified stamp, so the stream meets the deal again (HubSpot: later
in the same search walk; Salesforce: in one more query pass right after the writes). Without this,
the run (or the next one) re-reads and re-plans every deal it wrote: measured, 28 query batches
and 40 s at 50,000 Salesforce deals for a run with nothing to do (docs/benchmarks.md).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping

from connector.model import DealStamp, FieldValue

RECENT_READS = 10_000
"""Deals read but not yet written are remembered this long (a few pages); older ones were not
written, and a deal forgotten too early is merely read and decided again."""


class OwnWrites:
    """Deals whose only change since this stream read them is AfterClose's own write-back.

    ``read`` remembers what a deal was read as (recent pages only), ``wrote`` turns that into the
    digest the deal must have after the write-back, and ``is_own`` tells whether a deal met again
    is in exactly that state; a deal a user changed meanwhile differs and is handled. Lives for
    one walk.
    """

    def __init__(self, *, recent_reads: int = RECENT_READS):
        self._recent_reads = recent_reads
        self._lock = threading.Lock()  # write batches report from several threads
        self._read: collections.OrderedDict[str, DealStamp] = collections.OrderedDict()
        self._expected: dict[str, int] = {}
        self.written = 0
        """Write-backs noted so far: a pass that caused none needs no pass after it."""

    def read(self, stamp: DealStamp) -> None:
        with self._lock:
            self._read[stamp.id] = stamp
            self._read.move_to_end(stamp.id)
            while len(self._read) > self._recent_reads:
                self._read.popitem(last=False)

    def wrote(self, deal_id: str, values: Mapping[str, FieldValue]) -> None:
        with self._lock:
            before = self._read.pop(deal_id, None)
            if before is not None:
                self._expected[deal_id] = before.digest(values)
                self.written += 1

    def is_own(self, stamp: DealStamp) -> bool:
        with self._lock:
            expected = self._expected.get(stamp.id)
        return expected is not None and expected == stamp.digest()

    def clear(self) -> None:
        with self._lock:
            self._read.clear()
            self._expected.clear()
