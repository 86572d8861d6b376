"""What the console reads from the CRM, kept for a few minutes (a person clicking around should
not cost a full read each click), and made again on "Refresh" or when the config changes:

- the dry run: `afterclose plan`'s own path (``run_sync(..., dry_run=True)`` after the schema
  check), with every deal it read kept for the preview's search; no write call;
- every won deal, for the handoff scorecard (the deal stream from the start, reads only).

A CRM that cannot be reached, or a mapping that does not fit it, is an ``Unavailable`` answer
naming why: the pages say which parts wait for the CRM, and the rest of the console works.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from connector.errors import AfterCloseError
from connector.model import Deal, DealPage
from jobs import logs
from jobs.cli.runtime import Runtime
from jobs.console.context import ConsoleContext
from jobs.schema_fit import SYNC
from jobs.sync import SyncReport, run_sync
from jobs.sync.stream import DealStream

KEEP_SECONDS = 300.0
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Unavailable:
    reason: str


@dataclass(frozen=True, kw_only=True)
class DryRun:
    at: dt.datetime
    scope: str
    report: SyncReport
    deals: dict[str, Deal]
    calls: int


@dataclass(frozen=True, kw_only=True)
class WonDeals:
    at: dt.datetime
    deals: tuple[Deal, ...]
    calls: int


@dataclass(kw_only=True)
class _Kept(Generic[T]):
    make: Callable[[Runtime], T]
    value: T | Unavailable | None = None
    made_at: float = 0.0
    generation: int = -1
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def get(self, ctx: ConsoleContext, *, fresh: bool = False) -> T | Unavailable:
        with self.lock:
            try:
                runtime = ctx.runtime()
            except AfterCloseError as exc:
                return Unavailable(reason=str(exc))
            stale = time.monotonic() - self.made_at > KEEP_SECONDS or self.generation != ctx.generation
            if fresh or stale or self.value is None or isinstance(self.value, Unavailable):
                self.value = self._make(runtime)
                self.made_at, self.generation = time.monotonic(), ctx.generation
            return self.value

    def _make(self, runtime: Runtime) -> T | Unavailable:
        try:
            return self.make(runtime)
        except AfterCloseError as exc:
            return Unavailable(reason=logs.redact(str(exc)))


@dataclass(kw_only=True)
class CrmReads:
    ctx: ConsoleContext
    _dry_run: _Kept[DryRun] | None = None
    _won: _Kept[WonDeals] | None = None

    def __post_init__(self) -> None:
        self._dry_run = _Kept(make=lambda runtime: _dry_run(runtime, self.ctx))
        self._won = _Kept(make=_won_deals)

    def dry_run(self, *, fresh: bool = False) -> DryRun | Unavailable:
        assert self._dry_run is not None
        return self._dry_run.get(self.ctx, fresh=fresh)

    def won_deals(self, *, fresh: bool = False) -> WonDeals | Unavailable:
        assert self._won is not None
        return self._won.get(self.ctx, fresh=fresh)


def _dry_run(runtime: Runtime, ctx: ConsoleContext) -> DryRun:
    deals: dict[str, Deal] = {}
    with runtime.crm() as session:
        session.preflight((SYNC,))

        def seen(page: DealPage) -> None:
            session.observe(page)
            deals.update((deal.id, deal) for deal in page.deals)

        job = dataclasses.replace(runtime.sync_job(session, ctx.store), on_page=seen)
        report = run_sync(job, dry_run=True)
        return DryRun(at=dt.datetime.now(dt.UTC), scope=job.scope, report=report, deals=deals,
                      calls=session.adapter.call_stats().total)


def _won_deals(runtime: Runtime) -> WonDeals:
    with runtime.crm() as session:
        session.preflight((SYNC,))
        stream = DealStream(session.adapter)
        try:
            deals = tuple(deal for page in stream.changed_since(None) for deal in page.deals if deal.is_won)
        finally:
            stream.close()
        return WonDeals(at=dt.datetime.now(dt.UTC), deals=deals, calls=session.adapter.call_stats().total)
