"""Login endpoints: OAuth 2.0 token (form-encoded) and SOAP ``login()`` (see auth.py for sources)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .auth import OAuthError


async def oauth_token(sb, request: Request) -> Response:
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    try:
        reply = sb.authenticator.token(form, request.headers.get("authorization"), sb.instance_url)
    except OAuthError as error:
        return JSONResponse(error.body(), status_code=error.status)
    return JSONResponse(reply)


async def soap_login(sb, request: Request) -> Response:
    status, body = sb.authenticator.soap_login(await request.body(), sb.instance_url,
                                               request.path_params["version"])
    return Response(body, status_code=status, media_type="text/xml;charset=UTF-8")
