"""The proxy the standard variables name for a URL: ``HTTPS_PROXY`` / ``HTTP_PROXY`` (or
``ALL_PROXY``), exempted by ``NO_PROXY``, each in upper or lower case, read as Python's
``urllib.request`` reads them (lower case wins when both are set; ``NO_PROXY`` takes host names,
domain suffixes such as ``.example.com``, ``host:port`` and ``*``).

Every client AfterClose runs follows it, because none does by itself in every set-up: the HubSpot
SDK talks through urllib3, which never reads the environment (its configuration takes ``proxy``
and ``proxy_headers``); the Salesforce session must not read the environment when a ``ca_bundle``
is set (``REQUESTS_CA_BUNDLE`` would override it, facts §0.2), so it is given the proxies per
request instead. The NPS http source's httpx reads these variables itself.
"""

from __future__ import annotations

import base64
import urllib.request
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit


@dataclass(frozen=True, slots=True)
class Proxy:
    url: str
    """The proxy without credentials (``http://proxy.internal:3128``)."""
    authorization: str | None = None
    """``Basic ...`` for the ``Proxy-Authorization`` header, from ``user:password@`` in the variable."""
    with_credentials: str = ""
    """The variable's value as given (credentials included), for clients that read them from the URL."""


def proxy_for(url: str) -> Proxy | None:
    """The proxy for requests to ``url``, or None (no variable set, or ``NO_PROXY`` exempts it)."""
    proxies = urllib.request.getproxies_environment()
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or _exempt(parts.netloc, host, proxies):
        return None
    value = proxies.get(parts.scheme) or proxies.get("all")
    return _parsed(value) if value else None


def requests_proxies(url: str) -> dict[str, str]:
    """``proxy_for`` in the form requests' adapters take."""
    proxy = proxy_for(url)
    return {urlsplit(url).scheme: proxy.with_credentials} if proxy else {}


def proxy_passwords() -> list[str]:
    """Passwords in the proxy variables: secrets to mask like the CRM credentials."""
    found = []
    for key, value in urllib.request.getproxies_environment().items():
        if key != "no" and value:
            password = urlsplit(value if "://" in value else f"http://{value}").password
            if password:
                found.append(unquote(password))
    return found


def _exempt(netloc: str, host: str, proxies: dict[str, str]) -> bool:
    if "no" not in proxies:
        return False
    # proxy_bypass_environment matches the host (and host:port) against NO_PROXY's entries (the
    # standard library's own NO_PROXY rule; undocumented, so typeshed does not list it).
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return bool(bypass(host, proxies) or bypass(netloc.rsplit("@", 1)[-1], proxies))


def _parsed(value: str) -> Proxy:
    full = value if "://" in value else f"http://{value}"
    parts = urlsplit(full)
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode()
    bare = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, parts.query, parts.fragment))
    return Proxy(url=bare, authorization=authorization, with_credentials=full)
