"""The http source: a survey tool's REST API, polled with httpx.

One ``fetch`` is one walk over the pages of ``GET <url>?<since_param>=<cursor>``:

- each page is JSON; ``items_path`` leads to the list of responses, ``field_paths`` to the
  values inside one item (dotted paths; a number picks a list element: ``answers.0.value``);
- paging is configured: ``next_link`` (the page names the next URL at ``next_path``; relative
  links are resolved against the page's URL), ``cursor`` (the page names the next cursor at
  ``next_path``, sent back as ``cursor_param``), ``page`` (``page_param`` counts up from
  ``first_page`` until a page comes back empty) or ``none``;
- a paginator that would loop is an error, not an infinite walk: a next link or cursor seen
  before, or (``page`` paging) a page identical to the one before, which is what an API that
  ignores the page parameter returns. More than ``page_cap`` pages is an error too: raise the
  cap for a big backlog rather than stop half-way with a cursor that skips the rest;
- failures are classified by ``connector.retry`` (one table): 429 waits ``Retry-After``
  (seconds or an HTTP date, RFC 9110 §10.2.3), 408/5xx, timeouts and dropped connections back
  off and retry, 401/403 and other 4xx stop at once;
- the next cursor is the latest ``responded_at`` seen, returned only when the whole walk
  succeeded. Anything unusable (not JSON, no list at ``items_path``, retries exhausted) raises
  ``SourceError`` and the caller keeps the cursor it had, so nothing is skipped. Most APIs
  treat ``since`` as inclusive, so the last response comes back once more next time; the
  job's set of applied response ids makes that harmless.

The auth header value is a secret: it is sent only to the origin of ``url`` (not along a
redirect or a next link to another host), never logged, and never part of an error.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

from connector.errors import CrmError
from connector.model import NpsResponse
from connector.nps import NpsSourceConfig, SourceBatch, SourceCursor, SourceError
from connector.nps.collect import Collector
from connector.nps.credentials import Credentials
from connector.nps.values import (
    BadValue,
    derived_response_id,
    parse_email,
    parse_responded_at,
    parse_score,
    parse_text,
)
from connector.retry import ErrorFacts, RetrySettings, call_classified
from connector.tls import tls_problem

log = logging.getLogger(__name__)

PROVIDER = "nps-http"
_RAW_CHARS = 500
_SNIPPET_CHARS = 80

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A URL without its query, and the query as pairs: httpx (0.28) replaces a URL's query with
    ``params`` instead of merging them, so the query always travels here."""

    url: str
    params: Params

    @classmethod
    def of(cls, url: str, extra: Params = ()) -> PageRequest:
        parsed = httpx.URL(url)
        own = tuple((str(k), str(v)) for k, v in parsed.params.multi_items())
        return cls(str(parsed.copy_with(query=None)), own + extra)


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path, or None when any step is missing."""
    if not path:
        return data
    current = data
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


class HttpSource:
    name = "http"

    def __init__(self, config: NpsSourceConfig, *, retry: RetrySettings | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self._config = config
        self._retry = retry or RetrySettings()
        self._sleep = sleep

    def fetch(self, since: SourceCursor | None) -> SourceBatch:
        # httpx reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY (and, without a ca_bundle, SSL_CERT_FILE)
        # from the environment itself (trust_env, its default), as connector/proxies.py does for the CRMs.
        verify = ssl.create_default_context(cafile=str(self._config.ca_bundle)) if self._config.ca_bundle else True
        with httpx.Client(timeout=self._config.timeout_seconds, follow_redirects=True, verify=verify,
                          event_hooks={"request": [Credentials(self._config)]}) as client:
            return _Walk(self._config, self._retry, client, self._sleep).run(since)


class _Walk:
    """One fetch: pages in order, each item parsed, the loop guarded."""

    def __init__(self, config: NpsSourceConfig, retry: RetrySettings, client: httpx.Client,
                 sleep: Callable[[float], None]):
        self.config = config
        self.retry = retry
        self.client = client
        self.sleep = sleep
        self.out = Collector()
        self.latest: dt.datetime | None = None

    def run(self, since: SourceCursor | None) -> SourceBatch:
        pager = _pager(self.config)
        request: PageRequest | None = PageRequest.of(self.config.url or "", _first_params(self.config, since))
        seen: set[PageRequest] = set()
        pages = 0
        while request is not None:
            if request in seen:
                raise SourceError(f"paging loop: page {pages + 1} would repeat {_describe(request)}",
                                  source=self.config.url)
            if pages == self.config.page_cap:
                raise SourceError(f"more than page_cap = {self.config.page_cap} pages; raise page_cap to read "
                                  "the backlog (the cursor was not moved)", source=self.config.url)
            seen.add(request)
            pages += 1
            body = self._get(request, pages)
            items = self._items(body, request, pages)
            self._read_items(items, request, pages)
            request = pager.next(body, items, request)
        return self.out.batch(self._next_cursor(since))

    def _next_cursor(self, since: SourceCursor | None) -> SourceCursor | None:
        if self.latest is None:
            return since
        if since is not None and since.since >= self.latest:
            return since
        return SourceCursor(since=self.latest)

    # --- one page -------------------------------------------------------------------------------

    def _get(self, request: PageRequest, page: int) -> Any:
        def attempt() -> httpx.Response:
            response = self.client.get(request.url, params=request.params, headers={"Accept": "application/json"})
            response.raise_for_status()
            return response

        try:
            response = call_classified(attempt, _facts_of, self.retry, on_wait=_log_wait, sleep=self.sleep)
        except CrmError as exc:
            raise SourceError(f"page {page}: {exc}{self._elsewhere_hint(exc)}", source=self.config.url,
                              status=exc.status) from exc
        try:
            return json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            snippet = response.content[:_SNIPPET_CHARS].decode("utf-8", "replace")
            kind = response.headers.get("content-type", "no content type")
            raise SourceError(f"page {page} is not JSON ({kind}; {exc}): {snippet!r}",
                              source=self.config.url, status=response.status_code) from None

    def _elsewhere_hint(self, exc: CrmError) -> str:
        """A refusal from another origin (a redirect or a next link went there): say that the
        token was deliberately not sent, so nobody hunts for a wrong token."""
        if exc.status not in (401, 403) or not exc.endpoint:
            return ""
        url = httpx.URL(exc.endpoint)
        if Credentials(self.config).allowed(url):
            return ""
        return (f"; {url.scheme}://{url.netloc.decode()} is not the origin of nps.url, so the token was not sent "
                "there (credentials never leave their origin): set nps.url to the address the API moved to")

    def _items(self, body: Any, request: PageRequest, page: int) -> list[Any]:
        items = get_path(body, self.config.items_path)
        if not isinstance(items, list):
            where = f"items_path {self.config.items_path!r}" if self.config.items_path else "the page"
            found = "nothing" if items is None else type(items).__name__
            raise SourceError(f"page {page}: {where} holds {found}, not a list of responses "
                              f"({_describe(request)})", source=self.config.url)
        return items

    def _read_items(self, items: list[Any], request: PageRequest, page: int) -> None:
        for index, item in enumerate(items):
            where = f"page {page} item {index}"
            raw = _raw(item)
            try:
                response = self._response(item)
            except BadValue as exc:
                self.out.reject(self.config.url or "", None, f"{where}: {exc}", raw)
                continue
            conflict = self.out.keep(response, where)
            if conflict:
                self.out.reject(self.config.url or "", None, f"{where}: {conflict}", raw)
            elif self.latest is None or response.responded_at > self.latest:
                self.latest = response.responded_at

    def _response(self, item: Any) -> NpsResponse:
        if not isinstance(item, dict):
            raise BadValue(f"item is {type(item).__name__}, not an object")
        def value(name: str) -> Any:
            path = self.config.field_paths.get(name)
            return get_path(item, path) if path else None

        email_address = parse_email(value("email"))
        account_id = parse_text(value("account_id"))
        if email_address is None and account_id is None:
            raise BadValue("no email and no account_id: the response cannot be matched to a customer")
        score = parse_score(value("score"))
        responded_at = parse_responded_at(value("responded_at"), zone=self.config.zone,
                                          date_format=self.config.date_format)
        response_id = parse_text(value("response_id")) or derived_response_id(
            "http", email_address, account_id, responded_at)
        return NpsResponse(response_id=response_id, email=email_address, score=score, responded_at=responded_at,
                           comment=parse_text(value("comment")), account_id=account_id, source=PROVIDER)


# --- paginators: small objects that say what the next page is, or None -----------------------------


class _NoPaging:
    def next(self, body: Any, items: list[Any], request: PageRequest) -> PageRequest | None:
        return None


@dataclass(frozen=True, slots=True)
class _NextLink:
    path: str

    def next(self, body: Any, items: list[Any], request: PageRequest) -> PageRequest | None:
        link = get_path(body, self.path)
        if link in (None, ""):
            return None
        if not isinstance(link, str):
            raise SourceError(f"next_path {self.path!r} holds {type(link).__name__}, not a URL", source=request.url)
        # The link carries its own query (cursor, since...), so none of ours is added.
        return PageRequest.of(urljoin(request.url, link))


@dataclass(frozen=True, slots=True)
class _Cursor:
    path: str
    param: str

    def next(self, body: Any, items: list[Any], request: PageRequest) -> PageRequest | None:
        cursor = get_path(body, self.path)
        if cursor in (None, "") or isinstance(cursor, bool):
            return None
        if not isinstance(cursor, str | int | float):
            raise SourceError(f"next_path {self.path!r} holds {type(cursor).__name__}, not a cursor",
                              source=request.url)
        params = tuple((k, v) for k, v in request.params if k != self.param)
        return PageRequest(request.url, (*params, (self.param, str(cursor))))


@dataclass(slots=True)
class _PageNumber:
    param: str
    page: int
    last_digest: str | None = None

    def next(self, body: Any, items: list[Any], request: PageRequest) -> PageRequest | None:
        if not items:
            return None
        digest = hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()
        if digest == self.last_digest:
            raise SourceError(f"paging loop: page {self.page} returned the same items as page {self.page - 1} "
                              f"(does the API read {self.param!r}?)", source=request.url)
        self.last_digest = digest
        self.page += 1
        params = tuple((k, v) for k, v in request.params if k != self.param)
        return PageRequest(request.url, (*params, (self.param, str(self.page))))


def _pager(config: NpsSourceConfig) -> _NoPaging | _NextLink | _Cursor | _PageNumber:
    if config.paging == "next_link":
        return _NextLink(config.next_path)
    if config.paging == "cursor":
        return _Cursor(config.next_path, config.cursor_param)
    if config.paging == "page":
        return _PageNumber(config.page_param, config.first_page)
    return _NoPaging()


def _first_params(config: NpsSourceConfig, since: SourceCursor | None) -> Params:
    params = [(str(k), str(v)) for k, v in config.params.items()]
    if since is not None and config.since_param:
        value = str(int(since.since.timestamp())) if config.since_format == "epoch" else since.to_text()
        params.append((config.since_param, value))
    if config.paging == "page":
        params.append((config.page_param, str(config.first_page)))
    return tuple(params)


def _describe(request: PageRequest) -> str:
    query = "&".join(f"{k}={v}" for k, v in request.params)
    return f"{request.url}?{query}" if query else request.url


def _raw(item: Any) -> str:
    try:
        return json.dumps(item, ensure_ascii=False, default=str)[:_RAW_CHARS]
    except (TypeError, ValueError):  # pragma: no cover - json.loads output always dumps
        return repr(item)[:_RAW_CHARS]


# --- failures: httpx exceptions -> facts for the one classification table in connector.retry -------


def _facts_of(exc: BaseException) -> ErrorFacts | None:
    if isinstance(exc, httpx.TransportError) and (problem := tls_problem(exc)) is not None:
        # a set-up problem: not retried, and the message says which
        return ErrorFacts(provider=PROVIDER, message=problem.message, code=problem.code,
                          endpoint=_endpoint(exc.request))
    if isinstance(exc, httpx.TimeoutException):
        return ErrorFacts(provider=PROVIDER, message=f"{type(exc).__name__}", timeout=True,
                          endpoint=_endpoint(exc.request))
    if isinstance(exc, httpx.TransportError):
        return ErrorFacts(provider=PROVIDER, message=f"{type(exc).__name__}: {exc}", transport=True,
                          endpoint=_endpoint(exc.request))
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return ErrorFacts(provider=PROVIDER, message=f"HTTP {response.status_code} {response.reason_phrase}",
                          status=response.status_code, retry_after=retry_after(response),
                          endpoint=_endpoint(exc.request))
    return None


def _endpoint(request: httpx.Request | None) -> str | None:
    try:
        return str(request.url.copy_with(query=None)) if request is not None else None
    except RuntimeError:  # httpx raises when an exception has no request attached
        return None


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from ``Retry-After``: delay-seconds, or an HTTP date taken relative to the
    response's own ``Date`` header (RFC 9110 §10.2.3), so no local clock is involved."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        until = email.utils.parsedate_to_datetime(value)
        now = email.utils.parsedate_to_datetime(response.headers.get("date", ""))
    except (TypeError, ValueError):
        return None
    if until.tzinfo is None or now.tzinfo is None:
        return None
    return max((until - now).total_seconds(), 0.0)


def _log_wait(error: CrmError, seconds: float) -> None:
    log.warning("nps http source: %s; retrying in %.1f s", error, seconds)


__all__ = ["HttpSource", "PageRequest", "get_path", "retry_after"]
