"""How AfterClose reaches one Salesforce org: a frozen value, validated once.

Which login flow runs follows from which credentials are set (see ``auth_flow``); the flows
and their Salesforce names are explained in docs/salesforce-adapter.md.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import StrEnum

from connector.errors import ConfigError

_SOURCE = "salesforce settings"
_VERSION = re.compile(r"^\d{2,3}\.0$")


class AuthFlow(StrEnum):
    DIRECT = "direct"
    """A ready access token + instance URL; cannot be renewed by AfterClose."""
    PASSWORD_SOAP = "password_soap"
    """Username + password + security token (SOAP login, what simple-salesforce does by default)."""
    PASSWORD_OAUTH = "password_oauth"
    """Username + password (+ security token, appended) + connected-app consumer key/secret
    (OAuth password grant)."""
    JWT = "jwt"
    """Username + consumer key + private key file (OAuth JWT bearer)."""
    CLIENT_CREDENTIALS = "client_credentials"
    """Consumer key/secret of a connected app with a run-as user (needs a My Domain)."""


@dataclass(frozen=True, kw_only=True)
class SalesforceSettings:
    instance_url: str | None = None
    access_token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    consumer_key: str | None = None
    consumer_secret: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    domain: str = "login"
    """``login``, ``test``, a My Domain prefix (``acme.my``), or a full ``https://`` login URL."""
    ca_bundle: str | None = None
    """Extra CA file to trust (a TLS-inspecting proxy, the test sandbox). Verification stays on."""
    api_version: str = "59.0"
    timeout_seconds: float = 30.0
    daily_reserve_share: float = 0.2
    """Share of the org's daily API allowance AfterClose leaves for other integrations."""
    max_concurrency: int = 4
    """Write collections sent at once. Salesforce has no per-second limit; it caps concurrent
    requests that run longer than 20 s (25 per org), which a 200-record collection does not."""

    def __post_init__(self) -> None:
        for name in ("private_key_file", "ca_bundle"):  # accept pathlib.Path from the config layer
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                object.__setattr__(self, name, os.fspath(value))
        if self.api_version.startswith("v") or not _VERSION.match(self.api_version):
            raise ConfigError(f"must look like '59.0' (no 'v'), got {self.api_version!r}",
                              source=_SOURCE, key="api_version")
        if not self.timeout_seconds > 0:
            raise ConfigError("must be above 0", source=_SOURCE, key="timeout_seconds")
        if not isinstance(self.max_concurrency, int) or not 1 <= self.max_concurrency <= 16:
            raise ConfigError("must be a whole number from 1 to 16", source=_SOURCE, key="max_concurrency")
        if not 0 <= self.daily_reserve_share < 1:
            raise ConfigError("must be at least 0 and below 1", source=_SOURCE, key="daily_reserve_share")
        if "://" in self.domain and not self.domain.startswith("https://"):
            raise ConfigError("a login URL must use https", source=_SOURCE, key="domain")
        if self.instance_url is not None and not self.instance_url.startswith("https://"):
            # simple-salesforce rewrites any instance URL to https (facts §0.1); say so up front.
            raise ConfigError("must start with https://", source=_SOURCE, key="instance_url")
        if bool(self.access_token) != bool(self.instance_url) and self.login_flow() is None:
            raise ConfigError("access_token and instance_url go together", source=_SOURCE,
                              key="access_token" if not self.access_token else "instance_url")
        self.auth_flow()  # fail fast when no flow fits

    def login_flow(self) -> AuthFlow | None:
        """The flow that can (re)issue a token from stored credentials, if any."""
        if self.username and self.password and self.consumer_key and self.consumer_secret:
            return AuthFlow.PASSWORD_OAUTH
        if self.username and self.password and self.security_token:
            return AuthFlow.PASSWORD_SOAP
        if self.username and self.consumer_key and self.private_key_file:
            return AuthFlow.JWT
        if self.consumer_key and self.consumer_secret and not self.username:
            if self.domain in ("login", "test"):
                # Salesforce issues client-credential tokens only on the org's own My Domain.
                raise ConfigError("client credentials need domain = your My Domain, not login/test",
                                  source=_SOURCE, key="domain")
            return AuthFlow.CLIENT_CREDENTIALS
        return None

    def auth_flow(self) -> AuthFlow:
        """The flow used for the first token: a given token wins, credentials renew it."""
        if self.access_token and self.instance_url:
            return AuthFlow.DIRECT
        flow = self.login_flow()
        if flow is None:
            raise ConfigError(
                "no usable credentials: set access_token + instance_url, or username + password + "
                "security_token, or username + password + consumer_key + consumer_secret, or "
                "username + consumer_key + private_key_file, or consumer_key + consumer_secret",
                source=_SOURCE)
        return flow

    @property
    def login_url(self) -> str:
        """Where tokens are issued: ``https://<domain>.salesforce.com`` unless a URL is given."""
        if self.domain.startswith("https://"):
            return self.domain.rstrip("/")
        return f"https://{self.domain}.salesforce.com"
