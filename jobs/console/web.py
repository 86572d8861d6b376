"""What every page handler shares: who is asking (``page``), CSRF on every POST, the read-only
role, and rendering a template with the page frame's values."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from jobs.console.auth import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Who
from jobs.console.context import ConsoleContext
from jobs.console.crm_reads import CrmReads

HERE = Path(__file__).parent
templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                                   autoescape=True, undefined=jinja2.StrictUndefined))
NAV = (("mappings", "Mappings"), ("playbooks", "Playbooks"), ("preview", "Preview"), ("runs", "Runs"),
       ("scorecard", "Handoff scorecard"), ("changes", "Changes"))

Handler = Callable[[Request, Who, FormData], Response]


def context_of(request: Request) -> ConsoleContext:
    ctx: ConsoleContext = request.app.state.ctx
    return ctx


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def identify(request: Request) -> Who | None:
    """The signed-in user: the trusted proxy's, else the session cookie's."""
    gate = context_of(request).gate
    headers = {k.lower(): v for k, v in request.headers.items()}
    return gate.proxied(client_of(request), headers) or gate.session(request.cookies.get(SESSION_COOKIE))


def page(*, change: bool = False) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A handler for signed-in users; POSTs carry the CSRF token; ``change``: admins only."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            who = identify(request)
            if who is None:
                return _to_signin(request)
            form = await request.form() if request.method == "POST" else FormData()
            if request.method == "POST":
                given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
                if not context_of(request).gate.same(given if isinstance(given, str) else None, who.csrf):
                    return refusal(request, who, 403, "Refused: this form's security token is missing or out of "
                                                      "date (CSRF protection). Nothing was changed. Reload the page "
                                                      "and try again.")
            if change and not who.may_change:
                return refusal(request, who, 403, "Refused: you are signed in read-only. Nothing was changed; "
                                                  "an admin can make this change.")
            return await run_in_threadpool(handler, request, who, form)

        return endpoint

    return wrap


def _to_signin(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = f"/signin?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def render(request: Request, who: Who | None, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = context_of(request)
    frame = {"who": who, "nav": NAV, "active": values.pop("active", ""), "csrf_field": CSRF_FIELD,
             "config": str(ctx.config_path), "now": dt.datetime.now(dt.UTC)}
    return templates.TemplateResponse(request, template, {**frame, **values}, status_code=status_code)


def refusal(request: Request, who: Who | None, status_code: int, message: str) -> HTMLResponse:
    return render(request, who, "refusal.html", status_code=status_code, message=message)


def form_text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def reads_of(request: Request) -> CrmReads:
    reads: CrmReads = request.app.state.reads
    return reads
