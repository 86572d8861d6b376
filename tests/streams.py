"""Reading deals in tests the way the sync job does: through the one deal stream."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from connector.model import Cursor, DealPage
from connector.port import CrmAdapter
from jobs.sync import DealStream


def read_deals(adapter: CrmAdapter, since: Cursor | None = None, *,
               handled: Mapping[str, dt.datetime] | None = None) -> list[DealPage]:
    """Every page of deals changed after ``since`` (one pass: nothing is written meanwhile);
    with a look-back, also those before it not ``handled`` in their version (jobs/sync/lookback.py)."""
    stream = DealStream(adapter)
    try:
        return list(stream.changed_since(since, handled=handled))
    finally:
        stream.close()


def read_deals_by_id(adapter: CrmAdapter, deal_ids: Sequence[str]) -> list[DealPage]:
    stream = DealStream(adapter)
    try:
        return list(stream.by_ids(deal_ids))
    finally:
        stream.close()


def handled_by(pages: Sequence[DealPage]) -> dict[str, dt.datetime]:
    """The versions the sync would have recorded with these pages' cursors (for ``read_deals``)."""
    return {deal_id: when for page in pages for deal_id, when in page.handled.items()}
