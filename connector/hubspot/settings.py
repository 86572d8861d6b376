"""How AfterClose reaches one HubSpot portal: credentials, host, timeouts and its share of the quota.

This class is also the config file's ``[hubspot]`` section (jobs/config.py), so every key is
declared once, here. Secrets never appear in ``repr``, logs or errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from connector.settings import Section

DEFAULT_BASE_URL = "https://api.hubapi.com"
_SECRET = " Secret: prefer the environment or the _file key."
_OAUTH = ("client_id", "client_secret", "refresh_token")


class HubSpotSettings(Section):
    access_token: SecretStr | None = Field(None, description="Private-app access token (pat-...)." + _SECRET)
    access_token_file: Path | None = Field(
        None, description="Path of a file holding access_token (a mounted Docker/Kubernetes secret).")
    base_url: str = Field(DEFAULT_BASE_URL, description="API host (the sandbox uses its loopback URL).")
    client_id: str | None = Field(None, description="OAuth app client id (with client_secret and refresh_token).")
    client_secret: SecretStr | None = Field(None, description="OAuth app client secret." + _SECRET)
    client_secret_file: Path | None = Field(None, description="Path of a file holding client_secret.")
    refresh_token: SecretStr | None = Field(None, description="OAuth refresh token of the installing user." + _SECRET)
    refresh_token_file: Path | None = Field(None, description="Path of a file holding refresh_token.")
    rate_limit_per_10s: int = Field(
        190, gt=0, description="The portal's ten-second limit: 100 free/starter, 190 pro/enterprise, "
                               "250 with the capacity pack (https://developers.hubspot.com/changelog/increasing-our-api-limits).")
    budget_share: float = Field(
        0.5, gt=0, le=1, description="Share of that limit AfterClose may use (every app in the portal shares it).")
    search_per_second: float = Field(
        5.0, gt=0, description="CRM search requests per second (search has its own limit, exempt from the "
                               "ten-second one).")
    timeout_seconds: float = Field(
        30.0, gt=0, description="Give up on one HTTP call after this long (the SDK has no default timeout).")
    max_concurrency: int = Field(4, ge=1, le=64, description="Parallel calls within the budget.")
    ca_bundle: Path | None = Field(
        None, description="Extra CA file to trust (TLS-inspecting proxy); verification stays on.")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value
    task_key_mode: Literal["auto", "non_unique"] = Field(
        "auto", description='"auto": rely on the task key property\'s unique values where the portal grants them '
                            '(read from the property); "non_unique": never rely on them (docs/hubspot-adapter.md).')
    settle_seconds: float = Field(
        60.0, ge=0, description="How long after a create HubSpot's reads are trusted to show it: a create without "
                                "an answer is looked up no sooner (non-unique task keys). Covers a request still "
                                "being carried out after the client gave up and association reads that lag.")
    search_lookback_seconds: float = Field(
        300.0, ge=0, description="Each run reads deals modified up to this long before its cursor again: HubSpot's "
                                 "search index shows writes with a delay and in no promised order, so a deal edited "
                                 "before one already read can show up later. Deals in that window that did not "
                                 "change since AfterClose handled them cost no call beyond the window's search pages "
                                 "(docs/hubspot-adapter.md). 0 turns the look-back off.")
    settle_max_wait_seconds: float = Field(
        120.0, ge=0, description="The longest a run waits for that; a longer wait leaves the deals concerned to the "
                                 "next run.")

    def credential_problems(self) -> list[tuple[str, str]]:
        """(key, what is wrong) when no way to authenticate is complete; [] when one is."""
        missing = [name for name in _OAUTH if not getattr(self, name)]
        if self.access_token is None and len(missing) == len(_OAUTH):
            return [("access_token", "provider is hubspot: set access_token (private app) or client_id + "
                                     "client_secret + refresh_token (OAuth)")]
        if 0 < len(missing) < len(_OAUTH):
            # A half-given OAuth set is a mistake even next to a token: say so rather than ignore it.
            return [(missing[0], f"OAuth needs {', '.join(missing)} too")]
        return []

    @property
    def uses_oauth(self) -> bool:
        return not self.access_token

    @property
    def ten_second_budget(self) -> int:
        """Calls AfterClose allows itself per rolling ten seconds (at least one)."""
        return max(1, int(self.rate_limit_per_10s * self.budget_share))
