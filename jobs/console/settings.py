"""``[console]``: the admin console's section of the config file (jobs/config.py declares it once,
with the others). Off unless enabled; bound to the loopback address unless told otherwise.

Who may sign in: whoever holds the admin token (changes mappings and playbooks) or the viewer token
(reads everything, changes nothing), each read from the environment or a ``*_file`` like every
secret; or whoever a trusted reverse proxy names in ``proxy_user_header`` (docs/console.md).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from connector.settings import Section, problem

MIN_TOKEN_LENGTH = 16
"""A token shorter than this can be guessed; `openssl rand -hex 24` makes a good one."""


class ConsoleSection(Section):
    enabled: bool = Field(False, description="`afterclose serve` serves the admin console too (docs/console.md).")
    host: str = Field("127.0.0.1", description="Address the console listens on; keep the loopback address unless "
                                               "a reverse proxy or a private network is in front of it.")
    port: int = Field(8001, ge=1, le=65535, description="Port the console listens on.")
    admin_token: SecretStr | None = Field(
        None, description="Token that signs in with the right to change mappings and playbooks. Secret: prefer the "
                          "environment or admin_token_file.",
    )
    admin_token_file: Path | None = Field(None, description="Path of a file holding admin_token.")
    viewer_token: SecretStr | None = Field(
        None, description="Token that signs in read-only: every page, no change. Secret: prefer the environment or "
                          "viewer_token_file.",
    )
    viewer_token_file: Path | None = Field(None, description="Path of a file holding viewer_token.")
    proxy_user_header: str | None = Field(
        None, description="Header in which a trusted reverse proxy names the signed-in user (e.g. X-Forwarded-User); "
                          "unset: only tokens sign in.",
    )
    proxy_admins: tuple[str, ...] = Field(
        (), description="Users named by the proxy header who may change mappings and playbooks; the others read only.",
    )
    trusted_proxies: tuple[str, ...] = Field(
        ("127.0.0.1", "::1"), description="Addresses whose proxy header is believed; from any other, it is ignored.",
    )
    session_hours: float = Field(12, gt=0, le=24 * 30, description="A sign-in lasts this long.")

    @field_validator("proxy_user_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("-", "").isalnum():
            raise ValueError("a header name is letters, digits and dashes, e.g. X-Forwarded-User")
        return value or None

    @model_validator(mode="after")
    def _tokens(self) -> ConsoleSection:
        for name in ("admin_token", "viewer_token"):
            value = self.secret(name)
            if value is not None and len(value) < MIN_TOKEN_LENGTH:
                raise problem(name, f"is shorter than {MIN_TOKEN_LENGTH} characters, easy to guess; make one with "
                                    "`openssl rand -hex 24`")
        if self.admin_token is not None and self.secret("admin_token") == self.secret("viewer_token"):
            raise problem("viewer_token", "is the admin token: the two roles could not be told apart")
        if self.enabled and self.admin_token is None and self.proxy_user_header is None:
            raise problem("enabled", "the console needs a way to sign in: set admin_token (or admin_token_file, or "
                                     "AFTERCLOSE_CONSOLE__ADMIN_TOKEN), or proxy_user_header behind a reverse proxy")
        return self
