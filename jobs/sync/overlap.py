"""Small concurrency tools the deal stream is built from: read ahead, and writes in the background.

Against a CRM that answers in ~150 ms, a run that read, decided and wrote one page after another
spent most of its time waiting (docs/benchmarks.md); these let reads, decisions and writes overlap.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def read_ahead(items: Iterable[T], depth: int, *, name: str = "read-ahead") -> Iterator[T]:
    """Iterate ``items`` in a thread of its own, up to ``depth`` items ahead of the consumer
    (``depth`` 0: in the consumer's thread, nothing ahead).

    An exception in the producer is raised in the consumer at the point it happened; a consumer
    that stops early stops the producer (no thread outlives the iteration by more than one item).
    """
    if depth <= 0:
        yield from items
        return
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
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
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=60)


class BackgroundWrites:
    """Writes run in the background and counted from the moment they are handed over.

    The sync job hands page k's writes over (``submit``) and reads page k+1 meanwhile. At the end
    of each pass the deal stream decides whether the pass's own write-backs need one more pass,
    so it first waits here for every write handed over so far (``wait_idle``): counting from
    ``submit``, not from when a worker picks the writes up, is what makes that wait see the last
    page's writes. Nothing the writes do needs the waiting thread, so the wait cannot deadlock.
    """

    def __init__(self, apply: Callable[[Sequence[Any]], list[Any]], *, at_once: int = 2, name: str = "writes"):
        self._apply = apply
        self._executor = ThreadPoolExecutor(max_workers=at_once, thread_name_prefix=name)
        self._count = 0
        self._idle = threading.Condition()

    def submit(self, actions: Sequence[Any]) -> Future[list[Any]]:
        with self._idle:
            self._count += 1
        try:
            future = self._executor.submit(self._apply, actions)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[list[Any]] | None) -> None:
        with self._idle:
            self._count -= 1
            if self._count == 0:
                self._idle.notify_all()

    def wait_idle(self, give_up: Callable[[], bool] = lambda: False) -> bool:
        """Wait until every write handed over has landed; False when ``give_up()`` turned true
        first (a stopping run does not wait for its last writes to start another pass)."""
        with self._idle:
            while self._count:
                if give_up():
                    return False
                self._idle.wait(0.2)
        return True

    def close(self, wait: bool = True) -> None:
        """``wait=False``: a stopping run past its grace leaves the writes under way to the process's end."""
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
