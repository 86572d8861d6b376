"""What happens to every request before and after its handler: counting, latency, auth, injected
faults, rate limits, and the headers HubSpot puts on every reply.

Order: count -> auth (401) -> injected fault -> rate limits (429) -> handler; the response starts
once ``latency`` has passed since the request arrived (``Controls.wait_out_latency``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from starlette.routing import Match, Route

from connector.sandbox.controls import Controls, FaultKind, FaultRule
from connector.sandbox.hubspot.errors import correlation_id, error_body
from connector.sandbox.hubspot.limits import RateLimits, Refusal, seconds_to_utc_midnight
from connector.sandbox.hubspot.schema import object_type

_SERVER_ERROR_STATUSES = (500, 502, 503)
_TYPE_PARAMS = ("objectType", "fromObjectType", "toObjectType")


class DroppedConnection(Exception):
    """Raised after a partial response so the server cuts the connection mid-body."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def endpoint_label(routes: list[Route], scope: dict) -> str | None:
    """``POST /crm/v3/objects/deals/search``: the route's template with object types filled in."""
    for route in routes:
        match, child = route.matches(scope)
        if match == Match.FULL:
            params = child.get("path_params", {})
            label = route.name
            for key in _TYPE_PARAMS:
                kind = object_type(str(params.get(key, ""))) if key in params else None
                if kind is not None:
                    label = label.replace("{" + key + "}", kind.name)
            return label
    return None


async def send_json(send, status: int, body: dict | None, headers: dict[str, str] | None = None) -> None:
    payload = b"" if body is None else json.dumps(body).encode()
    raw = [(b"content-type", b"application/json;charset=utf-8"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def _cut(send) -> None:
    """Promise a body, deliver part of it, then drop the connection: the client sees a transport
    error (urllib3 ProtocolError / IncompleteRead), never a status it could act on."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json;charset=utf-8"), (b"content-length", b"4096")]})
    await send({"type": "http.response.body", "body": b'{"status":"COMPL', "more_body": True})
    raise DroppedConnection()


async def _buffered(receive):
    """Read the whole request body now; hand it to the handler later as if it were arriving."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def again():
        return replay.pop() if replay else {"type": "http.disconnect"}

    return again


class Gate:
    def __init__(self, app, routes: list[Route], *, token: str, controls: Controls, limits: RateLimits):
        self.app, self.routes, self.token = app, routes, token
        self.controls, self.limits = controls, limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        label = endpoint_label(self.routes, scope)
        if label is None:
            # A HubSpot endpoint the sandbox does not serve is a plain 404 that says so
            # (docs/hubspot-api-notes.md, "Not modelled"), never a made-up answer.
            body = error_body(f"No route for {scope['method']} {scope['path']}: not supported by this sandbox",
                              "OBJECT_NOT_FOUND")
            return await send_json(send, 404, body)
        self.controls.record_call(label)
        send = self._after_latency(send, arrived=time.monotonic())
        if not self._authorized(scope):
            return await self._unauthorized(send, "Authentication credentials not found. This API supports "
                                            "OAuth 2.0 authentication and you can find more details at "
                                            "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
        fault = self.controls.next_fault(label)
        if fault is not None and fault.kind == FaultKind.SLOW:
            # The request has arrived in full; a server carries it out even if the client gives
            # up waiting (stricter reading: HubSpot does not say it aborts work on a disconnect).
            receive = await _buffered(receive)
        if fault is not None:
            handled = await self._fault(fault, send)
            if handled == "done":
                return
            if handled == "drop_after":
                return await self._run_then_cut(scope, receive, send)
        is_search = label.endswith("/search")
        refusal = self.limits.admit(is_search=is_search)
        if refusal is not None:
            return await self._too_many(send, refusal, is_search)
        await self.app(scope, receive, self._with_headers(send, is_search))

    def _after_latency(self, send, *, arrived: float):
        """``send`` that starts the response only once ``latency`` has passed since arrival."""
        async def delayed(message) -> None:
            if message["type"] == "http.response.start":
                await self.controls.wait_out_latency(arrived)
            await send(message)

        return delayed

    def _authorized(self, scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return value.decode("latin-1") == f"Bearer {self.token}"
        return False

    async def _unauthorized(self, send, message: str) -> None:
        # 401 INVALID_AUTHENTICATION [DOC: https://developers.hubspot.com/docs/api-reference/error-handling]
        await send_json(send, 401, error_body(message, "INVALID_AUTHENTICATION"),
                        {"X-HubSpot-Correlation-Id": correlation_id()})

    async def _too_many(self, send, refusal: Refusal, is_search: bool) -> None:
        headers = refusal.headers() | self.limits.headers(is_search=is_search)
        await send_json(send, 429, refusal.body(), headers)

    async def _fault(self, rule: FaultRule, send) -> str:
        kind = rule.kind
        if kind == FaultKind.SLOW:
            await asyncio.sleep(rule.seconds)
            return "continue"
        if kind == FaultKind.EXPIRED_AUTH:
            await self._unauthorized(send, "The OAuth token used to make this call expired 1 minute(s) ago.")
        elif kind == FaultKind.RATE_LIMIT:
            await self._too_many(send, Refusal("TEN_SECONDLY_ROLLING", rule.retry_after), False)
        elif kind == FaultKind.QUOTA:
            await self._too_many(send, Refusal("DAILY", seconds_to_utc_midnight()), False)
        elif kind == FaultKind.SERVER_ERROR:
            # FaultRule has no status: successive firings answer 500, 502, 503 in turn.
            status = _SERVER_ERROR_STATUSES[(rule.fired - 1) % len(_SERVER_ERROR_STATUSES)]
            await send_json(send, status, error_body("internal error", "INTERNAL_ERROR"))
        elif kind == FaultKind.DROP_BEFORE:
            await _cut(send)
        elif kind == FaultKind.DROP_AFTER:
            return "drop_after"
        return "done"

    async def _run_then_cut(self, scope, receive, send) -> None:
        async def swallow(message):  # the handler runs in full; its reply never arrives
            return None
        await self.app(scope, receive, swallow)
        await _cut(send)

    def _with_headers(self, send, is_search: bool):
        async def sender(message):
            if message["type"] == "http.response.start":
                extra = self.limits.headers(is_search=is_search) | {"X-HubSpot-Correlation-Id": correlation_id()}
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    (k.lower().encode(), v.encode()) for k, v in extra.items()]
            await send(message)
        return sender
