"""AfterClose's own rate budget, so it rarely meets a 429 and never eats the whole portal's quota.

HubSpot counts calls per portal, shared by every installed app: a rolling ten-second burst limit
(100/190/250 by tier, https://developers.hubspot.com/changelog/increasing-our-api-limits) and,
separately, a per-second limit on the CRM search endpoints, which are exempt from the ten-second
bucket (facts §3). AfterClose allows itself ``budget_share`` of the burst limit and the search
rate, and backs off when the ``X-HubSpot-RateLimit-Remaining`` header says the portal (other apps
included) is about to run dry
(https://developers.hubspot.com/changelog/2018-11-06-rate-limit-information-headers-will-be-included-in-http-responses).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping

from connector.hubspot.errors import header

# Below this many calls left in the portal's window, AfterClose pauses instead of spending them.
_RESERVE = 2
_HEADER_PAUSE_SECONDS = 1.0


class RollingLimiter:
    """At most ``limit`` calls in any ``seconds``-long window; ``acquire`` blocks until a slot frees."""

    def __init__(self, limit: int, seconds: float, *, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._sleep = sleep
        self._stamps: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a slot; returns the seconds spent waiting for it."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._stamps and now - self._stamps[0] >= self.seconds:
                    self._stamps.popleft()
                if len(self._stamps) < self.limit:
                    self._stamps.append(now)
                    return waited
                delay = self.seconds - (now - self._stamps[0])
            self._sleep(delay)
            waited += delay


class RateBudget:
    """The ten-second budget for every call, plus the per-second search limit for searches."""

    def __init__(
        self,
        *,
        per_ten_seconds: int,
        search_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._clock = clock
        self._sleep = sleep
        self._burst = RollingLimiter(per_ten_seconds, 10.0, clock=clock, sleep=sleep)
        # A per-second rate r as "r calls per second"; fractional rates become one call per 1/r s.
        per_second = max(1, int(search_per_second))
        self._search = RollingLimiter(per_second, per_second / search_per_second, clock=clock, sleep=sleep)
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, *, search: bool) -> float:
        """Wait for permission to make one call; returns the seconds waited."""
        waited = self._wait_out_pause()
        # Search calls are exempt from the ten-second bucket ("x-hubspot-rate-limit-exemptions:
        # ten-secondly", facts §3): they only take a search slot.
        limiter = self._search if search else self._burst
        return waited + limiter.acquire()

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """Pause briefly when the portal's own counters say the window is nearly spent."""
        if not headers:
            return
        remaining = header(headers, "X-HubSpot-RateLimit-Remaining")
        if remaining is not None and remaining.isdigit() and int(remaining) < _RESERVE:
            with self._lock:
                self._paused_until = max(self._paused_until, self._clock() + _HEADER_PAUSE_SECONDS)

    def _wait_out_pause(self) -> float:
        with self._lock:
            delay = self._paused_until - self._clock()
        if delay <= 0:
            return 0.0
        self._sleep(delay)
        return delay
