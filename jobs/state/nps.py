"""NPS responses AfterClose has seen, and recording an NPS run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from connector.actions import ActionResult
from connector.model import Cursor, TaskRef
from connector.nps import RejectedRow
from jobs.core.keys import touch_point_and_cycle
from jobs.state.engine import chunks, require_scope
from jobs.state.ledger import TouchPointOf
from jobs.state.recording import RecordingMixin
from jobs.state.rows import nps_row, stored_nps
from jobs.state.tables import nps_responses, nps_source_rejects
from jobs.state.values import NpsRecord, NpsStatus, SourceReject, StoredNpsResponse

NPS_JOB = "nps"


class NpsMixin(RecordingMixin):
    def nps_statuses(self, scope: str, response_ids: Iterable[str]) -> dict[str, NpsStatus]:
        """The status of each response id seen before (ids never seen are absent)."""
        table = nps_responses
        found: dict[str, NpsStatus] = {}
        with self._engine.connect() as conn:
            for chunk in chunks(sorted(set(response_ids))):
                query = select(table.c.response_id, table.c.status).where(
                    table.c.scope == scope, table.c.response_id.in_(chunk))
                found.update((row.response_id, NpsStatus(row.status)) for row in conn.execute(query))
        return found

    def nps_responses(self, scope: str, statuses: Iterable[NpsStatus] | None = None) -> list[StoredNpsResponse]:
        """Stored responses (all, or those with one of ``statuses``), oldest first seen first."""
        table = nps_responses
        query = select(table).where(table.c.scope == scope)
        if statuses is not None:
            query = query.where(table.c.status.in_([NpsStatus(s).value for s in statuses]))
        query = query.order_by(table.c.first_seen, table.c.response_id)
        with self._engine.connect() as conn:
            return [stored_nps(row) for row in conn.execute(query).mappings()]

    def nps_to_retry(self, scope: str) -> list[StoredNpsResponse]:
        """Responses not yet written back: unmatched (the contact may exist now) or rejected by the CRM."""
        return self.nps_responses(scope, (NpsStatus.UNMATCHED, NpsStatus.REJECTED))

    def nps_history(self, scope: str, account_ids: Iterable[str]) -> list[StoredNpsResponse]:
        """Responses already matched to these accounts (what the ``latest``/``average`` policy weighs)."""
        table = nps_responses
        out: list[StoredNpsResponse] = []
        with self._engine.connect() as conn:
            for chunk in chunks(sorted(set(account_ids))):
                query = (select(table)
                         .where(table.c.scope == scope, table.c.status == NpsStatus.MATCHED.value,
                                table.c.matched_account_id.in_(chunk))
                         .order_by(table.c.responded_at, table.c.response_id))
                out.extend(stored_nps(row) for row in conn.execute(query).mappings())
        return out

    def commit_nps(
        self,
        scope: str,
        run_id: int,
        results: Sequence[ActionResult],
        records: Sequence[NpsRecord],
        cursor: Cursor | None,
        *,
        learned: Sequence[TaskRef] = (),
        touch_point_of: TouchPointOf = touch_point_and_cycle,
        source_rejected: Sequence[RejectedRow] | None = None,
    ) -> None:
        """Record one NPS run in one transaction: a run record per result, the task ledger (tasks
        made, skipped, or ``learned`` from the CRM: a completed referral ask), each response's
        status, and the source cursor ``cursor`` (job ``"nps"``; None keeps the old one).

        ``source_rejected``: the rows the source could not use in this run's fetch; they replace
        the scope's list (``nps_source_rejects``). None when the source was not read (it failed):
        the list from the last fetch stays.

        Unlike ``commit_page`` this leaves the rejected records alone: a refused NPS write is
        kept on its response (status ``rejected``) and re-planned by the NPS job, so the sync
        job neither re-reads its deal nor clears it. A dry run's records only are stored."""
        now = self._clock()
        with self._write(scope) as conn:
            if self._record(conn, scope, run_id, results, fingerprints={}, touch_point_of=touch_point_of,
                            learned=learned, rejections=None):
                return
            rows = [nps_row(require_scope(scope), record, now) for record in records]
            self._upsert(conn, nps_responses, rows, ("scope", "response_id"),
                         increment={"attempts": nps_responses.c.attempts + 1}, keep=("first_seen",))
            if cursor is not None:
                self._set_cursor(conn, scope, NPS_JOB, cursor)
            if source_rejected is not None:
                self._replace_source_rejects(conn, scope, run_id, source_rejected, now)

    def nps_source_rejects(self, scope: str) -> list[SourceReject]:
        """What the latest NPS run that read its source could not use, in the order found."""
        table = nps_source_rejects
        query = select(table).where(table.c.scope == scope).order_by(table.c.position)
        with self._engine.connect() as conn:
            return [SourceReject(source=row.source, line=row.line, reason=row.reason, run_id=row.run_id,
                                 seen_at=row.seen_at) for row in conn.execute(query)]

    def _replace_source_rejects(self, conn: Connection, scope: str, run_id: int, rows: Sequence[RejectedRow],
                                now: dt.datetime) -> None:
        table = nps_source_rejects
        conn.execute(delete(table).where(table.c.scope == scope))
        if rows:
            conn.execute(insert(table), [dict(scope=require_scope(scope), position=index, source=row.source,
                                              line=row.line, reason=row.reason, run_id=run_id, seen_at=now)
                                         for index, row in enumerate(rows)])
