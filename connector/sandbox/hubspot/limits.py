"""HubSpot's rate limits as the sandbox enforces and reports them.

- ten-second rolling window per app: 100 / 190 / 250 calls by tier; daily 250k / 650k / 1M
  [DOC: https://developers.hubspot.com/changelog/increasing-our-api-limits];
- search has its own per-second limit (5/s per account, facts §3) and is exempt from the
  ten-second bucket (``x-hubspot-rate-limit-exemptions: ["ten-secondly"]`` in the tasks spec);
- headers ``X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds`` [2ND],
  ``-Secondly(-Remaining)``, ``-Daily(-Remaining)``
  [DOC: https://developers.hubspot.com/changelog/2018-11-06-rate-limit-information-headers-will-be-included-in-http-responses];
- 429 body ``{status, message, errorType: "RATE_LIMIT", correlationId, policyName, groupName}`` with
  ``Retry-After`` in seconds [2ND: https://github.com/HubSpot/hubspot-api-python/issues/117;
  https://github.com/PostHog/posthog/pull/64726].

A limit left as None is neither enforced nor reported (no header that could slow a client down).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from connector.sandbox.controls import RollingWindow
from connector.sandbox.hubspot.errors import correlation_id

GROUP_NAME = "publicapi:private-app:sandbox"
_MESSAGES = {"TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
             "SECONDLY": "You have reached your secondly limit.",
             "DAILY": "You have reached your daily limit."}


@dataclass(frozen=True)
class Refusal:
    policy: str
    retry_after: float

    def body(self) -> dict:
        return {"status": "error", "message": _MESSAGES[self.policy], "errorType": "RATE_LIMIT",
                "correlationId": correlation_id(), "policyName": self.policy, "groupName": GROUP_NAME}

    def headers(self) -> dict[str, str]:
        # No Retry-After on DAILY [UNVERIFIED for HubSpot]: the daily allowance comes back at the
        # portal's midnight, and urllib3's default Retry would otherwise sleep until then on a GET.
        if self.policy == "DAILY":
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


def seconds_to_utc_midnight() -> float:
    now = dt.datetime.now(dt.UTC)
    tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(0), dt.UTC)
    return (tomorrow - now).total_seconds()


class RateLimits:
    def __init__(self, *, per_10s: int | None, search_per_second: int | None, daily: int | None,
                 clock: Callable[[], float]):
        self.ten = RollingWindow(limit=per_10s, seconds=10.0) if per_10s else None
        self.search = RollingWindow(limit=search_per_second, seconds=1.0) if search_per_second else None
        self.daily = daily
        self.daily_used = 0
        self._clock = clock
        self._lock = threading.Lock()

    def admit(self, *, is_search: bool) -> Refusal | None:
        with self._lock:
            now = self._clock()
            if self.daily is not None and self.daily_used >= self.daily:
                return Refusal("DAILY", seconds_to_utc_midnight())
            window = self.search if is_search else self.ten
            if window is not None:
                wait = window.admit(now)
                if wait is not None:
                    return Refusal("SECONDLY" if is_search else "TEN_SECONDLY_ROLLING", wait)
            self.daily_used += 1
            return None

    def headers(self, *, is_search: bool) -> dict[str, str]:
        with self._lock:
            now = self._clock()
            out = {}
            if is_search and self.search is not None:
                out["X-HubSpot-RateLimit-Secondly"] = str(self.search.limit)
                out["X-HubSpot-RateLimit-Secondly-Remaining"] = str(self.search.remaining(now))
            if not is_search and self.ten is not None:
                out["X-HubSpot-RateLimit-Max"] = str(self.ten.limit)
                out["X-HubSpot-RateLimit-Remaining"] = str(self.ten.remaining(now))
                out["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
            if self.daily is not None:
                out["X-HubSpot-RateLimit-Daily"] = str(self.daily)
                out["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily - self.daily_used))
            return out
