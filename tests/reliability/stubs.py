"""A hostile CRM for the security tests: every answer is an error that echoes back what the
client sent (its Authorization header, its body, its URL), the way a misbehaving proxy or a
verbose error page would. AfterClose must not carry any of it into its own messages."""

from __future__ import annotations

import contextlib
import html
import json
from collections.abc import Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.sandbox.server import RunningServer, serve_in_thread


def echo_app(status: int) -> Starlette:
    async def answer(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        echoed = f"{request.method} {request.url} auth={request.headers.get('authorization')} body={body}"
        if request.url.path.startswith("/services/Soap/"):
            fault = (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
                     f'"http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault>'
                     f"<faultcode>INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: {html.escape(echoed)}"
                     f"</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>")
            return Response(fault, status_code=500, media_type="text/xml")
        if request.url.path.startswith("/services/"):  # Salesforce's error list (facts §4)
            payload = [{"message": echoed, "errorCode": "INVALID_FIELD", "fields": []}]
        else:  # HubSpot's error body (facts §3)
            payload = {"status": "error", "message": echoed, "category": "VALIDATION_ERROR",
                       "correlationId": "00000000-0000-0000-0000-000000000000"}
        return Response(json.dumps(payload), status_code=status, media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST", "PATCH", "DELETE"])])


@contextlib.contextmanager
def echo_server(status: int, *, tls: bool = False) -> Iterator[RunningServer]:
    with serve_in_thread(echo_app(status), tls=tls) as server:
        yield server
