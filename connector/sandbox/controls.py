"""Knobs shared by both sandboxes: call counting, latency, rate windows and fault injection.

The sandbox decides *whether* a call fails; each vendor module renders the failure in its own
CRM's shape (HubSpot's 429 body and headers, Salesforce's JSON error list, ...).

Faults are seeded, so a failing test replays the same storm.
"""

from __future__ import annotations

import asyncio
import collections
import fnmatch
import random
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum


class FaultKind(StrEnum):
    RATE_LIMIT = "rate_limit"      # 429 (HubSpot) with Retry-After and the vendor body
    SERVER_ERROR = "server_error"  # 500/503 in the vendor's shape
    SLOW = "slow"                  # answer after ``seconds``, beyond a client timeout
    DROP_BEFORE = "drop_before"    # connection cut, the request was NOT carried out
    DROP_AFTER = "drop_after"      # request carried out, then the response is lost
    EXPIRED_AUTH = "expired_auth"  # 401 in the vendor's expired-session shape
    QUOTA = "quota"                # daily cap (Salesforce 403 REQUEST_LIMIT_EXCEEDED, HubSpot DAILY)


@dataclass(kw_only=True)
class FaultRule:
    """Inject ``kind`` on calls whose endpoint label matches ``endpoint`` (a glob).

    ``rate`` is a probability per matching call; ``count`` limits how many times the rule
    fires (None: unlimited); ``after`` lets that many matching calls through first.
    """

    kind: FaultKind
    endpoint: str = "*"
    rate: float = 1.0
    count: int | None = None
    after: int = 0
    retry_after: float = 1.0
    seconds: float = 5.0
    fired: int = 0
    seen: int = 0


@dataclass(kw_only=True)
class RollingWindow:
    """At most ``limit`` calls in any ``seconds``-long window (HubSpot's ten-second rule)."""

    limit: int
    seconds: float
    _stamps: collections.deque = field(default_factory=collections.deque)

    def admit(self, now: float) -> float | None:
        """Record the call and return None, or return the seconds until a slot frees up."""
        while self._stamps and now - self._stamps[0] >= self.seconds:
            self._stamps.popleft()
        if len(self._stamps) >= self.limit:
            return max(0.0, self.seconds - (now - self._stamps[0]))
        self._stamps.append(now)
        return None

    def remaining(self, now: float) -> int:
        while self._stamps and now - self._stamps[0] >= self.seconds:
            self._stamps.popleft()
        return max(0, self.limit - len(self._stamps))


class Controls:
    """Per-sandbox knobs. Thread-safe: tests poke it while the server thread serves."""

    def __init__(self, *, seed: int = 0, latency: float = 0.0, clock=time.monotonic):
        self.latency = latency
        """Seconds from a request's arrival to its answer, the sandbox's own work included: a
        real CRM works on concurrent requests side by side, while the sandbox works on them one
        at a time in its event loop, so sleeping the full latency on top of that work made
        concurrent calls look slower than a real CRM answers them (``wait_out_latency``)."""
        self.rules: list[FaultRule] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._clock = clock

    def add_fault(self, kind: FaultKind | str, **kwargs) -> FaultRule:
        rule = FaultRule(kind=FaultKind(kind), **kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._lock:
            self.rules.clear()

    async def wait_out_latency(self, arrived: float) -> None:
        """Sleep what is left of ``latency`` since ``arrived`` (a ``time.monotonic()`` reading)."""
        left = self.latency - (time.monotonic() - arrived)
        if left > 0:
            await asyncio.sleep(left)

    def record_call(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def total_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.calls)

    def next_fault(self, endpoint: str) -> FaultRule | None:
        """The first rule that fires for this call, if any (each rule's counters advance)."""
        with self._lock:
            for rule in self.rules:
                if not fnmatch.fnmatchcase(endpoint, rule.endpoint):
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                rule.seen += 1
                if rule.seen <= rule.after or self._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                return rule
        return None

    def now(self) -> float:
        return self._clock()
