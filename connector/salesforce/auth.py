"""Getting a token: the HTTP session every call shares, and each login flow.

The SDK is used in *direct mode* only (``Salesforce(session_id=..., instance_url=...)``), and
AfterClose logs in itself, here, through the SDK's own login helpers. Why: with a refreshable
login the SDK re-logs in inside ``SFType`` calls without bound on repeated 401s (RecursionError;
facts §0.6, simple-salesforce issue #804). In direct mode a 401 surfaces as
``SalesforceExpiredSession`` and ``client.SalesforceClient`` renews the token once, in one place.

Token endpoints live at ``settings.login_url`` (``https://<domain>.salesforce.com`` by default),
so the SDK helpers that accept a URL are called with it: ``token_login`` for the OAuth flows,
``SalesforceLogin(scratch_url=...)`` for the SOAP password flow.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jwt
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import SalesforceLogin
from simple_salesforce.login import token_login

from connector.errors import ConfigError
from connector.proxies import requests_proxies
from connector.salesforce.settings import AuthFlow, SalesforceSettings

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME = dt.timedelta(minutes=3)  # Salesforce accepts at most 3 minutes (SDK uses the same)


@dataclass(frozen=True, kw_only=True)
class Token:
    access_token: str
    instance_url: str
    """Always ``https://host[:port]`` (the SDK builds https URLs whatever it is given, facts §0.1)."""

    def __repr__(self) -> str:  # never print the token
        return f"Token(instance_url={self.instance_url!r})"


class TimeoutAdapter(HTTPAdapter):
    """Gives every request on the session a timeout, including the SDK's login requests, which
    accept none (facts §0.7: neither SDK has a default timeout), and the proxy the standard
    variables name for its URL (connector/proxies.py): the session may not read the environment
    itself when a ca_bundle is set (see ``build_session``), and login and data calls go to
    different hosts, each of which NO_PROXY may exempt."""

    def __init__(self, timeout: float, **kwargs):
        self._timeout = timeout
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: bool | str = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        return super().send(request, stream=stream, timeout=timeout or self._timeout, verify=verify, cert=cert,
                            proxies=requests_proxies(request.url or ""))


def build_session(settings: SalesforceSettings) -> requests.Session:
    session = requests.Session()
    session.mount("https://", TimeoutAdapter(settings.timeout_seconds))
    session.mount("http://", TimeoutAdapter(settings.timeout_seconds))
    if settings.ca_bundle:
        if not Path(settings.ca_bundle).is_file():
            raise ConfigError(f"file not found: {settings.ca_bundle}", source="salesforce settings",
                              key="ca_bundle")
        session.verify = str(settings.ca_bundle)
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify (facts §0.2);
        # the configured bundle must win, so the environment is not consulted. The proxy
        # variables still are: TimeoutAdapter reads them for each request.
        session.trust_env = False
    return session


def direct_token(settings: SalesforceSettings) -> Token:
    """The token given in the settings (direct mode: AfterClose cannot renew it by itself)."""
    return Token(access_token=settings.secret_text("access_token"), instance_url=_https(settings.instance_url or ""))


class LoginAnswer(Exception):
    """A login endpoint answered without a token: its status, ``Retry-After`` and body, for the
    one classification table (a rate limit or an outage is retried; a refusal is not)."""

    def __init__(self, status: int, body: bytes, retry_after: str | None, url: str):
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.body = body
        self.retry_after = retry_after
        self.url = url


class _LoginSession:
    """What the SDK's login helpers post through: the shared session, but an answer that carries
    no token raises ``LoginAnswer`` before the SDK reads it. The SDK keeps only part of a failed
    answer: the SOAP helper drops the status of a fault it can parse (a rate limit read as
    "refused"), and the token helper calls ``.get`` on whatever JSON came back (a Salesforce
    error list: AttributeError)."""

    def __init__(self, session: requests.Session):
        self._session = session

    def post(self, url: str, data=None, headers=None, proxies=None, **kwargs):
        response = self._session.post(url, data, headers=headers, proxies=proxies, **kwargs)
        if response.status_code != 200 or not _carries_token(url, response.content):
            raise LoginAnswer(response.status_code, response.content, response.headers.get("Retry-After"), url)
        return response


