"""The console's Starlette application: routes, static files and the headers every answer carries."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobs.console.context import ConsoleContext
from jobs.console.crm_reads import CrmReads
from jobs.console.pages import changes, mappings, playbooks, preview, runs, scorecard, signin
from jobs.console.web import HERE

SECURITY_HEADERS = {
    # Scripts, styles and images from the console itself only: a value from the CRM that slipped
    # past the template's escaping could still run nothing.
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                                       if k.encode() not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


async def home(_: Request) -> Response:
    return RedirectResponse("/mappings", status_code=303)


def console_app(ctx: ConsoleContext) -> Starlette:
    routes = [
        Route("/", home),
        *signin.routes, *mappings.routes, *playbooks.routes, *preview.routes, *runs.routes, *scorecard.routes,
        *changes.routes,
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.ctx = ctx
    app.state.reads = CrmReads(ctx=ctx)
    return app
