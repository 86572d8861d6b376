"""Stopping on SIGTERM within a grace, whatever the CRM's pace.

Kubernetes sends SIGTERM, waits ``terminationGracePeriodSeconds`` (30 s by default), then kills.
Against a CRM answering slowly, letting every write under way land could take longer than that
(33 s measured with a CRM answering in 3 s per call, tests/cli/test_stop_grace.py). So a stop has a
deadline, ``[server] stop_grace_seconds`` (20 s by default) after the signal:

- no new page's writes start once the signal came; the pages whose writes are under way are
  recorded as they land, until ``record_by()`` (the deadline less a margin kept for recording and
  exiting); pages still under way then are not recorded, and the cursor stays before them;
- the run's record is closed (its outcome, counts, "stopped early"), then the process exits at once
  (``exit``): writes still under way are dropped as a ``kill -9`` would drop them, which the
  CRM-side task keys make harmless (docs/reliability.md, section 1);
- should anything hang (a state database that stopped answering), a watchdog exits the process at
  the deadline with exit code 4: the next run resumes after the last page recorded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from typing import NoReturn

from jobs import logs
from jobs.cli.exits import ExitCode

log = logs.get_logger("afterclose")

MARGIN_SECONDS = 3.0
"""At most this much of the grace is kept for recording what landed, closing the run and exiting."""


class GracefulStop(threading.Event):
    """A stop flag (``set`` by the signal handler) with a deadline ``grace_seconds`` after it was set."""

    def __init__(self, grace_seconds: float, *, clock=time.monotonic):
        super().__init__()
        self.grace_seconds = grace_seconds
        self._clock = clock
        self._deadline: float | None = None
        self._guard = threading.RLock()  # a second signal may arrive while the first is handled

    def set(self) -> None:
        with self._guard:
            if self._deadline is None:
                self._deadline = self._clock() + self.grace_seconds
                threading.Thread(target=self._watchdog, name="stop-watchdog", daemon=True).start()
        super().set()

    def record_by(self) -> float | None:
        """When a stopping run stops waiting for writes under way (``time.monotonic`` time); None
        while no stop was asked for."""
        if self._deadline is None:
            return None
        return self._deadline - min(MARGIN_SECONDS, self.grace_seconds * 0.2)

    def exit(self, code: int) -> NoReturn:
        """Leave now: threads still carrying dropped writes are not waited for."""
        _flush()
        os._exit(int(code))

    def _watchdog(self) -> None:
        assert self._deadline is not None
        time.sleep(max(0.0, self._deadline - self._clock()))
        log.error("stop_grace_exceeded", grace_seconds=self.grace_seconds,
                  detail="exiting before the platform kills the process; the next run resumes after the last "
                         "page recorded")
        self.exit(ExitCode.FAILED)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing to flush to
            stream.flush()
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(OSError, ValueError):
            handler.flush()
