"""The one door to HubSpot: SDK client, cached API objects, rate budget, timeouts, retries, counts.

Every HubSpot call AfterClose makes goes through ``HubSpotClient.call``: it waits for the rate
budget, calls the SDK with a timeout, counts the call under its endpoint label, and runs under the
project's one retry policy (``connector.retry.call_classified``). Why the SDK's own machinery is
switched off or worked around (facts §0 and §2, hubspot-api-client 12):
- its urllib3 ``Retry`` does not retry POST (search, batch reads and writes are all POST) and
  raises urllib3's ``MaxRetryError`` when exhausted; it is disabled here (``total=0``) so there is
  one retry path that honours ``Retry-After``;
- it has no default timeout: each call passes ``_request_timeout``;
- each ``client.crm.x.y_api`` access builds a new Configuration, ApiClient and connection pool, so
  API objects are built once and cached;
- ``*_with_http_info`` variants are called so the response headers (rate-limit counters) are seen.
"""

from __future__ import annotations

import collections
import functools
import importlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from hubspot import HubSpot
from urllib3.util.retry import Retry

from connector.errors import CrmError, RateLimitedError
from connector.hubspot.budget import RateBudget
from connector.hubspot.errors import facts_of
from connector.hubspot.settings import HubSpotSettings
from connector.port import CallStats
from connector.proxies import proxy_for
from connector.retry import RetrySettings, call_classified, without_secrets

# No urllib3-level retries at all: connection errors surface at once and are retried by
# call_classified, which knows which calls are safe to repeat (all of AfterClose's are).
_NO_SDK_RETRY = Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False)
# Refresh an OAuth token this long before HubSpot says it expires.
_TOKEN_MARGIN_SECONDS = 300
TOKEN_LABEL = "POST /oauth/v1/token"


