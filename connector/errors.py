"""The error tree. Each class is named for what the caller does next.

::

    AfterCloseError
    ├── ConfigError              fix the config or mapping file; nothing was written   (exit 2)
    │   └── SchemaError          the mapping does not fit the live CRM schema          (exit 2)
    ├── LockHeldError            another run holds the lock; try later                 (exit 3)
    ├── ReadsNotSettled          the CRM's reads may not show a task made moments ago yet, and
    │                            waiting is longer than the run may: defer those deals
    └── CrmError                 the CRM said no (provider, status, correlation id)
        ├── RetriableError       try again after a backoff (5xx, timeouts, dropped connections)
        │   └── RateLimitedError     wait ``retry_after`` seconds, then try again (429)
        ├── AuthError            credentials are wrong, expired or lack a permission   (exit 2)
        ├── QuotaExhaustedError  daily allowance (or AfterClose's share) spent: stop cleanly,
        │                        keep the cursor, resume next run
        └── FatalCrmError        a request AfterClose should not have sent (a bug) or a reply
            │                    it cannot understand: stop, report, keep the cursor
            ├── PagingError      a paginator that would loop or truncate (repeated cursor,
            │                    ``done=false`` without ``nextRecordsUrl``)
            └── TlsError         the CRM's certificate cannot be verified: a set-up problem
                                 (unknown CA, another host's, expired), never retried    (exit 2)

A record the CRM refuses inside an otherwise good batch is *not* an exception: adapters return
it as an ``ActionResult`` with ``Outcome.REJECTED`` and the CRM's message, and the rest of the
batch goes on.

Only ``connector/retry.py`` turns SDK exceptions and HTTP statuses into these classes.
"""

from __future__ import annotations


class AfterCloseError(Exception):
    """Base of every error AfterClose raises on purpose. The exit code each kind earns is decided
    in one place, jobs/cli/exits.py."""


class ConfigError(AfterCloseError):
    """A user-editable file or setting is wrong. ``source`` names the file, ``key`` the entry."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None):
        self.source = source
        self.key = key
        where = ": ".join(part for part in (source, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class SchemaError(ConfigError):
    """Mapped fields that do not exist, have the wrong type, or cannot be written."""

    def __init__(self, problems: list[str], *, source: str | None = None):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"mapping does not fit the CRM schema:\n{lines}", source=source)


class LockHeldError(AfterCloseError):
    """Another run of the same scope holds the lock."""


class ReadsNotSettled(AfterCloseError):
    """A lookup that must not miss a task made moments ago cannot be trusted before
    ``seconds_left`` have passed (HubSpot without unique task keys: docs/hubspot-adapter.md).
    Not a failure: the deals concerned are left for the next run, with the cursor before them."""

    def __init__(self, message: str, *, seconds_left: float):
        self.seconds_left = seconds_left
        super().__init__(message)


class CrmError(AfterCloseError):
    """The CRM refused or failed a call."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        endpoint: str | None = None,
        correlation_id: str | None = None,
        error_code: str | None = None,
    ):
        self.provider = provider
        self.status = status
        self.endpoint = endpoint
        self.correlation_id = correlation_id
        self.error_code = error_code
        detail = ", ".join(
            f"{name}={value}"
            for name, value in (
                ("provider", provider),
                ("status", status),
                ("endpoint", endpoint),
                ("code", error_code),
                ("correlation_id", correlation_id),
            )
            if value is not None
        )
        super().__init__(f"{message} ({detail})" if detail else message)


class RetriableError(CrmError):
    """A transient failure: the same call may succeed after a backoff."""


class RateLimitedError(RetriableError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class AuthError(CrmError):
    """Credentials are wrong, expired, or lack a permission."""


class QuotaExhaustedError(CrmError):
    """The allowance AfterClose may spend is gone; stop cleanly and resume on the next run."""


class FatalCrmError(CrmError):
    """Not worth retrying: the request was wrong or the answer made no sense."""


class PagingError(FatalCrmError):
    """A paginator refused to loop forever or to stop early."""


class TlsError(FatalCrmError):
    """The server's TLS certificate cannot be verified (connector/tls.py says why): fixed by
    set-up (a CA file, the right URL, a renewed certificate), not by waiting."""
