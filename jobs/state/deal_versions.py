"""The version in which the sync last handled each recently modified deal, for reads with a look-back.

HubSpot's search index can show an earlier edit after a later one (facts §3: "new writes appear
with delay"; no order is promised), so a cursor alone can pass a deal search did not show yet. The
sync therefore reads a window before its cursor again (jobs/sync/lookback.py) and must tell the
deals it meets there unchanged from the ones it never saw: this table keeps, per deal, the modified
stamp it was handled in. Rows are written in the transaction that moves the cursor past them
(``commit_page``), only for deals modified within the look-back of that cursor, and forgotten once
the cursor has moved more than the look-back past them: the table holds about one window of deals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from connector.model import require_aware
from jobs.state.base import StoreBase
from jobs.state.engine import require_scope
from jobs.state.tables import deal_versions


class DealVersionsMixin(StoreBase):
    def deal_versions(self, scope: str, since: dt.datetime) -> dict[str, dt.datetime]:
        """Deal id -> the modified stamp the sync handled it in, for versions modified at or after ``since``."""
        require_aware("since", since)
        query = select(deal_versions.c.deal_id, deal_versions.c.modified).where(
            deal_versions.c.scope == scope, deal_versions.c.modified >= since)
        with self._engine.connect() as conn:
            return {row.deal_id: row.modified for row in conn.execute(query)}

    def forget_deal_versions(self, scope: str, before: dt.datetime) -> int:
        """Drop the versions modified before ``before`` (no look-back reaches them any more)."""
        require_aware("before", before)
        with self._write(scope) as conn:
            return conn.execute(delete(deal_versions).where(deal_versions.c.scope == scope,
                                                            deal_versions.c.modified < before)).rowcount

    def _remember_deal_versions(self, conn: Connection, scope: str, handled: Mapping[str, dt.datetime]) -> None:
        for deal_id, modified in handled.items():
            require_aware(f"handled[{deal_id!r}]", modified)
        rows = [dict(scope=require_scope(scope), deal_id=d, modified=m) for d, m in sorted(handled.items())]
        self._upsert(conn, deal_versions, rows, ("scope", "deal_id"))
