"""Writing pages while the sync decides the next one, and recording pages in order.

The order per page is: its writes, then ONE store transaction with its results and the cursor
past it. What overlaps is one page's writes with the next page's decisions and writes, and a
page's store transaction with the next pages' writes. A crash in between leaves those pages
unrecorded and the next run replays them; the CRM-side keys make that harmless, as for one page.
When a page's writes fail, or some of its creates are deferred (Outcome.DEFERRED), no later
page moves the cursor. When ``drain`` or ``close`` returns,
every write this object started has landed, so no write outlives the run or its lock.
"""

from __future__ import annotations

import collections
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
                 outcomes: collections.Counter[str], rejected: list[ActionResult]):
        self._scope, self._job, self._run_id, self._store = scope, job, run_id, store
        self._submit = submit
        self._outcomes, self._rejected = outcomes, rejected
        self._pending: collections.deque[_Pending] = collections.deque()
        self._failed = False

    def writing_any(self, page: DealPage) -> bool:
        ids = {d.id for d in page.deals}
        return any(not pending.deal_ids.isdisjoint(ids) for pending in self._pending)

    def submit(self, page: DealPage, result: planner.PlanResult, *, advance: bool) -> None:
        landed = self._take_oldest() if len(self._pending) >= PAGES_IN_FLIGHT else None
        writes = result.plan.writes()
        future = self._submit(writes) if writes else _done([])
        self._pending.append(_Pending(page=page, result=result, advance=advance, writes=future,
                                      deal_ids=frozenset(d.id for d in page.deals)))
        if landed is not None:
            self._record(*landed)

    def drain(self) -> None:
        while self._pending:
            self._record(*self._take_oldest())

    def close(self) -> None:
        """Whatever happened: let the writes under way land and record what can be recorded."""
        while self._pending:
            try:
                self._record(*self._take_oldest())
            except BaseException as exc:  # noqa: BLE001 - the run's own error is the one that propagates
                log.error("page_not_recorded", error=logs.redact(str(exc)),
                          detail="the next run repeats this page's writes; their keys make that harmless")

    def _take_oldest(self) -> tuple[_Pending, list[ActionResult]]:
        """The oldest page and its results, once its writes have landed (their error if they failed)."""
        pending = self._pending.popleft()
        try:
            return pending, pending.writes.result()
        except BaseException:
            self._failed = True  # the pages after it must not move the cursor past it
            raise

    def _record(self, pending: _Pending, results: list[ActionResult]) -> None:
        plan = pending.result.plan
        results = results + [ActionResult(action=a, outcome=Outcome.SKIPPED, message=a.reason)
                             for a in plan.actions if a.kind.value == "skip"]
        tally(results, self._outcomes, self._rejected)
        deferred = [r for r in results if r.outcome is Outcome.DEFERRED]
        if deferred:
            # Not written and not refused: the next run must meet these deals again.
            log.warning("creates_deferred", count=len(deferred), deal_ids=sorted({r.action.deal_id for r in deferred})[:10],
                        detail=deferred[0].message)
            self._failed = True
        self._store.commit_page(
            self._scope, self._job, self._run_id, results, pending.result.fingerprints,
            cursor=pending.page.cursor if pending.advance and not self._failed else None,
            revisits=pending.result.revisit, processed_deal_ids=sorted(pending.deal_ids),
        )


def _done(value: list[ActionResult]) -> Future[list[ActionResult]]:
    future: Future[list[ActionResult]] = Future()
    future.set_result(value)
    return future
