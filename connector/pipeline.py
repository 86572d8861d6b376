"""Overlapping a run's reads, decisions and writes: the small tools both adapters share.

The sync job writes page k while it decides page k+1 (jobs/sync.py), and the adapters read
page k+1 while page k is decided. With a CRM that answers in ~150 ms, a run that did these one
after another spent most of its time waiting (docs/benchmarks.md).
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def read_ahead(items: Iterable[T], depth: int, *, name: str = "read-ahead") -> Iterator[T]:
    """Iterate ``items`` in a thread of its own, up to ``depth`` items ahead of the consumer.

    An exception in the producer is raised in the consumer at the point it happened; a consumer
    that stops early stops the producer (no thread outlives the iteration by more than one item).
    """
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, object]) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(("error", exc))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, item = slots.get()
            if kind == "end":
                return
            if kind == "error":
                raise item  # type: ignore[misc]
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=60)


class BackgroundWrites:
    """An adapter's writes, run in the background and counted from the moment they are handed over.

    The sync job hands page k's writes over (``submit``) and reads page k+1 meanwhile. At the end
    of each pass an adapter's deal stream decides whether the pass's own write-backs need one
    more pass (``OwnWrites`` in each adapter's pull.py), so it first waits here for every write
    handed over so far (``wait_idle``): counting from ``submit``, not from when a worker picks
    the writes up, is what makes that wait see the last page's writes. Nothing the writes do
    needs the waiting thread, so the wait cannot deadlock.
    """

    def __init__(self, apply: Callable[[Sequence[Any]], list[Any]], *, at_once: int = 2, name: str = "writes"):
        self._apply = apply
        self._executor = ThreadPoolExecutor(max_workers=at_once, thread_name_prefix=name)
        self._count = 0
        self._idle = threading.Condition()

    def submit(self, actions: Sequence[Any]) -> Future:
        with self._idle:
            self._count += 1
        try:
            future = self._executor.submit(self._apply, actions)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future | None) -> None:
        with self._idle:
            self._count -= 1
            if self._count == 0:
                self._idle.notify_all()

    def wait_idle(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._count == 0)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class OwnWrites(Generic[R]):
    """Deals whose only change since this walk read them is AfterClose's own write-back.

    A write-back bumps the deal's modified stamp, so the walk meets the deal again (HubSpot: later
    in the same search walk; Salesforce: in one more query pass right after the writes). Without
    this, the run (or the next one) re-reads and re-plans every deal it wrote: measured, 28 query
    batches and 40 s at 50,000 Salesforce deals for a run with nothing to do. ``read`` remembers
    what a deal was read as (recent pages only), ``wrote`` turns that into the state the deal must
    have after the write-back, and ``is_own`` tells whether a deal met again is in exactly that
    state; a deal a user changed meanwhile differs and is handled. Lives for one walk.

    ``digest(record, written)`` is the adapter's: a hash of everything AfterClose reads from a
    deal, its modified stamp left out, with ``written`` laid over it.
    """

    def __init__(self, digest: Callable[[R, Mapping[str, Any]], int], *, recent_reads: int):
        self._digest = digest
        self._recent_reads = recent_reads
        """Deals read but not yet written are kept this long (a few pages); older ones were not written."""
        self._lock = threading.Lock()  # write batches report from several threads
        self._read: collections.OrderedDict[str, R] = collections.OrderedDict()
        self._expected: dict[str, int] = {}
        self.written = 0
        """Write-backs recorded so far: a pass that caused none needs no pass after it."""

    def read(self, deal_id: str, record: R) -> None:
        with self._lock:
            self._read[deal_id] = record
            self._read.move_to_end(deal_id)
            while len(self._read) > self._recent_reads:
                self._read.popitem(last=False)

    def wrote(self, deal_id: str, values: Mapping[str, Any]) -> None:
        with self._lock:
            before = self._read.pop(deal_id, None)
            if before is not None:
                self._expected[deal_id] = self._digest(before, values)
                self.written += 1

    def is_own(self, deal_id: str, record: R) -> bool:
        with self._lock:
            expected = self._expected.get(deal_id)
        return expected is not None and expected == self._digest(record, {})

    def clear(self) -> None:
        with self._lock:
            self._read.clear()
            self._expected.clear()
