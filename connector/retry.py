"""One error classification and one retry policy for every CRM call.

Adapters do not decide what an error means. Each vendor module turns an SDK exception into
plain ``ErrorFacts`` (status, vendor code, Retry-After, correlation id); ``classify`` below is
the one table that maps facts to the error tree in ``connector.errors``; ``retrying`` is the one
tenacity policy built from a frozen ``RetrySettings`` value.

Why retrying writes is safe here: every AfterClose write is idempotent by construction (tasks are
upserted or created under a unique idempotency key, record updates set absolute values), so a
retry after a lost response cannot duplicate anything. The one exception, a HubSpot task create
where the portal does not enforce unique task keys, narrows the policy with ``retry_if`` to what
provably did nothing (rate limits) and settles the rest itself (connector/hubspot/creates.py).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity
from pydantic import Field, model_validator

from connector import redaction, tls
from connector.errors import (
    AuthError,
    CrmError,
    FatalCrmError,
    QuotaExhaustedError,
    RateLimitedError,
    RetriableError,
    TlsError,
)
from connector.settings import Section, problem

T = TypeVar("T")


class RetrySettings(Section):
    """How CRM calls are retried; also the config file's ``[retry]`` section (jobs/config.py)."""

    attempts: int = Field(6, ge=1, le=20, description="Tries per CRM call, the first included.")
    base_seconds: float = Field(0.5, gt=0, description="First backoff; doubles each try, with full jitter.")
    max_seconds: float = Field(
        30.0, gt=0, description="Cap on one backoff and on a Retry-After AfterClose is willing to honour.")

    @model_validator(mode="after")
    def _base_within_max(self) -> RetrySettings:
        if self.base_seconds > self.max_seconds:
            raise problem("base_seconds", "must not be above retry.max_seconds")
        return self


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorFacts:
    """What a failed call told us, independent of which SDK raised it."""

    provider: str
    message: str
    status: int | None = None
    code: str | None = None
    """The vendor's error code or policy (INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED, DAILY...)."""
    retry_after: float | None = None
    correlation_id: str | None = None
    endpoint: str | None = None
    transport: bool = False
    """No usable HTTP answer: connection refused/reset, truncated response, TLS failure."""
    timeout: bool = False
    login: bool = False
    """The answer of a login (token) endpoint rather than of a data call."""


# Vendor codes that mean "the allowance is gone for today", whatever the status says.
# Salesforce answers 403 REQUEST_LIMIT_EXCEEDED for the org's daily cap (facts §4);
# HubSpot answers 429 with policyName DAILY (facts §3).
_QUOTA_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "DAILY"})
# Transient failures on the server's side: the same request may succeed after a backoff
# (408 request timeout, 5xx). Every other 4xx is the request's own fault and is not retried.
_RETRIABLE_STATUSES = frozenset({408, 500, 502, 503, 504})
# Vendor codes of a server in trouble rather than of a refusal (Salesforce's 500 and 503 bodies;
# facts §4). A login answer naming any other code is a refusal, whatever its status: SOAP faults
# are HTTP 500, a wrong password included.
_TRANSIENT_CODES = frozenset({"UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE"})


SECRET_MASK = redaction.MASK


def without_secrets(facts: ErrorFacts | None, secrets: Iterable[str | None]) -> ErrorFacts | None:
    """The same facts with every secret value masked in their text.

    A CRM, or a proxy in front of it, may echo a credential back: in an error message, a URL, a
    copy of the request body (an OAuth token request carries the client secret and the refresh
    token), escaped as that body was (connector/redaction.py masks every such form). Error
    messages end up in exception text, run history and logs, so they are cleaned here, where they
    are made, rather than everywhere they might be shown.
    """
    if facts is None:
        return None
    searched = redaction.searched_forms(secrets)

    def clean(text: str | None) -> str | None:
        return redaction.mask(text, searched) if text else text

    return dataclasses.replace(facts, message=clean(facts.message) or "", code=clean(facts.code),
                               correlation_id=clean(facts.correlation_id), endpoint=clean(facts.endpoint))


def classify(facts: ErrorFacts) -> CrmError:
    """The one table: facts -> the error class that tells the caller what to do next."""
    common: dict[str, Any] = dict(
        provider=facts.provider, status=facts.status, endpoint=facts.endpoint,
        correlation_id=facts.correlation_id, error_code=facts.code,
    )
    if facts.code in tls.CODES:
        return TlsError(facts.message, **common)
    if facts.transport or facts.timeout:
        kind = "timed out" if facts.timeout else "connection failed"
        return RetriableError(f"{kind}: {facts.message}", **common)
    if facts.code in _QUOTA_CODES:
        return QuotaExhaustedError(facts.message, **common)
    if facts.status == 429:
        return RateLimitedError(facts.message, retry_after=facts.retry_after, **common)
    if facts.login and _refused_login(facts):
        # Never retried: each retry of a refused login counts towards the user's lockout.
        return AuthError(facts.message, **common)
    if facts.status in (401, 403):
        return AuthError(facts.message, **common)
    if facts.status in _RETRIABLE_STATUSES:
        return RetriableError(facts.message, **common)
    return FatalCrmError(facts.message, **common)


def _refused_login(facts: ErrorFacts) -> bool:
    """A login answer that refuses these credentials (or this flow), rather than a login server
    that is busy or down: a 4xx, or any status with a vendor code that is not a transient one."""
    if facts.status is None or facts.status < 400:
        return False
    if facts.code is not None:
        return facts.code not in _TRANSIENT_CODES
    return facts.status not in _RETRIABLE_STATUSES


def _backoff(settings: RetrySettings) -> Callable[[tenacity.RetryCallState], float]:
    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            # The server said how long; waiting less only earns another 429.
            return min(max(error.retry_after, 0.0), settings.max_seconds)
        ceiling = min(settings.max_seconds, settings.base_seconds * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)  # full jitter: replicas do not retry in lockstep

    return wait


def retrying(
    settings: RetrySettings,
    *,
    on_wait: Callable[[CrmError, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retry_if: Callable[[RetriableError], bool] | None = None,
) -> tenacity.Retrying:
    """The policy: retry ``RetriableError`` (incl. rate limits) up to ``settings.attempts``.
    ``retry_if`` narrows which of them are retried (the rest propagate at once)."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if on_wait and isinstance(error, CrmError) and state.next_action:
            on_wait(error, state.next_action.sleep)

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.attempts),
        wait=_backoff(settings),
        retry=tenacity.retry_if_exception(
            lambda exc: isinstance(exc, RetriableError) and (retry_if is None or retry_if(exc))),
        reraise=True,
        sleep=sleep,
        before_sleep=before_sleep,
    )


def call_classified(
    fn: Callable[[], T],
    facts_of: Callable[[BaseException], ErrorFacts | None],
    settings: RetrySettings,
    *,
    on_wait: Callable[[CrmError, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retry_if: Callable[[RetriableError], bool] | None = None,
) -> T:
    """Run ``fn`` under the policy; SDK exceptions are classified through ``facts_of``.

    An exception ``facts_of`` does not recognise is a bug and propagates unchanged.
    """

    def attempt() -> T:
        try:
            return fn()
        except CrmError:
            raise
        except Exception as exc:
            facts = facts_of(exc)
            if facts is None:
                raise
            raise classify(facts) from exc

    return retrying(settings, on_wait=on_wait, sleep=sleep, retry_if=retry_if)(attempt)
