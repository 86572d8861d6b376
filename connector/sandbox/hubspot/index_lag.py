"""How long a write takes to reach search: the same lag for every write (first in, first out), a
per-write lag drawn from a seeded range (out of order), or a test's "delay this record's next
index update by N seconds".

HubSpot documents only that "new writes appear with delay" (facts §3) and promises no order; an
integration that assumes writes become searchable in the order they were made breaks when they do
not, so the sandbox can index them out of order, deterministically (seeded, injectable clock).
"""

from __future__ import annotations

import random


class IndexLag:
    def __init__(self, *, lag: float, lag_max: float | None, seed: int):
        self.lag = lag
        """Seconds every write waits before search sees it (the lower bound with ``lag_max``)."""
        self.lag_max = lag_max
        """None: every write waits ``lag``. Else each write waits a lag drawn uniformly from
        [lag, lag_max], so a later write can be searchable before an earlier one."""
        self.at_once = False
        """Set while the seed loads: data already in the portal is indexed."""
        self._rng = random.Random(seed)
        self._next_delay: dict[tuple[str, int], float] = {}

    def delay_next(self, type_name: str, record_id: int, seconds: float) -> None:
        """The next write to this record reaches search ``seconds`` after it is made (once)."""
        if seconds < 0:
            raise ValueError(f"a search index delay cannot be negative, got {seconds}")
        self._next_delay[(type_name, record_id)] = seconds

    def seconds_for(self, type_name: str, record_id: int) -> float:
        """How long this write waits before search sees it."""
        if self.at_once:
            return 0.0
        hooked = self._next_delay.pop((type_name, record_id), None)
        if hooked is not None:
            return hooked
        if self.lag_max is not None and self.lag_max > self.lag:
            return self._rng.uniform(self.lag, self.lag_max)
        return self.lag
