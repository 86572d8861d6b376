"""Recording what the CRM did: one path for every job.

Every write of results is one transaction: a run record per result, the ledger changes, and (for
the sync job) the rejected records, with the cursor moved in the same transaction, so the cursor
never passes a result that was not safely stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.engine import Connection

from connector.actions import ActionResult, CreateDeal, CreateTask
from connector.model import Cursor, TaskRef
from jobs.core.keys import touch_point_and_cycle
from jobs.state.cursors import CursorsMixin
from jobs.state.deal_versions import DealVersionsMixin
from jobs.state.engine import chunks, execute_many
from jobs.state.ledger import LedgerMixin, TouchPointOf
from jobs.state.rows import rejected_row, run_record_row
from jobs.state.runs import RunsMixin
from jobs.state.tables import ledger, rejected_records, run_records


class RecordingMixin(LedgerMixin, RunsMixin, CursorsMixin, DealVersionsMixin):
    def record_results(
        self,
        scope: str,
        run_id: int,
        results: Sequence[ActionResult],
        fingerprints: Mapping[str, str] | None = None,
        *,
        touch_point_of: TouchPointOf = touch_point_and_cycle,
        processed_deal_ids: Iterable[str] = (),
    ) -> None:
        """Store what the CRM did, in one transaction: a run record per result, ledger changes,
        rejected records. See ``commit_page`` for the arguments."""
        with self._write(scope) as conn:
            self._record(conn, scope, run_id, results, fingerprints=fingerprints or {},
                         touch_point_of=touch_point_of, rejections=set(processed_deal_ids))

    def commit_page(
        self,
        scope: str,
        job: str,
        run_id: int,
        results: Sequence[ActionResult],
        fingerprints: Mapping[str, str] | None,
        cursor: Cursor | None,
        *,
        touch_point_of: TouchPointOf = touch_point_and_cycle,
        processed_deal_ids: Iterable[str] = (),
        revisits: Mapping[str, dt.datetime | None] | None = None,
        unsettled_deal_ids: Iterable[str] = (),
        handled: Mapping[str, dt.datetime] | None = None,
    ) -> None:
        """Record one page's results and advance the cursor past it, in one transaction.

        ``fingerprints``: key -> digest of the task content written (kept in the ledger).
        ``touch_point_of``: key -> (touch point, cycle); default: read from AfterClose's own task
        keys (jobs.core.keys), else the known entry's, else the spec's touch point and cycle 0.
        ``processed_deal_ids``: deals handled in this page even if they produced no results; any
        of them (and any deal in ``results``) without a rejection now has its rejections cleared.
        ``unsettled_deal_ids``: deals with a record the CRM refused earlier in this run that this
        page did not try again (a deal decided again at the end of the run leaves those out):
        their kept rejections are not cleared, only the keys this page wrote are.
        ``revisits``: deal id -> when to re-read it; a processed deal missing from it has no
        revisit any more (the planner gave none), so its old one is dropped.
        ``handled``: deal id -> the modified stamp this page handled it in, kept with the cursor
        for the next run's look-back (deal_versions.py); only stored when the cursor moves.
        A dry run records the run records only: no ledger, rejection, revisit or cursor change.
        """
        processed = set(processed_deal_ids)
        with self._write(scope) as conn:
            if self._record(conn, scope, run_id, results, fingerprints=fingerprints or {},
                            touch_point_of=touch_point_of, rejections=processed,
                            unsettled=set(unsettled_deal_ids)):
                return
            if revisits is not None:
                gone = {deal_id: None for deal_id in processed if deal_id not in revisits}
                self._set_revisits(conn, scope, {**gone, **revisits})
            if cursor is not None:
                self._set_cursor(conn, scope, job, cursor)
                if handled:
                    self._remember_deal_versions(conn, scope, handled)

    def _record(
        self, conn: Connection, scope: str, run_id: int, results: Sequence[ActionResult], *,
        fingerprints: Mapping[str, str], touch_point_of: TouchPointOf, learned: Sequence[TaskRef] = (),
        rejections: set[str] | None, unsettled: AbstractSet[str] = frozenset(),
    ) -> bool:
        """The one recording path. Returns True for a dry run (only its run records are kept).

        ``learned``: tasks found in the CRM to enter into the ledger as they are. ``rejections``:
        the deals processed, whose rejected records this result set settles (except the
        ``unsettled`` ones); None leaves the rejected records alone (the NPS job keeps a refusal
        on its response instead).
        """
        dry_run = self._open_run_is_dry(conn, scope, run_id)
        now = self._clock()
        if results:
            execute_many(conn, insert(run_records), [run_record_row(run_id, result, now) for result in results])
        if dry_run:
            return True
        existing = self._entries_by_key(conn, scope, [r.action.key for r in results] + [ref.key for ref in learned])
        changes: dict[str, dict[str, Any]] = {}
        for result in results:
            row = self._ledger_change(scope, result, existing.get(result.action.key), fingerprints, touch_point_of,
                                      now)
            if row is not None:
                changes[row["key"]] = row  # a later result for the same key wins
        for ref in learned:
            row = self._learnt_row(scope, ref, existing.get(ref.key), touch_point_of, {}, now)
            if row is not None:
                changes[row["key"]] = row
        self._upsert(conn, ledger, list(changes.values()), ("scope", "key"))
        self._clear_intents(conn, scope, [*_settled_creates(results), *(ref.key for ref in learned)])
        if rejections is not None:
            self._update_rejections(conn, scope, run_id, results, rejections, unsettled, now)
        return False

    def _update_rejections(
        self, conn: Connection, scope: str, run_id: int, results: Sequence[ActionResult],
        processed: set[str], unsettled: AbstractSet[str], now: dt.datetime,
    ) -> None:
        rejected = [r for r in results if r.rejected]
        if rejected:
            rows = [rejected_row(scope, run_id, r, now) for r in rejected]
            self._upsert(
                conn, rejected_records, rows, ("scope", "key"),
                increment={"attempts": rejected_records.c.attempts + 1},
                keep=("first_seen",),
            )
        still_failing = {r.action.deal_id for r in rejected} | unsettled
        # A deal with no rejection left is cleared whole below; only a deal that still fails
        # needs its succeeded keys cleared one by one.
        succeeded_keys = [r.action.key for r in results if not r.rejected and r.action.deal_id in still_failing]
        for chunk in chunks(sorted(set(succeeded_keys))):
            conn.execute(delete(rejected_records).where(rejected_records.c.scope == scope,
                                                        rejected_records.c.key.in_(chunk)))
        self._clear_rejected(conn, scope, (processed | {r.action.deal_id for r in results}) - still_failing)


def _settled_creates(results: Sequence[ActionResult]) -> list[str]:
    """Create keys whose result says what the CRM holds: a task id (made, found, updated), or a
    refusal of the create itself. A deferred create, or a found task whose update was refused
    (rejected *with* its id), stays in the create journal: the next try looks it up again."""
    return [r.action.key for r in results if isinstance(r.action, CreateTask | CreateDeal)
            and ((r.crm_id and not r.rejected) or (r.rejected and not r.crm_id))]