class Reply:
    """A JSON reply read like the SDK model it stands for: snake_case attributes, None if absent.

    The SDK deserializes every reply into models and parses every timestamp with dateutil; for a
    batch of 100 created tasks that is ~200 dateutil parses and ~400 models. The benchmark
    measured it as the largest CPU cost left on a run (docs/benchmarks.md). Maps (``properties``,
    error ``context``) stay plain dicts, as in the SDK; ``*_at`` values become aware datetimes.
    """

    __slots__ = ("_data",)
    _MAPS = frozenset({"properties", "context", "metadata", "properties_with_history"})

    def __init__(self, data: dict):
        self._data = data

    @classmethod
    def of(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return cls(value)
        if isinstance(value, list):
            return [cls.of(v) for v in value]
        return value

    def __getattr__(self, name: str) -> Any:
        key = "from" if name == "_from" else _camel(name)
        value = self._data.get(key)
        if name in self._MAPS:
            return value
        if name.endswith("_at") and isinstance(value, str):
            return _instant(value)
        return Reply.of(value)

    def to_dict(self) -> dict:
        return self._data


@functools.cache
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _instant(text: str) -> Any:
    import datetime as dt

    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@functools.cache
def _configuration_of(model_class: type) -> Any:
    package = model_class.__module__.split(".models", 1)[0]
    return importlib.import_module(f"{package}.configuration").Configuration()


def sdk_model(model_class: type, /, **values: Any) -> Any:
    """An SDK request model sharing one ``Configuration`` per SDK package.

    hubspot-api-client 12's models build a new ``Configuration`` whenever none is passed: loggers
    reset under the global logging lock, ``cpu_count()``, a dozen setters. Measured by the
    benchmark (docs/benchmarks.md): ~85,000 of them, 59 s of CPU across threads, for 2,000 deals'
    task inputs (ten models per task with its links), more than all the HTTP waiting. The models
    only read ``client_side_validation`` from it, so one instance serves them all.
    """
    return model_class(**values, local_vars_configuration=_configuration_of(model_class))


def _proxy_options(base_url: str) -> dict[str, Any]:
    """HTTPS_PROXY / HTTP_PROXY / NO_PROXY for the portal's host (connector/proxies.py). The SDK's
    urllib3 pool never reads them itself; its configuration takes ``proxy`` (without credentials:
    urllib3 does not read them from the URL) and ``proxy_headers``."""
    proxy = proxy_for(base_url)
    if proxy is None:
        return {}
    headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
    return {"proxy": proxy.url, "proxy_headers": headers}


class Attempts:
    """How many times one ``call`` reached for the network (1 unless it was retried)."""

    def __init__(self) -> None:
        self.count = 0


class HubSpotClient:
    def __init__(
        self,
        settings: HubSpotSettings,
        retry: RetrySettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self._retry = retry
        self._clock = clock
        self._sleep = sleep
        self._sdk = HubSpot(
            access_token=settings.secret("access_token"), host=settings.base_url.rstrip("/"), retry=_NO_SDK_RETRY,
            connection_pool_maxsize=max(4, settings.max_concurrency * 2),
            # TLS verification is the SDK's default and stays on; a configured CA file replaces
            # the default trust store (hubspot-api-client hands ssl_ca_cert to urllib3, facts §2).
            **({"ssl_ca_cert": str(settings.ca_bundle)} if settings.ca_bundle else {}),
            **_proxy_options(settings.base_url),
        )
        self._apis: dict[str, Any] = {}
        self._budget = RateBudget(
            per_ten_seconds=settings.ten_second_budget,
            search_per_second=settings.search_per_second * settings.budget_share,
            clock=clock, sleep=sleep,
        )
        self._calls: collections.Counter[str] = collections.Counter()
        self._waited = 0.0
        self._lock = threading.RLock()
        self._token_expires_at = 0.0 if settings.uses_oauth else float("inf")

    # -- API objects -------------------------------------------------------------------------

    def api(self, path: str) -> Any:
        """The SDK API object at ``path`` ("crm.deals.search_api"), built once."""
        with self._lock:
            found = self._apis.get(path)
            if found is None:
                found = functools.reduce(getattr, path.split("."), self._sdk)
                self._apis[path] = found
            return found

    # -- calls -------------------------------------------------------------------------------

    def call(self, label: str, api_path: str, method: str, /, *, search: bool = False,
             attempts: Attempts | None = None, raw: bool = False,
             before_attempt: Callable[[], None] | None = None,
             retry_if: Callable[[CrmError], bool] | None = None, **kwargs: Any) -> Any:
        """Call ``api_path.method(**kwargs)`` under the budget, a timeout and the retry policy.

        ``label`` names the endpoint in ``stats()``; ``search`` puts the call on the search
        limit instead of the ten-second one; ``attempts`` counts tries (for callers that must
        know whether a lost first attempt may have done the work). ``raw`` skips the SDK's
        model building: the reply is the JSON read through ``Reply`` (same attribute names).
        ``before_attempt`` runs before each try reaches the network (the create journal);
        ``retry_if`` narrows which retriable errors are retried (the policy's ``retry_if``).
        """
        self._ensure_token()
        bound = getattr(self.api(api_path), f"{method}_with_http_info")
        counter = attempts or Attempts()
        return self._classified(label, lambda: self._attempt(label, bound, search, kwargs, counter, raw,
                                                             before_attempt), retry_if=retry_if)

    def get(self, label: str, path: str, /) -> Any:
        """``GET path`` for an endpoint the SDK has no API object for (``/account-info/v3/details``),
        under the same budget, timeout, retries and counting as ``call``; the JSON read through
        ``Reply``. It borrows the owners API's ``ApiClient`` (host, token, TLS settings, pool)."""
        self._ensure_token()
        api_client = self.api("crm.owners.owners_api").api_client

        def bound(**kwargs: Any) -> Any:
            return api_client.call_api(path, "GET", auth_settings=["oauth2"], response_types_map={}, **kwargs)

        return self._classified(label, lambda: self._attempt(label, bound, False, {}, Attempts(), raw=True))

    def _attempt(self, label: str, bound: Callable[..., Any], search: bool, kwargs: dict[str, Any],
                 attempts: Attempts, raw: bool = False, before_attempt: Callable[[], None] | None = None) -> Any:
        self._add_wait(self._budget.acquire(search=search))
        if before_attempt is not None:
            before_attempt()
        attempts.count += 1
        with self._lock:
            self._calls[label] += 1
        if raw:
            # Non-2xx still raises the SDK's ApiException (rest.py checks the status either way).
            response = bound(**kwargs, _request_timeout=self.settings.timeout_seconds, _preload_content=False)
            try:
                data = Reply.of(json.loads(response.data or b"null"))
                headers = response.headers
            finally:
                response.release_conn()
        else:
            data, _status, headers = bound(**kwargs, _request_timeout=self.settings.timeout_seconds)
        self._budget.observe(headers)
        return data

    def _classified(self, label: str, attempt: Callable[[], Any],
                    retry_if: Callable[[CrmError], bool] | None = None) -> Any:
        return call_classified(
            attempt, lambda exc: without_secrets(facts_of(exc, endpoint=label), self._secrets()), self._retry,
            on_wait=self._on_retry_wait, sleep=self._sleep, retry_if=retry_if,
        )

    def _secrets(self) -> list[str | None]:
        """Every credential this client holds, the OAuth access token of the moment included."""
        s = self.settings
        return [*(s.secret(name) for name in s.secret_names()), self._sdk.access_token]

    def _on_retry_wait(self, error: CrmError, seconds: float) -> None:
        if isinstance(error, RateLimitedError):
            self._add_wait(seconds)

    def _add_wait(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._waited += seconds

    # -- OAuth -------------------------------------------------------------------------------

    def _ensure_token(self) -> None:
        """OAuth apps: fetch an access token with the refresh-token grant before it expires.

        Refreshed proactively from ``expires_in``, because a 401 is not a reliable refresh
        signal (https://developers.HubSpot.com/docs/api/usage-details).
        """
        if self._clock() < self._token_expires_at:
            return
        with self._lock:
            if self._clock() < self._token_expires_at:
                return
            reply = self._classified(TOKEN_LABEL, self._fetch_token)
            self._set_token(reply.access_token)
            self._token_expires_at = self._clock() + max(60, int(reply.expires_in or 0) - _TOKEN_MARGIN_SECONDS)

    def _fetch_token(self) -> Any:
        s = self.settings
        self._add_wait(self._budget.acquire(search=False))
        self._calls[TOKEN_LABEL] += 1
        return self.api("oauth.tokens_api").create(
            grant_type="refresh_token", client_id=s.client_id, client_secret=s.secret("client_secret"),
            refresh_token=s.secret("refresh_token"), _request_timeout=s.timeout_seconds,
        )

    def _set_token(self, token: str) -> None:
        self._sdk.access_token = token  # API objects built from now on
        for path, api in self._apis.items():
            if path != "oauth.tokens_api":
                api.api_client.configuration.access_token = token

    # -- bookkeeping -------------------------------------------------------------------------

    def stats(self) -> CallStats:
        with self._lock:
            return CallStats(by_endpoint=dict(self._calls), rate_limit_wait_seconds=self._waited)

    def close(self) -> None:
        with self._lock:
            for api in self._apis.values():
                pool = getattr(getattr(api.api_client, "rest_client", None), "pool_manager", None)
                if pool is not None:
                    pool.clear()
            self._apis.clear()
