"""simple-salesforce and requests exceptions -> ``ErrorFacts``; nothing else is decided here.

``connector.retry.classify`` turns the facts into the error tree. What simple-salesforce raises
(facts §1 "Errors"): status >= 300 -> ``SalesforceError`` subclasses carrying ``.status`` and
``.content``, the parsed JSON error list ``[{"message", "errorCode", "fields"}]`` (facts §4);
a failed login -> ``SalesforceAuthenticationFailed(code, message)``; network trouble surfaces
as plain ``requests`` exceptions because the SDK retries nothing itself.
"""

from __future__ import annotations

import requests
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from connector.retry import ErrorFacts

PROVIDER = "salesforce"
TLS_UNTRUSTED = "CERTIFICATE_VERIFY_FAILED"
UNREADABLE_REPLY = "UNREADABLE_REPLY"
CONCURRENCY_LIMIT = "CONCURRENT_REQUEST_LIMIT"


def first_error(content: object) -> tuple[str | None, str | None]:
    """(errorCode, message) of a Salesforce error body: a JSON list, sometimes a dict or text."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode"), content[0].get("message")
    if isinstance(content, dict):
        return content.get("errorCode") or content.get("error"), (
            content.get("message") or content.get("error_description"))
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return None, (str(content)[:500] if content else None)


def facts_of(exc: BaseException, endpoint: str | None = None) -> ErrorFacts | None:
    """What a failed Salesforce call told us; None for exceptions that are bugs, not answers."""
    if isinstance(exc, SalesforceAuthenticationFailed):
        return _login_facts(exc, endpoint)
    if isinstance(exc, SalesforceError):
        code, message = first_error(exc.content)
        if code == "REQUEST_LIMIT_EXCEEDED" and (message or "").startswith("Concurrent"):
            # Same code, different limit: "ConcurrentPerOrgLongTxn Limit exceeded." is the cap on
            # long requests running at once, which frees up in seconds; only "TotalRequests" is the
            # daily allowance. Rendered as a rate limit so the one policy backs off and retries.
            # [DOC: https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm]
            return ErrorFacts(provider=PROVIDER, status=429, code=CONCURRENCY_LIMIT, endpoint=endpoint,
                              message=message or "concurrent request limit")
        return ErrorFacts(provider=PROVIDER, status=exc.status, code=code, endpoint=endpoint,
                          message=message or f"HTTP {exc.status} from {exc.url}")
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        # A 2xx whose body is not JSON (a proxy's HTML page): retrying will not make sense of it.
        return ErrorFacts(provider=PROVIDER, code=UNREADABLE_REPLY, endpoint=endpoint,
                          message=f"reply is not JSON: {exc}")
    if isinstance(exc, requests.exceptions.Timeout):
        return ErrorFacts(provider=PROVIDER, timeout=True, endpoint=endpoint, message=str(exc))
    if isinstance(exc, requests.exceptions.SSLError) and TLS_UNTRUSTED in str(exc):
        # An untrusted certificate does not heal with retries; the admin must set ca_bundle.
        return ErrorFacts(provider=PROVIDER, code=TLS_UNTRUSTED, endpoint=endpoint,
                          message="TLS certificate not trusted; set ca_bundle to the CA that signed it "
                                  f"({exc})")
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return ErrorFacts(provider=PROVIDER, transport=True, endpoint=endpoint, message=str(exc))
    return None


def _login_facts(exc: SalesforceAuthenticationFailed, endpoint: str | None) -> ErrorFacts:
    # simple-salesforce puts the HTTP status in ``code`` when the token reply was not JSON
    # (login.token_login), e.g. a 503 page: that is an outage, not bad credentials.
    if isinstance(exc.code, int) and exc.code != 401:
        return ErrorFacts(provider=PROVIDER, status=exc.code, endpoint=endpoint,
                          message=f"login failed with HTTP {exc.code}: {exc.auth_message[:300]}")
    return ErrorFacts(provider=PROVIDER, status=401, code=str(exc.code) if exc.code else None,
                      endpoint=endpoint, message=f"login refused: {exc.auth_message}")
