"""Sessions and the login flows simple-salesforce uses (facts §1):

- OAuth 2.0 token endpoint ``POST /services/oauth2/token`` with the username-password grant, the
  JWT bearer grant and the client-credentials grant; reply ``{access_token, instance_url, id,
  token_type, issued_at, signature}``, errors ``400 {"error", "error_description"}``
  [DOC: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_username_password_flow.htm]
  [DOC: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm];
- token revocation ``POST /services/oauth2/revoke`` (``token=``): 200, or 400 ``invalid_token``
  [DOC: https://developer.salesforce.com/docs/platform/mobile-sdk/guide/oauth-revoking-tokens.html];
- the password check behind SOAP ``login()`` (soap.py renders the SOAP side).
Bearer tokens are checked on every REST call; ``expire_all`` ends every session (401
INVALID_SESSION_ID) until a client logs in again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import threading
import time
from dataclasses import dataclass, field

import jwt

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The JWT flow's "aud" is the login server (facts §1: simple-salesforce sends https://{domain}.salesforce.com).
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass(kw_only=True)
class UserCredentials:
    password: str
    security_token: str | None = None
    """When set, the password grant and SOAP login need ``password + security_token``
    (the rule for logins from outside the org's trusted IP ranges)."""


@dataclass(kw_only=True)
class ConnectedApp:
    client_id: str = "afterclose-sandbox-client-id"
    client_secret: str = "afterclose-sandbox-client-secret"
    public_key_pem: str | bytes | None = None
    """If set, JWT assertions must carry a valid RS256 signature for this key."""
    run_as: str | None = None
    """The username client-credentials tokens act as (the app's "Run As" user)."""


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status = error, description, status

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


@dataclass
class Session:
    token: str
    username: str


@dataclass
class Sessions:
    """Valid bearer tokens -> the user they act as."""

    org_id: str
    _by_token: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(default_factory=lambda: random.Random(0))

    def add(self, token: str, username: str) -> Session:
        with self._lock:
            session = Session(token, username)
            self._by_token[token] = session
            return session

    def new(self, username: str) -> Session:
        with self._lock:
            secret = "".join(self._rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._",
                                               k=96))
        return self.add(f"{self.org_id[:15]}!{secret}", username)

    def check(self, authorization: str | None) -> Session | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        with self._lock:
            return self._by_token.get(authorization[len("Bearer "):].strip())

    def token_user(self, token: str) -> Session | None:
        with self._lock:
            return self._by_token.get(token)

    def revoke(self, token: str) -> bool:
        """End one session (OAuth revoke, SOAP logout); False when it was not valid."""
        with self._lock:
            return self._by_token.pop(token, None) is not None

    def expire_all(self) -> None:
        with self._lock:
            self._by_token.clear()


class Authenticator:
    def __init__(self, *, sessions: Sessions, users: dict[str, UserCredentials], app: ConnectedApp,
                 user_ids: dict[str, str], clock=time.time):
        self.sessions = sessions
        self.users = users
        self.app = app
        self.user_ids = user_ids
        """username -> User record id (for the identity URL)."""
        self.clock = clock

    # ------------------------------------------------------------- OAuth
    def revoke(self, form: dict[str, str]) -> None:
        token = form.get("token", "")
        if not token:
            raise OAuthError("unsupported_token_type", "token type not supported")
        if not self.sessions.revoke(token):
            raise OAuthError("invalid_token", "invalid token")

    def token(self, form: dict[str, str], authorization: str | None, instance_url: str) -> dict:
        grant = form.get("grant_type")
        if grant == "password":
            username = self._password_grant(form)
        elif grant == JWT_GRANT:
            username = self._jwt_grant(form.get("assertion", ""), instance_url)
        elif grant == "client_credentials":
            username = self._client_credentials(form, authorization)
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        return self._reply(self.sessions.new(username), instance_url)

    def _check_client(self, client_id: str | None, client_secret: str | None) -> None:
        if client_id != self.app.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if client_secret != self.app.client_secret:
            raise OAuthError("invalid_client", "invalid client credentials")

    def _password_grant(self, form: dict[str, str]) -> str:
        self._check_client(form.get("client_id"), form.get("client_secret"))
        username = form.get("username", "")
        if not self.password_ok(username, form.get("password") or ""):
            raise OAuthError("invalid_grant", "authentication failure")
        return username

    def password_ok(self, username: str, password: str) -> bool:
        user = self.users.get(username)
        if user is None:
            return False
        expected = user.password + (user.security_token or "")
        return hmac.compare_digest(password.encode(), expected.encode())

    def _jwt_grant(self, assertion: str, instance_url: str) -> str:
        try:
            header = jwt.get_unverified_header(assertion)
            if header.get("alg") != "RS256":
                raise OAuthError("invalid_grant", "invalid assertion: alg must be RS256")
            if self.app.public_key_pem is not None:
                claims = jwt.decode(assertion, self.app.public_key_pem, algorithms=["RS256"],
                                    options={"verify_aud": False, "require": ["iss", "sub", "aud", "exp"]})
            else:
                claims = jwt.decode(assertion, options={"verify_signature": False, "verify_aud": False,
                                                        "verify_exp": True, "require": ["iss", "sub", "aud", "exp"]})
        except jwt.ExpiredSignatureError:
            raise OAuthError("invalid_grant", "expired authorization code") from None
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_grant", f"invalid assertion: {exc}") from None
        if claims["iss"] != self.app.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        audience = str(claims["aud"])
        # The sandbox is its own login server too: accept its origin (simple-salesforce builds aud
        # from ``domain``, so the loopback domain trick yields "https://127.0.0.1:PORT/...").
        if not (audience in LOGIN_AUDIENCES or audience.startswith(instance_url)):
            raise OAuthError("invalid_grant", f"audience is invalid: {audience}")
        if claims["sub"] not in self.users:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return claims["sub"]

    def _client_credentials(self, form: dict[str, str], authorization: str | None) -> str:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
            except ValueError:
                raise OAuthError("invalid_client", "invalid client credentials") from None
            client_id, _, client_secret = decoded.partition(":")
        self._check_client(client_id, client_secret)
        if not self.app.run_as:
            raise OAuthError("invalid_grant", "no client credentials user enabled")
        return self.app.run_as

    def _reply(self, session: Session, instance_url: str) -> dict:
        issued_at = str(int(self.clock() * 1000))
        identity = f"{instance_url}/id/{self.sessions.org_id}/{self.user_ids.get(session.username, '')}"
        # The identity URL is served (GET /id/{orgId}/{userId}, identity.py).
        # signature = Base64(HMAC-SHA256(client_secret, id + issued_at)), as the OAuth docs describe.
        digest = hmac.new(self.app.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256)
        return {"access_token": session.token, "instance_url": instance_url, "id": identity,
                "token_type": "Bearer", "issued_at": issued_at,
                "signature": base64.b64encode(digest.digest()).decode()}
