"""Associations between records, and what association reads see when they lag behind writes.

Writes apply at once. With ``read_lag`` > 0 an association read shows the associations as they
were ``read_lag`` seconds ago: one made more recently is not seen yet, one removed more recently is
still seen. Whether HubSpot's association reads lag is undocumented (facts §7 [UNVERIFIED]); an
adapter must stay correct if they lag by a bounded time, so the sandbox can make them.

Times come from the store's injectable clock, so a test steps through the lag deterministically.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable

AssocKey = tuple[str, int]           # (association category, type id)
Links = dict[int, dict[AssocKey, float]]
"""to id -> association type -> when it was made (store clock; -inf for seeded data)."""


class Associations:
    def __init__(self, *, read_lag: float, clock: Callable[[], float]):
        self.read_lag = read_lag
        self.clock = clock
        self.at_once = False
        """Set while the seed loads: associations already in the portal are visible to every read."""
        self._links: dict[tuple[str, int], dict[str, Links]] = {}
        self._removed: collections.deque[tuple[float, str, int, str, int, dict[AssocKey, float]]] = \
            collections.deque()

    def add(self, from_type: str, from_id: int, to_type: str, to_id: int, key: AssocKey, inverse: AssocKey) -> None:
        made = -math.inf if self.at_once else self.clock()
        # setdefault: re-adding an existing association keeps when it was first made.
        self._target(from_type, from_id, to_type, to_id).setdefault(key, made)
        self._target(to_type, to_id, from_type, from_id).setdefault(inverse, made)

    def remove(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        forward = self._links.get((from_type, from_id), {}).get(to_type, {}).pop(to_id, None)
        backward = self._links.get((to_type, to_id), {}).get(from_type, {}).pop(from_id, None)
        if self.read_lag > 0:  # lagging reads still show it for a while
            now = self.clock()
            if forward:
                self._removed.append((now, from_type, from_id, to_type, to_id, forward))
            if backward:
                self._removed.append((now, to_type, to_id, from_type, from_id, backward))

    def current(self, from_type: str, from_id: int, to_type: str) -> Links:
        """The associations as written (what a write's reply and the sandbox's inspection see)."""
        return self._links.get((from_type, from_id), {}).get(to_type, {})

    def as_read(self, from_type: str, from_id: int, to_type: str) -> Links:
        """The associations an API read sees: as they were ``read_lag`` seconds ago."""
        current = self.current(from_type, from_id, to_type)
        if self.read_lag <= 0:
            return current
        cutoff = self.clock() - self.read_lag
        while self._removed and self._removed[0][0] <= cutoff:
            self._removed.popleft()
        seen: Links = {}
        for to_id, keys in current.items():
            visible = {key: made for key, made in keys.items() if made <= cutoff}
            if visible:
                seen[to_id] = visible
        for _, src_type, src_id, dst_type, dst_id, keys in self._removed:
            if (src_type, src_id, dst_type) == (from_type, from_id, to_type):
                for key, made in keys.items():
                    if made <= cutoff:
                        seen.setdefault(dst_id, {})[key] = made
        return seen

    def _target(self, from_type: str, from_id: int, to_type: str, to_id: int) -> dict[AssocKey, float]:
        return self._links.setdefault((from_type, from_id), {}).setdefault(to_type, {}).setdefault(to_id, {})
