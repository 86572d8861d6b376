"""What one ``fetch`` gathers, shared by every source: responses kept once by id, rejections."""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.model import NpsResponse
from connector.nps import RejectedRow, SourceBatch, SourceCursor


@dataclass(slots=True)
class Collector:
    responses: list[NpsResponse] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    duplicates: int = 0
    _seen: dict[str, tuple[tuple[object, ...], str]] = field(default_factory=dict)

    def keep(self, response: NpsResponse, where: str) -> str | None:
        """Add ``response`` unless its id was read before. Returns a rejection reason when the
        earlier one had different values (the first one read is kept), else None."""
        fingerprint = (response.email, response.score, response.responded_at, response.comment,
                       response.account_id)
        earlier = self._seen.get(response.response_id)
        if earlier is None:
            self._seen[response.response_id] = (fingerprint, where)
            self.responses.append(response)
            return None
        if earlier[0] == fingerprint:
            self.duplicates += 1  # the same row exported twice, or a page that shifted: harmless
            return None
        return (f"response {response.response_id!r} was already read at {earlier[1]} with different "
                "values; the first one is kept")

    def reject(self, source: str, line: int | None, reason: str, raw: str) -> None:
        self.rejected.append(RejectedRow(source=source, line=line, reason=reason, raw=raw))

    def batch(self, cursor: SourceCursor | None) -> SourceBatch:
        return SourceBatch(responses=tuple(self.responses), rejected=tuple(self.rejected), cursor=cursor,
                           duplicates=self.duplicates)
