"""How AfterClose reaches one Salesforce org: a frozen value, validated once.

This class is also the config file's ``[salesforce]`` section (jobs/config.py), so every key is
declared once, here. Which login flow runs follows from which credentials are set (see
``auth_flow``); the flows and their Salesforce names are explained in docs/salesforce-adapter.md.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from connector.errors import ConfigError
from connector.settings import Section

_SOURCE = "salesforce settings"
_SECRET = " Secret: prefer the environment or the _file key."


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


class SalesforceSettings(Section):
    instance_url: str | None = Field(
        None, description="https://<your domain>.my.salesforce.com (with access_token).")
    access_token: SecretStr | None = Field(
        None, description="A ready session/access token (cannot be renewed by AfterClose)." + _SECRET)
    access_token_file: Path | None = Field(None, description="Path of a file holding access_token.")
    username: str | None = Field(None, description="Integration user's login name.")
    password: SecretStr | None = Field(None, description="Integration user's password." + _SECRET)
    password_file: Path | None = Field(None, description="Path of a file holding password.")
    security_token: SecretStr | None = Field(
        None, description="Security token (SOAP username-password login)." + _SECRET)
    security_token_file: Path | None = Field(None, description="Path of a file holding security_token.")
    consumer_key: str | None = Field(None, description="Connected app consumer key (OAuth flows).")
    consumer_secret: SecretStr | None = Field(None, description="Connected app consumer secret." + _SECRET)
    consumer_secret_file: Path | None = Field(None, description="Path of a file holding consumer_secret.")
    private_key_file: Path | None = Field(None, description="PEM private key for the JWT bearer flow.")
    domain: str = Field("login", description="login, test, your My Domain (acme.my) or an https:// login URL.")
    ca_bundle: Path | None = Field(
        None, description="Extra CA file to trust (TLS-inspecting proxy); verification stays on.")
    api_version: str = Field("59.0", pattern=r"^\d{2,3}\.0$", description="REST API version, without the 'v'.")
    timeout_seconds: float = Field(30.0, gt=0, description="Give up on one HTTP call after this long.")
    max_concurrency: int = Field(
        4, ge=1, le=16, description="Write collections sent at once. Salesforce has no per-second limit; it caps "
                                    "concurrent requests running longer than 20 s (25 per org), which a "
                                    "200-record collection does not.")
    daily_reserve_share: float = Field(
        0.2, ge=0, lt=1, description="Share of the org's daily API allowance left for other integrations.")

    @field_validator("instance_url")
    @classmethod
    def _https_instance(cls, value: str | None) -> str | None:
        # simple-salesforce always builds https:// URLs (crm-api-facts §0.1): refuse others up front.
        if value is not None and not value.startswith("https://"):
            raise ValueError("must start with https://")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if "://" in value and not value.startswith("https://"):
            raise ValueError("a login URL must use https://")
        return value

    def credential_problems(self) -> list[tuple[str, str]]:
        """(key, what is wrong) when no way to log in is complete; [] when one is."""
        if bool(self.access_token) != bool(self.instance_url) and self._login_flow_or_none() is None:
            missing = "access_token" if not self.access_token else "instance_url"
            return [(missing, "access_token and instance_url go together")]
        try:
            self.auth_flow()
        except ConfigError as exc:
            return [(exc.key or "salesforce", str(exc).removeprefix(f"{_SOURCE}: ").removeprefix(f"{exc.key}: "))]
        return []

    def _login_flow_or_none(self) -> AuthFlow | None:
        try:
            return self.login_flow()
        except ConfigError:
            return None

    def secret_text(self, name: str) -> str:
        return self.secret(name) or ""

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
                "provider is salesforce but no way to log in is complete; give one of: access_token + "
                "instance_url | username + password + security_token | username + password + consumer_key + "
                "consumer_secret | username + consumer_key + private_key_file | consumer_key + consumer_secret",
                source=_SOURCE, key="salesforce")
        return flow

    @property
    def login_url(self) -> str:
        """Where tokens are issued: ``https://<domain>.salesforce.com`` unless a URL is given."""
        if self.domain.startswith("https://"):
            return self.domain.rstrip("/")
        return f"https://{self.domain}.salesforce.com"
