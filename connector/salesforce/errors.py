"""simple-salesforce and requests exceptions -> ``ErrorFacts``; nothing else is decided here.

``connector.retry.classify`` turns the facts into the error tree. What simple-salesforce raises
(facts §1 "Errors"): status >= 300 -> ``SalesforceError`` subclasses carrying ``.status`` and
``.content``, the parsed JSON error list ``[{"message", "errorCode", "fields"}]`` (facts §4);
a failed login -> ``SalesforceAuthenticationFailed(code, message)``; network trouble surfaces
as plain ``requests`` exceptions because the SDK retries nothing itself.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree

import requests
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from connector.retry import ErrorFacts
from connector.salesforce.auth import LoginAnswer
from connector.tls import tls_problem

PROVIDER = "salesforce"
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
    if isinstance(exc, LoginAnswer):
        return _login_answer_facts(exc, endpoint)
    if isinstance(exc, SalesforceAuthenticationFailed):
        return _login_facts(exc, endpoint)
    if isinstance(exc, SalesforceError):
        code, message = first_error(exc.content)
        return _answer_facts(exc.status, code, message or f"HTTP {exc.status} from {exc.url}", endpoint)
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        # A 2xx whose body is not JSON (a proxy's HTML page): retrying will not make sense of it.
        return ErrorFacts(provider=PROVIDER, code=UNREADABLE_REPLY, endpoint=endpoint,
                          message=f"reply is not JSON: {exc}")
    if isinstance(exc, requests.exceptions.Timeout):
        return ErrorFacts(provider=PROVIDER, timeout=True, endpoint=endpoint, message=str(exc))
    problem = tls_problem(exc) if isinstance(exc, requests.exceptions.SSLError) else None
    if problem is not None:
        # A certificate that cannot be verified does not heal with retries: say why, and what fixes it.
        return ErrorFacts(provider=PROVIDER, code=problem.code, endpoint=endpoint, message=problem.message)
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return ErrorFacts(provider=PROVIDER, transport=True, endpoint=endpoint, message=str(exc))
    return None


def _answer_facts(status: int | None, code: str | None, message: str, endpoint: str | None, *,
                  login: bool = False, retry_after: float | None = None, prefix: str = "") -> ErrorFacts:
    concurrency = code == "REQUEST_LIMIT_EXCEEDED" and message.startswith("Concurrent")
    message = prefix + message
    if concurrency:
        # Same code, different limit: "ConcurrentPerOrgLongTxn Limit exceeded." is the cap on
        # long requests running at once, which frees up in seconds; only "TotalRequests" is the
        # daily allowance. Rendered as a rate limit so the one policy backs off and retries.
        # [DOC: https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm]
        return ErrorFacts(provider=PROVIDER, status=429, code=CONCURRENCY_LIMIT, endpoint=endpoint,
                          message=message, login=login, retry_after=retry_after)
    return ErrorFacts(provider=PROVIDER, status=status, code=code, endpoint=endpoint, message=message, login=login,
                      retry_after=retry_after)


def _login_answer_facts(exc: LoginAnswer, endpoint: str | None) -> ErrorFacts:
    """A login endpoint's answer, whatever shape its body has: the token endpoint's
    ``{"error", "error_description"}``, a SOAP fault (HTTP 500 with ``sf:exceptionCode``, even
    for a wrong password), the REST error list, or a proxy's page."""
    if exc.status == 200:
        return ErrorFacts(provider=PROVIDER, status=200, code=UNREADABLE_REPLY, endpoint=endpoint, login=True,
                          message=f"the login answer from {exc.url} carries no session")
    code, message = _login_body(exc.body)
    wait = (exc.retry_after or "").strip()
    retry_after = float(wait) if wait.isdigit() else None
    return _answer_facts(exc.status, code, message or "no message", endpoint, login=True, retry_after=retry_after,
                         prefix=f"login failed with HTTP {exc.status}: ")


def _login_body(body: bytes) -> tuple[str | None, str | None]:
    try:
        return first_error(json.loads(body))
    except ValueError:
        pass
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return first_error(body)
    values = {element.tag.rsplit("}", 1)[-1]: (element.text or "").strip() for element in root.iter()}
    code = values.get("exceptionCode") or values.get("faultcode", "").removeprefix("sf:") or None
    return code, values.get("exceptionMessage") or values.get("faultstring") or None


def _login_facts(exc: SalesforceAuthenticationFailed, endpoint: str | None) -> ErrorFacts:
    # simple-salesforce puts the HTTP status in ``code`` when the token reply was not JSON
    # (login.token_login), e.g. a 503 page: that is an outage, not bad credentials.
    if isinstance(exc.code, int) and exc.code != 401:
        return ErrorFacts(provider=PROVIDER, status=exc.code, endpoint=endpoint, login=True,
                          message=f"login failed with HTTP {exc.code}: {exc.auth_message[:300]}")
    return ErrorFacts(provider=PROVIDER, status=401, code=str(exc.code) if exc.code else None,
                      endpoint=endpoint, login=True, message=f"login refused: {exc.auth_message}")
