"""hubspot-api-client and urllib3 exceptions -> ``ErrorFacts``; ``connector.retry`` decides the rest.

This is the only place that looks inside an SDK exception. Two SDK quirks shape it:
- every sub-package (crm.deals, crm.objects.tasks, crm.properties, ...) defines its own
  ``ApiException`` class, so an ``except deals.ApiException`` misses a task error. We duck-type
  on the attributes every one of them has (``status``, ``reason``, ``body``, ``headers``) and on
  the module being the SDK's (facts §0.4);
- with its urllib3 retry disabled the SDK lets urllib3 errors through (connection refused,
  reset, read timeout). Those carry no HTTP answer: transport or timeout (facts §0.5).

HubSpot's error body is JSON: ``{"status":"error","message":..,"correlationId":..,"category":..,
"policyName":..}`` (https://developers.hubspot.com/docs/api-reference/error-handling); a 429
adds ``Retry-After`` and names the limit in ``policyName`` (DAILY, SECONDLY,
TEN_SECONDLY_ROLLING: facts §3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import urllib3.exceptions as u3

from connector.retry import ErrorFacts
from connector.tls import tls_problem

PROVIDER = "hubspot"
_TEN_SECONDS = 10.0


def facts_of(exc: BaseException, *, endpoint: str | None = None) -> ErrorFacts | None:
    """What a failed SDK call told us; None for an exception that is not the SDK's (a bug)."""
    if _is_sdk_api_exception(exc):
        return _api_exception_facts(exc, endpoint)
    if isinstance(exc, u3.MaxRetryError):
        return _transport_facts(exc.reason or exc, endpoint)
    if isinstance(exc, u3.HTTPError):
        return _transport_facts(exc, endpoint)
    return None


def _is_sdk_api_exception(exc: BaseException) -> bool:
    return (
        type(exc).__module__.startswith("hubspot.")
        and hasattr(exc, "status")
        and hasattr(exc, "body")
    )


def _transport_facts(exc: BaseException, endpoint: str | None) -> ErrorFacts:
    problem = tls_problem(exc)
    if problem is not None:
        # A certificate that cannot be verified does not heal with retries: say why, and what fixes it.
        return ErrorFacts(provider=PROVIDER, code=problem.code, endpoint=endpoint, message=problem.message)
    timeout = isinstance(exc, u3.TimeoutError) and not isinstance(exc, u3.NewConnectionError)
    return ErrorFacts(
        provider=PROVIDER, message=f"{type(exc).__name__}: {exc}", endpoint=endpoint,
        transport=not timeout, timeout=timeout,
    )


def _api_exception_facts(exc: Any, endpoint: str | None) -> ErrorFacts:
    status = exc.status or None
    if status is None:
        # The SDK raises ApiException(status=0) for TLS failures (rest.py) and for answers it
        # cannot deserialize: neither is an HTTP answer we can reason about.
        problem = tls_problem(exc) or tls_problem(Exception(str(exc.reason)))
        if problem is not None:
            return ErrorFacts(provider=PROVIDER, code=problem.code, endpoint=endpoint, message=problem.message)
        return ErrorFacts(provider=PROVIDER, message=str(exc.reason), endpoint=endpoint, transport=True)
    body = parse_body(exc.body)
    headers = exc.headers or {}
    message = str(body.get("message") or exc.reason or f"HTTP {status}")
    return ErrorFacts(
        provider=PROVIDER,
        message=message,
        status=status,
        code=_code(body),
        retry_after=_retry_after(status, body, headers),
        correlation_id=body.get("correlationId"),
        endpoint=endpoint,
    )


def parse_body(raw: Any) -> dict[str, Any]:
    """HubSpot's JSON error body as a dict ({} when absent or not JSON)."""
    if raw is None:
        return {}
    if isinstance(raw, bytes | bytearray):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def _code(body: Mapping[str, Any]) -> str | None:
    # A 429's policyName (DAILY / SECONDLY / TEN_SECONDLY_ROLLING) says more than its category
    # (RATE_LIMITS); retry.py treats DAILY as "quota spent for today".
    policy = body.get("policyName")
    return str(policy) if policy else (body.get("category") or body.get("errorType"))


def _retry_after(status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> float | None:
    if status != 429:
        return None
    value = header(headers, "Retry-After")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass  # an HTTP-date Retry-After: fall through to the policy default
    interval = header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval is not None and interval.isdigit():
        return int(interval) / 1000
    if body.get("policyName") == "TEN_SECONDLY_ROLLING":
        # No header: wait out the window, as connectors do (singer-io/tap-hubspot PR 93).
        return _TEN_SECONDS
    return None


def header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


