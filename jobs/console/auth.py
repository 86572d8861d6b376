"""Who is asking, and may they: sign-in with a token, sessions, CSRF, roles, the proxy header.

- A token is compared in constant time (``hmac.compare_digest``) with every configured token, so
  the time a wrong guess takes says nothing about the right one; ten wrong guesses from one
  address within a minute lock that address out for the rest of the minute.
- A session lives in this process only (a restart signs everyone out); its cookie holds a random
  id, ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it) and
  ``Secure`` when the browser reached the console over https (directly, or through a trusted
  proxy saying ``X-Forwarded-Proto: https``).
- Every form carries a CSRF token derived from the session (HMAC with a key made at start); every
  POST without the right one is refused. htmx sends it as the ``X-CSRF-Token`` header.
- A reverse proxy that signs users in may name the user in ``[console] proxy_user_header``; the
  header is believed only from ``trusted_proxies`` (anyone else could simply send it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from jobs.console.settings import ConsoleSection

SESSION_COOKIE = "afterclose_session"
SIGNIN_COOKIE = "afterclose_signin"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FAILURES_ALLOWED = 10
FAILURE_WINDOW_SECONDS = 60.0


class Role(StrEnum):
    ADMIN = "admin"
    """Reads everything, changes mappings and playbooks."""
    VIEWER = "viewer"
    """Reads everything, changes nothing."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Who:
    actor: str
    """Recorded with every change: the name given at sign-in, or the proxy's user."""
    role: Role
    csrf: str
    via: str
    """``token`` or ``proxy``."""
    session_id: str | None = None

    @property
    def may_change(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True, kw_only=True, slots=True)
class _Session:
    actor: str
    role: Role
    expires: float


@dataclass(kw_only=True)
class Gate:
    """The tokens, the sessions and the proxy rule of one console process."""

    settings: ConsoleSection
    admin_token: str | None
    """The configured admin token, or one made for this run (``afterclose console``/``demo``)."""
    viewer_token: str | None = None
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _sessions: dict[str, _Session] = field(default_factory=dict, repr=False)
    _failures: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, settings: ConsoleSection, one_time_token: str | None = None) -> Gate:
        return cls(settings=settings, admin_token=one_time_token or settings.secret("admin_token"),
                   viewer_token=settings.secret("viewer_token"))

    # -- tokens --------------------------------------------------------------------------------

    def role_of(self, token: str) -> Role | None:
        """The role a token signs in with; every configured token is compared, in constant time."""
        given = token.strip().encode()
        found = None
        for role, wanted in ((Role.ADMIN, self.admin_token), (Role.VIEWER, self.viewer_token)):
            if wanted is not None and hmac.compare_digest(given, wanted.encode()):
                found = found or role
        return found

    def locked_out(self, client: str) -> bool:
        with self._lock:
            recent = self._recent_failures(client)
            return len(recent) >= FAILURES_ALLOWED

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent_failures(client).append(time.monotonic())

    def _recent_failures(self, client: str) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and time.monotonic() - recent[0] > FAILURE_WINDOW_SECONDS:
            recent.popleft()
        return recent

    # -- sessions ------------------------------------------------------------------------------

    def start(self, actor: str, role: Role) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session_id] = _Session(actor=actor, role=role,
                                                  expires=time.time() + self.settings.session_hours * 3600)
        return session_id

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def session(self, session_id: str | None) -> Who | None:
        if not session_id:
            return None
        with self._lock:
            found = self._sessions.get(session_id)
            if found is not None and found.expires < time.time():
                del self._sessions[session_id]
                found = None
        if found is None:
            return None
        return Who(actor=found.actor, role=found.role, csrf=self.csrf_for(f"session:{session_id}"), via="token",
                   session_id=session_id)

    @property
    def max_age(self) -> int:
        return int(self.settings.session_hours * 3600)

    # -- the proxy header ----------------------------------------------------------------------

    def proxied(self, client: str | None, headers: dict[str, str]) -> Who | None:
        """The user a trusted proxy names, or None (no header configured, not from a trusted
        address, or no user named)."""
        name = self.settings.proxy_user_header
        if name is None or client not in self.settings.trusted_proxies:
            return None
        user = headers.get(name.lower(), "").strip()
        if not user:
            return None
        role = Role.ADMIN if user in self.settings.proxy_admins else Role.VIEWER
        return Who(actor=user, role=role, csrf=self.csrf_for(f"proxy:{user}"), via="proxy")

    def from_trusted_proxy(self, client: str | None) -> bool:
        return client in self.settings.trusted_proxies

    # -- CSRF ----------------------------------------------------------------------------------

    def csrf_for(self, identity: str) -> str:
        return hmac.new(self._key, identity.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def same(given: str | None, wanted: str) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), wanted.encode())
