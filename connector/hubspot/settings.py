"""How AfterClose reaches one HubSpot portal: credentials, host, timeouts and its share of the quota.

A frozen value, validated once at construction so a bad setting fails before any call is made.
Secrets are left out of ``repr`` so they never land in a log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.errors import ConfigError

DEFAULT_BASE_URL = "https://api.hubapi.com"


@dataclass(frozen=True, kw_only=True, slots=True)
class HubSpotSettings:
    access_token: str | None = field(default=None, repr=False)
    """A private-app token (``pat-...``). Either this or the three OAuth values."""
    base_url: str = DEFAULT_BASE_URL
    """The API host; the sandbox passes its loopback URL here."""
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    """OAuth app credentials: a fresh access token is obtained with the refresh-token grant."""
    rate_limit_per_10s: int = 190
    """The portal's ten-second burst limit: 100 (free/starter), 190 (pro/enterprise), 250
    (capacity pack). https://developers.hubspot.com/changelog/increasing-our-api-limits"""
    budget_share: float = 0.5
    """The share of that limit AfterClose may use: the limit is shared by every app in the portal."""
    search_per_second: float = 5.0
    """The CRM search endpoints' own per-second limit (facts §3), exempt from the ten-second one."""
    timeout_seconds: float = 30.0
    """Every HTTP call gives up after this long (the SDK has no default timeout, facts §0.7)."""
    max_concurrency: int = 4
    """Parallel calls within the budget (enrichment reads, write batches)."""
    ca_bundle: str | None = None
    """CA file to verify an https ``base_url`` against instead of the default trust store (a
    TLS-inspecting proxy, a test server). Verification stays on either way."""
    task_key_mode: str = "auto"
    """"auto": rely on the task key property's unique values where the portal grants them (read
    from the property); "non_unique": never rely on them (docs/hubspot-adapter.md)."""
    settle_seconds: float = 60.0
    """How long after a create HubSpot's reads are trusted to show it: a create without an answer
    is looked up no sooner (non-unique task keys). Covers a request still being carried out after
    the client gave up (``timeout_seconds``) and association reads that may lag."""
    settle_max_wait_seconds: float = 120.0
    """The longest a run waits for that; a longer wait leaves the deals concerned to the next run."""

    def __post_init__(self) -> None:
        oauth = (self.client_id, self.client_secret, self.refresh_token)
        if not self.access_token and not all(oauth):
            raise ConfigError(
                "set access_token (private app) or all of client_id, client_secret, refresh_token (OAuth)",
                source="hubspot settings", key="access_token",
            )
        if any(oauth) and not all(oauth):
            missing = [n for n, v in zip(("client_id", "client_secret", "refresh_token"), oauth) if not v]
            raise ConfigError(f"OAuth needs {', '.join(missing)} too", source="hubspot settings",
                              key=missing[0])
        self._check_positive("rate_limit_per_10s", self.rate_limit_per_10s)
        self._check_positive("search_per_second", self.search_per_second)
        self._check_positive("timeout_seconds", self.timeout_seconds)
        self._check_positive("max_concurrency", self.max_concurrency)
        if self.task_key_mode not in ("auto", "non_unique"):
            raise ConfigError(f'must be "auto" or "non_unique", got {self.task_key_mode!r}',
                              source="hubspot settings", key="task_key_mode")
        for key in ("settle_seconds", "settle_max_wait_seconds"):
            if getattr(self, key) < 0:
                raise ConfigError(f"must be >= 0, got {getattr(self, key)}", source="hubspot settings", key=key)
        if not 0 < self.budget_share <= 1:
            raise ConfigError(f"must be in (0, 1], got {self.budget_share}", source="hubspot settings",
                              key="budget_share")
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"must start with http:// or https://, got {self.base_url!r}",
                              source="hubspot settings", key="base_url")

    @staticmethod
    def _check_positive(key: str, value: float) -> None:
        if value <= 0:
            raise ConfigError(f"must be > 0, got {value}", source="hubspot settings", key=key)

    @property
    def uses_oauth(self) -> bool:
        return not self.access_token

    @property
    def ten_second_budget(self) -> int:
        """Calls AfterClose allows itself per rolling ten seconds (at least one)."""
        return max(1, int(self.rate_limit_per_10s * self.budget_share))
