"""The one classification table and the one retry policy (connector/retry.py)."""

from __future__ import annotations

import pytest

from connector.errors import (
    AuthError,
    FatalCrmError,
    QuotaExhaustedError,
    RateLimitedError,
    RetriableError,
)
from connector.retry import ErrorFacts, RetrySettings, call_classified, classify


def facts(**kw) -> ErrorFacts:
    return ErrorFacts(provider="test", message="boom", **kw)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (facts(transport=True), RetriableError),
        (facts(timeout=True), RetriableError),
        (facts(status=429, retry_after=3.0), RateLimitedError),
        (facts(status=429, code="DAILY"), QuotaExhaustedError),
        (facts(status=403, code="REQUEST_LIMIT_EXCEEDED"), QuotaExhaustedError),
        (facts(status=401, code="INVALID_SESSION_ID"), AuthError),
        (facts(status=403, code="MISSING_SCOPES"), AuthError),
        (facts(status=500), RetriableError),
        (facts(status=503), RetriableError),
        (facts(status=400, code="MALFORMED_QUERY"), FatalCrmError),
        (facts(status=404), FatalCrmError),
    ],
)
def test_given_error_facts_then_class_says_what_to_do_next(given, expected):
    error = classify(given)
    assert type(error) is expected
    assert error.provider == "test"


def test_given_rate_limit_then_retry_after_is_kept_and_honoured():
    error = classify(facts(status=429, retry_after=7.5, correlation_id="abc"))
    assert isinstance(error, RateLimitedError) and error.retry_after == 7.5
    assert "correlation_id=abc" in str(error)


class Flaky:
    """Fails with the given exceptions, then succeeds."""

    def __init__(self, *failures: Exception):
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


class SdkBoom(Exception):
    def __init__(self, status: int, retry_after: float | None = None):
        self.status, self.retry_after = status, retry_after


def sdk_facts(exc: BaseException) -> ErrorFacts | None:
    if isinstance(exc, SdkBoom):
        return facts(status=exc.status, retry_after=exc.retry_after)
    return None


def test_given_transient_failures_when_called_then_retried_until_success():
    fn, slept = Flaky(SdkBoom(503), SdkBoom(429, retry_after=2.0)), []
    assert call_classified(fn, sdk_facts, RetrySettings(attempts=3), sleep=slept.append) == "ok"
    assert fn.calls == 3
    assert slept[1] == 2.0  # the server's Retry-After, not our own backoff


def test_given_retry_after_longer_than_cap_then_wait_is_capped():
    fn, slept = Flaky(SdkBoom(429, retry_after=600.0)), []
    call_classified(fn, sdk_facts, RetrySettings(max_seconds=30.0), sleep=slept.append)
    assert slept == [30.0]


def test_given_fatal_error_then_not_retried():
    fn = Flaky(SdkBoom(400))
    with pytest.raises(FatalCrmError):
        call_classified(fn, sdk_facts, RetrySettings(attempts=5), sleep=lambda s: None)
    assert fn.calls == 1


def test_given_persistent_outage_then_gives_up_after_attempts_with_classified_error():
    fn = Flaky(*[SdkBoom(500)] * 10)
    with pytest.raises(RetriableError) as raised:
        call_classified(fn, sdk_facts, RetrySettings(attempts=4), sleep=lambda s: None)
    assert fn.calls == 4
    assert isinstance(raised.value.__cause__, SdkBoom)


def test_given_unknown_exception_then_it_propagates_unchanged():
    fn = Flaky(KeyError("bug"))
    with pytest.raises(KeyError):
        call_classified(fn, sdk_facts, RetrySettings(), sleep=lambda s: None)


def test_given_waits_then_observer_sees_each_with_its_error():
    seen = []
    fn = Flaky(SdkBoom(429, retry_after=1.0), SdkBoom(502))
    call_classified(fn, sdk_facts, RetrySettings(), sleep=lambda s: None,
                    on_wait=lambda err, secs: seen.append((type(err).__name__, secs)))
    assert [name for name, _ in seen] == ["RateLimitedError", "RetriableError"]
    assert seen[0][1] == 1.0
