"""What every sandbox route shares: counting, latency, faults, auth, the daily cap, error rendering.

Order per call: count it (Controls, one label per route) -> injected fault -> API version ->
session -> daily limit -> handler -> the rest of the latency (``Controls.wait_out_latency``).
Every ``/services/data`` response carries
``Sforce-Limit-Info: api-usage=N/MAX`` (facts §4; simple-salesforce parses it into ``sf.api_usage``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..controls import FaultKind, FaultRule
from . import versions
from .errors import ApiError, invalid_session, request_limit_exceeded

DEFAULT_DAILY_MAX = 100_000  # shown in the header when no cap is set (an Enterprise org's order of size)


def json_response(data, status: int = 200) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json;charset=UTF-8")


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status)


class CutResponse(Response):
    """Starts a 200 answer, then drops the connection: the client sees a broken transfer and cannot
    tell whether the request was carried out (DROP_BEFORE / DROP_AFTER)."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json;charset=UTF-8"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"totalSize":', "more_body": True})
        # Returning without finishing the body makes the server close the socket.


class ApiUsage:
    """The org's rolling 24-hour API request count (the sandbox never rolls it over)."""

    def __init__(self, daily_limit: int | None):
        self.daily_limit = daily_limit
        self.used = 0
        self._lock = threading.Lock()

    @property
    def max(self) -> int:
        return self.daily_limit if self.daily_limit is not None else DEFAULT_DAILY_MAX

    def admit(self) -> bool:
        with self._lock:
            if self.daily_limit is not None and self.used >= self.daily_limit:
                return False
            self.used += 1
            return True

    def header(self) -> str:
        return f"api-usage={self.used}/{self.max}"


def fault_response(sb, rule: FaultRule) -> Response:
    """An injected failure in Salesforce's own shapes (facts §4)."""
    if rule.kind == FaultKind.SERVER_ERROR:
        if sb.server_error_status == 503:
            return error_response(ApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable"))
        return error_response(ApiError(500, "UNKNOWN_EXCEPTION",
                                       "An unexpected error occurred. Please include this ErrorId if you contact "
                                       "support: 1234567890-12345 (-1234567890)"))
    if rule.kind == FaultKind.EXPIRED_AUTH:
        return error_response(invalid_session())
    if rule.kind == FaultKind.RATE_LIMIT:
        # Salesforce has no 429 for REST: concurrency caps are also 403 REQUEST_LIMIT_EXCEEDED.
        return error_response(request_limit_exceeded("ConcurrentPerOrgLongTxn Limit exceeded."))
    return error_response(request_limit_exceeded())


Handler = Callable[..., Awaitable[Response]]


def route(sb, labels: dict[str, str], handler: Handler, *, data_api: bool = True):
    """A Starlette endpoint around ``handler(sb, request, session, version)`` (data API) or
    ``handler(sb, request)`` (login endpoints)."""

    async def endpoint(request: Request) -> Response:
        arrived = time.monotonic()
        label = labels[request.method]
        controls = sb.controls
        controls.record_call(label)
        response = await _respond(sb, request, handler, data_api, label)
        await controls.wait_out_latency(arrived)
        return response

    return endpoint


async def _respond(sb, request: Request, handler: Handler, data_api: bool, label: str) -> Response:
    controls = sb.controls
    rule = controls.next_fault(label)
    if rule is not None and rule.kind == FaultKind.SLOW:
        await asyncio.sleep(rule.seconds)
        rule = None
    if rule is not None and rule.kind == FaultKind.DROP_BEFORE:
        return CutResponse()
    if rule is not None and rule.kind != FaultKind.DROP_AFTER:
        response = fault_response(sb, rule)
    else:
        response = await _answer(sb, request, handler, data_api)
    if data_api:
        response.headers["Sforce-Limit-Info"] = sb.usage.header()
    if rule is not None and rule.kind == FaultKind.DROP_AFTER:
        return CutResponse()
    return response


async def _answer(sb, request: Request, handler: Handler, data_api: bool) -> Response:
    try:
        if not data_api:
            return await handler(sb, request)
        version = versions.resolve(request.path_params["apiversion"], sb.api_version)
        session = sb.sessions.check(request.headers.get("authorization"))
        if session is None:
            raise invalid_session()
        if not sb.usage.admit():
            raise request_limit_exceeded()
        return await handler(sb, request, session, version)
    except ApiError as error:
        return error_response(error)
    except Exception:  # a sandbox bug: answer like Salesforce's own 500, and say so in the log
        logging.getLogger(__name__).exception("salesforce sandbox: unhandled error in %s", request.url.path)
        return error_response(ApiError(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred (sandbox bug)"))


async def read_json(request: Request):
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None
