"""Writing pages while the sync decides the next one, and recording pages in order.

The order per page is: its writes, then ONE store transaction with its results and the cursor
past it. What overlaps is one page's writes with the next page's decisions and writes, and a
page's store transaction with the next pages' writes. A crash in between leaves those pages
unrecorded and the next run replays them; the CRM-side keys make that harmless, as for one page.
When a page's writes fail, some of its creates are deferred (Outcome.DEFERRED: reads not
settled yet), or its store transaction fails (a full disk, a lost lock), no later page moves the
cursor: pages whose writes were already under way are recorded without it.
When ``drain`` or ``close`` returns, every write this object started has landed, so no write
outlives the run or its lock; except for a run stopping on SIGTERM, which waits for writes under
way only until ``record_by()``: the pages still under way then are left unrecorded
(``abandoned``), the cursor stays before them, and the process exits right after
(jobs/cli/stopping.py), dropping those writes as ``kill -9`` would.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from connector.actions import ActionResult, Outcome, WriteAction
from connector.model import DealPage
from jobs import logs
from jobs.core import planner
from jobs.outcomes import tally
from jobs.state import StateStore
from jobs.sync.stream import PAGES_IN_FLIGHT

log = logs.get_logger("afterclose.sync")


@dataclass(frozen=True)
class _Pending:
    page: DealPage
    result: planner.PlanResult
    advance: bool
    writes: Future[list[ActionResult]]
    deal_ids: frozenset[str]


class PageWriter:
    def __init__(self, *, scope: str, job: str, run_id: int, store: StateStore,
                 submit: Callable[[Sequence[WriteAction]], Future[list[ActionResult]]],
                 outcomes: collections.Counter[str], rejected: list[ActionResult],
                 record_by: Callable[[], float | None] = lambda: None):
        self._scope, self._job, self._run_id, self._store = scope, job, run_id, store
        self._submit = submit
        self._outcomes, self._rejected = outcomes, rejected
        self._record_by = record_by
        self._pending: collections.deque[_Pending] = collections.deque()
        self._failed = False
        self.abandoned = False
        """Pages were left unrecorded because the run's stop grace ran out (their writes may land later)."""

    def writing_any(self, page: DealPage) -> bool:
        ids = {d.id for d in page.deals}
        return any(not pending.deal_ids.isdisjoint(ids) for pending in self._pending)

    def submit(self, page: DealPage, result: planner.PlanResult, *, advance: bool) -> None:
        landed = self._take_oldest() if len(self._pending) >= PAGES_IN_FLIGHT else None
        if self.abandoned:
            return  # the stop grace ran out while waiting: no new writes
        writes = result.plan.writes()
        future = self._submit(writes) if writes else _done([])
        self._pending.append(_Pending(page=page, result=result, advance=advance, writes=future,
                                      deal_ids=frozenset(d.id for d in page.deals)))
        if landed is not None:
            self._record(*landed)

    def drain(self) -> None:
        while self._pending:
            landed = self._take_oldest()
            if landed is not None:
                self._record(*landed)

    def close(self) -> None:
        """Whatever happened: let the writes under way land and record what can be recorded."""
        while self._pending:
            try:
                landed = self._take_oldest()
                if landed is not None:
                    self._record(*landed)
            except BaseException as exc:  # noqa: BLE001 - the run's own error is the one that propagates
                log.error("page_not_recorded", error=logs.redact(str(exc)),
                          detail="the next run repeats this page's writes; their keys make that harmless")

    def _take_oldest(self) -> tuple[_Pending, list[ActionResult]] | None:
        """The oldest page and its results, once its writes have landed (their error if they failed);
        None when the stop grace ran out first (every page still under way is then abandoned)."""
        pending = self._pending[0]
        if not self._landed_in_time(pending.writes):
            self._abandon()
            return None
        self._pending.popleft()
        try:
            return pending, pending.writes.result()
        except BaseException:
            self._failed = True  # the pages after it must not move the cursor past it
            raise

    def _landed_in_time(self, writes: Future[list[ActionResult]]) -> bool:
        while not writes.done():
            until = self._record_by()
            if until is not None and time.monotonic() >= until:
                return False
            try:
                writes.exception(timeout=0.2 if until is None else max(0.0, min(0.2, until - time.monotonic())))
            except TimeoutError:
                continue
        return True

    def _abandon(self) -> None:
        log.warning("pages_not_recorded", pages=len(self._pending), deals=sum(len(p.deal_ids) for p in self._pending),
                    detail="the stop grace ran out before their writes landed; the cursor stays before them and the "
                           "next run writes them again (their keys make that harmless)")
        self._pending.clear()
        self._failed = True
        self.abandoned = True

    def _record(self, pending: _Pending, results: list[ActionResult]) -> None:
        plan = pending.result.plan
        results = results + [ActionResult(action=a, outcome=Outcome.SKIPPED, message=a.reason)
                             for a in plan.actions if a.kind.value == "skip"]
        # A record the CRM refused earlier in this run that this page did not write again (a deal
        # decided again at the end of the run leaves it out) stays kept for the next run's retry.
        written = {r.action.key for r in results}
        unsettled = {r.action.deal_id for r in self._rejected if r.action.key not in written} & pending.deal_ids
        tally(results, self._outcomes, self._rejected)
        deferred = [r for r in results if r.outcome is Outcome.DEFERRED]
        if deferred:
            # Not written and not refused: the next run must meet these deals again.
            log.warning("creates_deferred", count=len(deferred),
                        deal_ids=sorted({r.action.deal_id for r in deferred})[:10],
                        detail=deferred[0].message)
            self._failed = True
        try:
            # The versions handled go with the cursor: a deal whose page cannot move it is met again.
            self._store.commit_page(
                self._scope, self._job, self._run_id, results, pending.result.fingerprints,
                cursor=pending.page.cursor if pending.advance and not self._failed else None,
                revisits=pending.result.revisit, processed_deal_ids=sorted(pending.deal_ids),
                unsettled_deal_ids=sorted(unsettled), handled=pending.page.handled,
            )
        except BaseException:
            self._failed = True  # this page is not recorded: no later page may move the cursor past it
            raise


def _done(value: list[ActionResult]) -> Future[list[ActionResult]]:
    future: Future[list[ActionResult]] = Future()
    future.set_result(value)
    return future
