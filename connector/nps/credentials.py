"""The http source's credential: on every request to the configured origin, and on no other."""

from __future__ import annotations

import httpx

from connector.nps import NpsSourceConfig


class Credentials:
    """Puts the token on every request to the configured origin, and on no other.

    A request hook runs for every request the client sends, redirect hops included. httpx strips
    only ``Authorization`` when a redirect leaves the origin and copies every other header, so a
    custom header (``X-Api-Key``) would follow a redirect to any host; so would any header to a
    next-page link on another host. Same origin: scheme, host and port, or the same host moving
    from http to https (what browsers and httpx also allow).
    """

    def __init__(self, config: NpsSourceConfig):
        self._origin = _origin(httpx.URL(config.url or ""))
        self._header = config.auth_header
        token = config.secret("token")
        scheme = config.auth_scheme.strip()
        self._value = (f"{scheme} {token}" if scheme else token) if token else None

    def __call__(self, request: httpx.Request) -> None:
        if self._value is not None and self.allowed(request.url):
            request.headers[self._header] = self._value
        else:
            request.headers.pop(self._header, None)

    def allowed(self, url: httpx.URL) -> bool:
        origin = _origin(url)
        if origin == self._origin:
            return True
        scheme, host, _ = self._origin
        return scheme == "http" and origin == ("https", host, 443) and self._origin[2] == 80


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host.lower(), url.port or default