def _carries_token(url: str, body: bytes) -> bool:
    if "/services/oauth2/" in url:
        try:
            reply = json.loads(body)
        except ValueError:
            return False
        return isinstance(reply, dict) and all(isinstance(reply.get(k), str) and reply[k]
                                               for k in ("access_token", "instance_url"))
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return False
    found = {element.tag.rsplit("}", 1)[-1] for element in root.iter() if (element.text or "").strip()}
    return {"sessionId", "serverUrl"} <= found


def login(settings: SalesforceSettings, session: requests.Session) -> Token:
    """Run the settings' login flow once. SDK exceptions and ``LoginAnswer`` propagate for
    ``errors.facts_of``."""
    flow = settings.login_flow()
    if flow is None:
        raise ConfigError("no login credentials to renew the session with", source="salesforce settings")
    session = _LoginSession(session)  # type: ignore[assignment]  # the SDK only calls .post
    token_url = f"{settings.login_url}/services/oauth2/token"
    consumer_key = settings.consumer_key or ""  # the OAuth flows are chosen only with one (login_flow)
    if flow is AuthFlow.PASSWORD_SOAP:
        session_id, instance = SalesforceLogin(
            username=settings.username, password=settings.secret_text("password"),
            security_token=settings.secret_text("security_token"),
            sf_version=settings.api_version, session=session, domain=settings.domain,
            scratch_url=settings.login_url)
    elif flow is AuthFlow.PASSWORD_OAUTH:
        session_id, instance = token_login(token_url, {
            "grant_type": "password", "client_id": settings.consumer_key,
            "client_secret": settings.secret_text("consumer_secret"), "username": settings.username,
            # Outside the org's trusted IP ranges the grant wants password + security token.
            "password": settings.secret_text("password") + settings.secret_text("security_token")},
            settings.domain, consumer_key, None, None, session)
    elif flow is AuthFlow.JWT:
        session_id, instance = token_login(
            token_url, {"grant_type": JWT_GRANT, "assertion": jwt_assertion(settings)},
            settings.domain, consumer_key, None, None, session)
    else:
        session_id, instance = token_login(
            token_url, {"grant_type": "client_credentials"}, settings.domain, consumer_key,
            {"Authorization": f"Basic {basic_credential(settings)}"}, None, session)
    return Token(access_token=session_id, instance_url=_https(instance))


def basic_credential(settings: SalesforceSettings) -> str | None:
    """``base64(consumer_key:consumer_secret)``, the client-credentials flow's Authorization: as
    secret as the secret it encodes (an echoing proxy would otherwise show it in an error)."""
    secret = settings.secret("consumer_secret")
    if not (settings.consumer_key and secret):
        return None
    return base64.b64encode(f"{settings.consumer_key}:{secret}".encode()).decode()


def jwt_assertion(settings: SalesforceSettings, now: dt.datetime | None = None) -> str:
    """RS256 JWT: iss = consumer key, sub = username, aud = the login URL, exp <= 3 minutes.
    [DOC: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm]"""
    key_path = Path(settings.private_key_file or "")
    if not key_path.is_file():
        raise ConfigError(f"file not found: {key_path}", source="salesforce settings", key="private_key_file")
    now = now or dt.datetime.now(dt.UTC)
    claims = {"iss": settings.consumer_key, "sub": settings.username, "aud": settings.login_url,
              "exp": int((now + JWT_LIFETIME).timestamp())}
    return jwt.encode(claims, key_path.read_bytes(), algorithm="RS256")


def _https(instance: str) -> str:
    """``na1.salesforce.com`` / ``https://na1.salesforce.com/`` -> ``https://na1.salesforce.com``."""
    host = instance.split("://", 1)[-1].split("/", 1)[0]
    return f"https://{host}"
