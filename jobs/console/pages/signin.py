"""Signing in (a token, and a name recorded with every change) and out."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from jobs.console.auth import SESSION_COOKIE, SIGNIN_COOKIE, Role, Who
from jobs.console.web import client_of, context_of, form_text, identify, page, render

ROLE_WORDS = {Role.ADMIN: "admin token", Role.VIEWER: "viewer token"}


def _safe_next(target: str) -> str:
    """Only a path on this console: a sign-in link must not send anyone elsewhere."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/mappings"
    return target


def _is_https(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    gate = context_of(request).gate
    return gate.from_trusted_proxy(client_of(request)) and request.headers.get("x-forwarded-proto") == "https"


async def signin_form(request: Request) -> Response:
    if identify(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next", "/mappings")), status_code=303)
    return _form(request, problem=None)


def _form(request: Request, problem: str | None, status_code: int = 200, target: str | None = None) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(request, None, "signin.html", status_code=status_code, problem=problem, nonce=nonce,
                      next=_safe_next(target or request.query_params.get("next", "/mappings")))
    response.set_cookie(SIGNIN_COOKIE, nonce, max_age=600, httponly=True, samesite="strict",
                        secure=_is_https(request))
    return response


async def signin(request: Request) -> Response:
    gate = context_of(request).gate
    form = await request.form()
    client = client_of(request)
    nonce = request.cookies.get(SIGNIN_COOKIE)
    target = form_text(form, "next", "/mappings")
    if nonce is None or not gate.same(form_text(form, "nonce"), nonce):
        return _form(request, "The sign-in form was out of date (CSRF protection); try again.", 403, target)
    if gate.locked_out(client):
        return _form(request, "Too many wrong tokens from this address; wait a minute and try again.", 429, target)
    role = gate.role_of(form_text(form, "token"))
    if role is None:
        gate.failed(client)
        return _form(request, "That token does not sign in here. Use the admin or viewer token of this console "
                              "(docs/console.md says where it is set).", 403, target)
    name = " ".join(form_text(form, "name").split())[:80]
    actor = f"{name} ({ROLE_WORDS[role]})" if name else ROLE_WORDS[role]
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(SESSION_COOKIE, gate.start(actor, role), max_age=gate.max_age, httponly=True,
                        samesite="strict", secure=_is_https(request))
    response.delete_cookie(SIGNIN_COOKIE)
    return response


@page()
def signout(request: Request, who: Who, form: FormData) -> Response:
    if who.session_id:
        context_of(request).gate.end(who.session_id)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


routes = [Route("/signin", signin_form, methods=["GET"]), Route("/signin", signin, methods=["POST"]),
          Route("/signout", signout, methods=["POST"])]
