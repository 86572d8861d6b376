"""The ``none`` source: NPS is switched off. Returns nothing, reads nothing."""

from __future__ import annotations

from connector.nps import SourceBatch, SourceCursor


class NoneSource:
    name = "none"

    def fetch(self, since: SourceCursor | None = None) -> SourceBatch:
        return SourceBatch(responses=(), rejected=(), cursor=since)
