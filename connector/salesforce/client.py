"""Every Salesforce call AfterClose makes goes through ``SalesforceClient.call``.

One place for: the timeout, the retry policy (``connector.retry.call_classified``), counting
calls per endpoint, the daily-allowance guard, and renewing an expired session exactly once.
"""

from __future__ import annotations

import collections
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from simple_salesforce import Salesforce

from connector.errors import AuthError, CrmError, QuotaExhaustedError, RateLimitedError
from connector.port import CallStats
from connector.retry import RetrySettings, call_classified, without_secrets
from connector.salesforce import auth
from connector.salesforce.errors import PROVIDER, facts_of
from connector.salesforce.settings import AuthFlow, SalesforceSettings

T = TypeVar("T")
MAX_RELOGINS_PER_RUN = 3
"""A session that keeps dying right after login is a misconfiguration, not something to loop on."""


class SalesforceClient:
    def __init__(self, settings: SalesforceSettings, retry: RetrySettings, *,
                 sleep: Callable[[float], None] = time.sleep):
        self._settings = settings
        self._retry = retry
        self._sleep = sleep
        self._session = auth.build_session(settings)
        self._sf: Salesforce | None = None
        self._calls: collections.Counter[str] = collections.Counter()
        self._waited = 0.0
        self._usage: tuple[int, int] | None = None
        self.relogins = 0
        self._lock = threading.RLock()  # counters and session renewal, from write threads too
        self._executor: ThreadPoolExecutor | None = None
        self._generation = 0
        """Bumped by every new session, so concurrent calls that meet one 401 renew it once."""

    # -- the calls the adapter needs -------------------------------------------------------
    def query(self, soql: str) -> dict:
        return self.call("query", lambda sf: sf.query(soql, timeout=self._timeout))

    def query_more(self, next_url: str) -> dict:
        return self.call("query", lambda sf: sf.query_more(next_url, identifier_is_url=True,
                                                            timeout=self._timeout))

    def restful(self, label: str, path: str, *, method: str = "GET", **kwargs: Any) -> Any:
        return self.call(label, lambda sf: sf.restful(path, method=method, timeout=self._timeout, **kwargs))

    def map_concurrent(self, fn: Callable[[T], object], items: Iterable[T]) -> list:
        """``fn`` over ``items``, ``max_concurrency`` at a time, results in order: write collections
        overlap their latency instead of queueing behind each other (the benchmark's finding)."""
        items = list(items)
        if not items or self._settings.max_concurrency == 1:
            return [fn(item) for item in items]
        # Even one item goes to the pool: two pages' writes may be under way at once (jobs/sync/)
        # and the pool is what keeps them to ``max_concurrency`` calls together.
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self._settings.max_concurrency,
                                                    thread_name_prefix="salesforce")
        futures = [self._executor.submit(fn, item) for item in items]
        return [future.result() for future in futures]

    # -- the one wrapper ---------------------------------------------------------------------
    def call(self, label: str, fn: Callable[[Salesforce], T]) -> T:
        with self._lock:
            self._connect()
            session = self._generation
        try:
            return self._attempt(label, fn)
        except AuthError as error:
            if error.status != 401:
                raise
            with self._lock:
                if self._generation == session:  # a concurrent call may have renewed it already
                    self._renew(error)
            # Second and last try: a 401 right after a fresh login propagates as AuthError.
            return self._attempt(label, fn)

    def _attempt(self, label: str, fn: Callable[[Salesforce], T]) -> T:
        def once() -> T:
            self._check_allowance()
            with self._lock:
                self._calls[label] += 1
                # None only for the login itself, whose ``fn`` makes the session this needs.
                sf = cast(Salesforce, self._sf)
            try:
                return fn(sf)
            except Exception as exc:
                # The SDK's finished frames still hold the HTTP response, and tenacity's retry
                # state makes a reference cycle around the exception: without this the socket
                # stays open until the garbage collector runs. Line numbers are kept.
                traceback.clear_frames(exc.__traceback__)
                raise
            finally:
                self._note_usage(sf)

        return call_classified(once, lambda exc: without_secrets(facts_of(exc, label), self._secrets()),
                               self._retry, on_wait=self._on_wait, sleep=self._sleep)

    def _secrets(self) -> list[str | None]:
        """Every credential this client holds, the session id of the moment included."""
        s = self._settings
        return [*(s.secret(name) for name in s.secret_names()), auth.basic_credential(s),
                self._sf.session_id if self._sf is not None else None]

    def _connect(self) -> None:
        if self._sf is not None:
            return
        if self._settings.auth_flow() is AuthFlow.DIRECT:
            self._use(auth.direct_token(self._settings))
        else:
            self._use(self._attempt("login", lambda _sf: auth.login(self._settings, self._session)))

    def _renew(self, error: AuthError) -> None:
        if self._settings.login_flow() is None:
            raise AuthError(
                "Salesforce rejected the access token (expired or revoked) and no login credentials "
                "are configured to renew it: provide a fresh access_token, or username/password/"
                "consumer_key credentials so AfterClose can log in again",
                provider=PROVIDER, status=error.status, endpoint=error.endpoint,
                error_code=error.error_code) from error
        if self.relogins >= MAX_RELOGINS_PER_RUN:
            raise AuthError(f"Salesforce session expired again after {self.relogins} fresh logins in "
                            "this run; check the connected app's session policy",
                            provider=PROVIDER, status=error.status, error_code=error.error_code) from error
        self.relogins += 1
        self._use(self._attempt("login", lambda _sf: auth.login(self._settings, self._session)))

    def _use(self, token: auth.Token) -> None:
        # Direct mode: the SDK never re-logs in by itself (see auth.py for why).
        self._generation += 1
        self._sf = Salesforce(session_id=token.access_token, instance_url=token.instance_url,
                              session=self._session, version=self._settings.api_version)

    # -- the daily allowance ------------------------------------------------------------------
    def _note_usage(self, sf: Salesforce | None) -> None:
        usage = sf.api_usage.get("api-usage") if sf is not None else None
        if usage is not None:
            self._usage = (usage.used, usage.total)

    def _check_allowance(self) -> None:
        """Stop before the call that would eat into the share kept for other integrations.

        Salesforce reports ``Sforce-Limit-Info: api-usage=used/total`` on each reply (facts §4);
        the SDK parses it into ``sf.api_usage``.
        """
        if self._usage is None:
            return
        used, total = self._usage
        reserve = total * self._settings.daily_reserve_share
        if total and total - used <= reserve:
            raise QuotaExhaustedError(
                f"Salesforce daily API allowance: {used:,} of {total:,} used; AfterClose stops here to "
                f"leave {self._settings.daily_reserve_share:.0%} ({int(reserve):,} calls) for other "
                "integrations. The next run resumes from the saved cursor.",
                provider=PROVIDER, error_code="DAILY_RESERVE")

    @property
    def api_usage(self) -> tuple[int, int] | None:
        return self._usage

    # -- bookkeeping --------------------------------------------------------------------------
    def _on_wait(self, error: CrmError, seconds: float) -> None:
        if isinstance(error, RateLimitedError):
            self._waited += seconds

    def stats(self) -> CallStats:
        return CallStats(by_endpoint=dict(self._calls), rate_limit_wait_seconds=self._waited)

    @property
    def _timeout(self) -> float:
        return self._settings.timeout_seconds

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._session.close()
