"""The deal stream: one for every CRM, over the narrow port (connector/port.py).

It owns what used to be copied into each adapter:

- **read-ahead**: the next scan pages and the next enriched page are read while the sync decides
  and writes the current one (``StreamTuning`` says how far, per CRM);
- **writes in the background**: ``submit`` hands a page's writes to a small pool (at most
  ``PAGES_IN_FLIGHT`` pages at once; the adapter's own pool still caps concurrent calls);
- **own write-backs**: a deal AfterClose just wrote comes back in the stream with a new modified
  stamp; ``OwnWrites`` drops it before enrichment when it is exactly what was read plus what was
  written, so the cursor ends past AfterClose's own writes and the next run has nothing to re-read;
- **the repeat pass**: the last page's write-backs land after the pass that read it ended, so a
  pass that caused write-backs is followed by another from its cursor, after every submitted
  write has landed (``BackgroundWrites.wait_idle``);
- **the look-back** (lookback.py): for a CRM whose reads can show an earlier change after a later
  one (HubSpot's search index), the first pass starts ``StreamTuning.lookback`` before the cursor
  and skips the deals met there in the version the sync already handled; pages carry the versions
  they handle (``DealPage.handled``) for the next run;
- **the decision limit** (``DealBudget``): a deal that keeps coming back (a CRM workflow undoing
  AfterClose's write-back) is decided at most ``DECISIONS_PER_DEAL`` times per run.

The timing rule that makes this safe: AfterClose's write-backs move a deal behind every deal not
read yet, so the walk meets them only near its end, and a deal whose write-back was not noted yet
when met is merely read and decided again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future

from connector.actions import ActionResult, Outcome, UpdateRecord, WriteAction
from connector.model import Cursor, DealPage, DealStamp, RecordKind
from connector.port import CrmAdapter
from jobs import logs
from jobs.sync.lookback import LookBack, recent
from jobs.sync.overlap import BackgroundWrites, read_ahead
from jobs.sync.own_writes import OwnWrites

log = logs.get_logger("afterclose.sync")

PAGES_IN_FLIGHT = 2
"""Pages whose writes may be under way at once. Two, so the CRM does not wait at a page
boundary: the next page's first calls queue behind this page's last ones."""
ENRICHED_PAGES_AHEAD = 1
"""Deal pages read and enriched ahead of the one being decided and written: the reads share the
rate budget with the writes instead of waiting for them."""
DECISIONS_PER_DEAL = 2
"""How often one run may decide the same deal. A deal comes back in the stream when a user changed
it after this run read it (decide it again: that change must not be lost), or when AfterClose's
own write-back does not read back as written (a CRM that normalises a value). The second kind
would make a run write, re-read and write again without end, so a third sighting is left for the
next run: from then on the cursor stays where it is (``DealBudget``)."""


class DealStream:
    """Pages of full deals, and a place to hand their writes; one per run."""

    def __init__(self, adapter: CrmAdapter, *, on_page: Callable[[DealPage], None] | None = None,
                 stopping: Callable[[], bool] = lambda: False):
        self._adapter = adapter
        self._on_page = on_page
        self._stopping = stopping
        """A run asked to stop (SIGTERM) starts no repeat pass and does not wait for one."""
        self._own = OwnWrites()
        self._writes = BackgroundWrites(self._apply, at_once=PAGES_IN_FLIGHT, name=f"{adapter.provider}-writes")

    # -- reads -------------------------------------------------------------------------------

    def changed_since(self, since: Cursor | None, *, handled: Mapping[str, dt.datetime] | None = None,
                      look_back: bool = True) -> Iterator[DealPage]:
        """Passes over the changed deals until one makes no write-back of its own. With a
        look-back (``StreamTuning.lookback``; ``look_back=False`` when the window is known to be
        settled) the first pass starts that far before ``since`` and skips the deals met there in
        the version ``handled`` says the sync handled them in (lookback.py); later passes read on
        from the cursor."""
        span = self._adapter.tuning.lookback
        window = LookBack(since=since, span=span, handled=handled or {}) \
            if look_back and since is not None and span else None
        try:
            cursor, wrote = since, True
            while wrote:
                written_before = self._own.written
                for page in read_ahead(self._one_pass(cursor, window), ENRICHED_PAGES_AHEAD, name="deals-ahead"):
                    cursor = page.cursor or cursor
                    yield self._seen(page)
                window = None
                # The sync may still be writing the last page; a stopping run leaves the rest to the next.
                if not self._writes.wait_idle(give_up=self._stopping):
                    return
                wrote = self._own.written > written_before
        finally:
            self._own.clear()

    def by_ids(self, deal_ids: Sequence[str]) -> Iterator[DealPage]:
        """The named deals that exist, page by page; these pages move no cursor. A stopping run
        reads no further page."""
        for stamps in self._adapter.scan_ids(deal_ids):
            if self._stopping():
                return
            yield self._seen(self._enriched(stamps, cursor=None))

    def _one_pass(self, since: Cursor | None, window: LookBack | None) -> Iterator[DealPage]:
        batch = self._adapter.tuning.enrich_batch
        # The stamps met since the last page, in stream order, each with whether to decide it
        # (AfterClose's own write-backs are not decided; the cursor still passes them).
        met: list[tuple[DealStamp, bool]] = []
        wanted = 0
        last: DealStamp | None = None
        scan = read_ahead(self._adapter.scan(window.scan_from if window else since),
                          self._adapter.tuning.scan_pages_ahead, name="scan-ahead")
        for stamps in scan:
            if not stamps:
                continue
            last = stamps[-1]
            for stamp in stamps:
                if window is not None and window.unchanged(stamp):
                    continue
                decide = not self._own.is_own(stamp)
                met.append((stamp, decide))
                wanted += decide
            if batch is None:
                yield self._page(met, through=last, window=window)
                met, wanted = [], 0
            while batch is not None and wanted >= batch:
                cut = _after_nth_decided(met, batch)
                yield self._page(met[:cut], through=met[cut - 1][0], window=window)
                met, wanted = met[cut:], wanted - batch
        if last is not None and (met or batch is not None):
            # Also when every deal left was our own or unchanged (an empty page): the cursor moves past them.
            yield self._page(met, through=last, window=window)

    def _page(self, met: Sequence[tuple[DealStamp, bool]], *, through: DealStamp,
              window: LookBack | None) -> DealPage:
        cursor = window.cursor_after(through) if window else through.cursor
        page = self._enriched([stamp for stamp, decide in met if decide], cursor=cursor)
        handled = recent((stamp for stamp, _ in met), cursor, self._adapter.tuning.lookback)
        return dataclasses.replace(page, handled=handled) if handled else page

    def _enriched(self, stamps: Sequence[DealStamp], *, cursor: Cursor | None) -> DealPage:
        if not stamps:
            return DealPage(deals=(), cursor=cursor)
        for stamp in stamps:
            self._own.read(stamp)
        return DealPage(deals=tuple(self._adapter.enrich(stamps)), cursor=cursor)

    def _seen(self, page: DealPage) -> DealPage:
        if self._on_page is not None:
            self._on_page(page)
        return page

    # -- writes ------------------------------------------------------------------------------

    def submit(self, actions: Sequence[WriteAction]) -> Future[list[ActionResult]]:
        """Apply in the background; the future has one result per action, in order."""
        return self._writes.submit(actions)

    def _apply(self, actions: Sequence[WriteAction]) -> list[ActionResult]:
        results = self._adapter.apply(actions)
        for result in results:
            action = result.action
            if (result.outcome is Outcome.UPDATED and isinstance(action, UpdateRecord)
                    and action.update.kind is RecordKind.DEAL):
                self._own.wrote(action.update.record_id, action.update.values)
        return results

    def close(self, wait: bool = True) -> None:
        """Let every write under way land (none outlives the run or its lock); ``wait=False`` only
        for a run stopping past its grace, whose process exits right after (jobs/cli/stopping.py)."""
        self._writes.close(wait=wait)


def _after_nth_decided(met: Sequence[tuple[DealStamp, bool]], n: int) -> int:
    """How many of ``met`` to take for a page of ``n`` deals to decide."""
    count = 0
    for index, (_, decide) in enumerate(met, start=1):
        count += decide
        if count == n:
            return index
    return len(met)


class DealBudget:
    """Counts decisions per deal for one run (``DECISIONS_PER_DEAL``)."""

    def __init__(self) -> None:
        self._decided: dict[str, int] = {}
        self.holding_cursor = False
        """Set once a deal was held back: from then on no page moves the cursor, so the next run
        reads that deal again."""

    @property
    def distinct(self) -> int:
        return len(self._decided)

    def take(self, page: DealPage) -> DealPage:
        """The page without the deals already decided ``DECISIONS_PER_DEAL`` times."""
        kept = tuple(d for d in page.deals if self._decided.get(d.id, 0) < DECISIONS_PER_DEAL)
        for deal in kept:
            self._decided[deal.id] = self._decided.get(deal.id, 0) + 1
        if len(kept) == len(page.deals):
            return page
        if not self.holding_cursor:
            kept_ids = {d.id for d in kept}
            log.warning("deals_keep_coming_back", deal_ids=[d.id for d in page.deals if d.id not in kept_ids][:10],
                        detail=f"decided {DECISIONS_PER_DEAL} times in this run already (a write-back that "
                               "does not read back as written?); left for the next run, the cursor stays "
                               "before them")
        self.holding_cursor = True
        return dataclasses.replace(page, deals=kept)
