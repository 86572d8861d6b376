"""Login-side endpoints: OAuth 2.0 token and revoke (form-encoded), SOAP ``login()``/``logout()``,
and the identity URL. Sources: auth.py, soap.py, identity.py."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from . import soap
from .auth import OAuthError
from .identity import IdentityError, check_identity_request, identity_body
from .ids import normalize_id

SOAP_MEDIA = "text/xml;charset=UTF-8"


async def _form(request: Request) -> dict[str, str]:
    body = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    return {**dict(request.query_params), **body}


async def oauth_token(sb, request: Request) -> Response:
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    try:
        reply = sb.authenticator.token(form, request.headers.get("authorization"), sb.instance_url)
    except OAuthError as error:
        return JSONResponse(error.body(), status_code=error.status)
    return JSONResponse(reply)


async def oauth_revoke(sb, request: Request) -> Response:
    try:
        sb.authenticator.revoke(await _form(request))
    except OAuthError as error:
        return JSONResponse(error.body(), status_code=error.status)
    return Response(status_code=200)


async def soap_call(sb, request: Request) -> Response:
    version = request.path_params["version"]
    try:
        soap.check_version(version, sb.api_version)
        operation, values = soap.parse_call(await request.body())
        if operation == "login":
            body = _soap_login(sb, version, values)
        elif operation == "logout":
            if not sb.sessions.revoke(values.get("sessionId", "")):
                raise soap.invalid_session_fault()
            body = soap.logout_response()
        else:
            raise soap.SoapFault("INVALID_OPERATION",
                                 f"not supported by this sandbox: SOAP operation '{operation or '(none)'}'")
    except soap.SoapFault as fault:
        return Response(fault.xml(), status_code=500, media_type=SOAP_MEDIA)
    return Response(body, status_code=200, media_type=SOAP_MEDIA)


def _soap_login(sb, version: str, values: dict[str, str]) -> str:
    soap.check_login_allowed(version, sb.soap_login_enabled)
    username, password = values.get("username", ""), values.get("password", "")
    if not sb.authenticator.password_ok(username, password):
        raise soap.login_fault()
    session = sb.sessions.new(username)
    return soap.login_response(base_url=sb.instance_url, version=version, org=sb.org,
                               session_id=session.token, user=sb.user_record(username))


async def identity(sb, request: Request) -> Response:
    authorization = request.headers.get("authorization") or ""
    token = (authorization[len("Bearer "):].strip() if authorization.startswith("Bearer ") else
             request.query_params.get("oauth_token") or request.query_params.get("access_token") or "")
    session = sb.sessions.token_user(token) if token else None
    user_id = normalize_id(request.path_params["user_id"])
    user = sb.store.get("User", user_id) if user_id and user_id.startswith("005") else None
    try:
        check_identity_request(sb.org, request.path_params["org_id"], user,
                               session.username if session else None, bool(token))
    except IdentityError as error:
        return PlainTextResponse(error.code, status_code=error.status)
    version = request.query_params.get("version")
    if version == "latest":
        version = sb.api_version
    return JSONResponse(identity_body(sb.instance_url, sb.org, user, version, sb.clock()))
