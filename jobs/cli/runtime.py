"""What every command starts from: settings, mapping, playbook and scope, validated once before
any CRM call; and the CRM session and state store a command opens from them and closes after."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from connector import tls
from connector.errors import AuthError, ConfigError, RetriableError, SchemaError, TlsError
from connector.mapping import FieldMap, builtin_mapping, load_mapping
from connector.model import DealPage, Provider
from connector.port import CrmAdapter
from connector.proxies import proxy_passwords
from jobs import logs
from jobs.cli.exits import CommandFailed, ExitCode
from jobs.cli.stopping import GracefulStop
from jobs.config import Settings
from jobs.nps import NpsJob, build_nps_job
from jobs.playbooks import Playbooks, build_playbooks
from jobs.scopes import resolve_scope
from jobs.state import StateStore, open_store
from jobs.sync import SyncJob
from jobs.wiring import address_of, build_adapter, wiring


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class Runtime:
    settings: Settings
    fieldmap: FieldMap
    playbooks: Playbooks
    address: str
    """Where the config points (jobs/wiring.py ``address_of``); the scope is the account behind it."""
    clock: Callable[[], dt.datetime] = _now
    _resolved: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """The scope this process found behind the address (jobs/scopes.py)."""

    @property
    def provider(self) -> Provider:
        return Provider(self.settings.crm.provider)

    def record_id(self, typed: str) -> str:
        """A record id as a user typed it, in the form the CRM answers with and AfterClose stores
        (a Salesforce 15-character id as its 18 characters)."""
        return wiring(self.provider).record_id(typed)

    @contextlib.contextmanager
    def crm(self, stopping: Callable[[], bool] = lambda: False) -> Iterator[CrmSession]:
        """The adapter for this config, with CRM errors explained in the config's terms.

        ``stopping()`` true at the end (SIGTERM): the adapter is closed without waiting for calls
        still under way, which the process drops when it exits right after (jobs/cli/stopping.py)."""
        session: CrmSession | None = None
        with explain_crm_errors(self.settings, lambda: session is not None and session.reached):
            session = CrmSession(adapter=build_adapter(self.settings, self.fieldmap), fieldmap=self.fieldmap)
            try:
                yield session
            finally:
                if stopping():
                    threading.Thread(target=session.adapter.close, name="adapter-close", daemon=True).start()
                else:
                    session.adapter.close()

    @contextlib.contextmanager
    def store(self) -> Iterator[StateStore]:
        store = open_store(self.settings.state.url)
        try:
            yield store
        finally:
            store.close()

    # -- the scope: the CRM account behind the config's address (jobs/scopes.py) ---------------

    def scope_of(self, session: CrmSession, store: StateStore) -> str:
        """The scope of the account the credentials reach (one CRM call per session)."""
        if session.scope is None:
            session.scope = resolve_scope(store, session.adapter, provider=self.provider.value,
                                          address=self.address)
            self._resolved["scope"] = session.scope
        return session.scope

    def known_scope(self, store: StateStore) -> str | None:
        """The scope without calling the CRM: the one this process found, else the one account
        runs found behind the address (the address itself before any run). None when several
        accounts were found there: only the CRM can tell which one the credentials reach."""
        if "scope" in self._resolved:
            return self._resolved["scope"]
        found = store.scopes_at(self.address)
        return found[0] if len(found) == 1 else self.address if not found else None

    def scope_for_reading(self, store: StateStore) -> str:
        """The scope for a command that only reads the store (``status``): ``known_scope``, and
        the CRM's answer only when several accounts share the address."""
        known = self.known_scope(store)
        if known is not None:
            return known
        with self.crm() as session:
            return self.scope_of(session, store)

    def sync_job(self, session: CrmSession, store: StateStore, should_stop: Callable[[], bool] = lambda: False,
                 record_by: Callable[[], float | None] = lambda: None) -> SyncJob:
        return SyncJob(scope=self.scope_of(session, store), adapter=session.adapter, store=store,
                       fieldmap=self.fieldmap, playbook=self.playbooks.set, clock=self.clock, should_stop=should_stop,
                       record_by=record_by, on_page=session.observe, check_schema=not session.reached)

    def nps_job(self, session: CrmSession, store: StateStore) -> NpsJob | None:
        """The NPS job, or None when ``[nps] source = "none"``."""
        return build_nps_job(self.settings, session.adapter, store, self.fieldmap, self.scope_of(session, store),
                             self.clock, check_schema=not session.reached)


def load_runtime(config_path: Path | None, *, configure_logs: bool = True) -> Runtime:
    settings = Settings.load(config_path)
    if configure_logs:
        logs.configure(settings.log.level, settings.log.format)
    logs.register_secrets([*settings.secret_values(), *proxy_passwords()])
    return runtime_for(settings, load_mapping(settings.crm.mapping or builtin_mapping(settings.crm.provider)))


def runtime_for(settings: Settings, fieldmap: FieldMap) -> Runtime:
    """The runtime of ``settings`` with this mapping, checked as every command checks it: the
    mapping is for the configured CRM, and the playbooks read with it (their conditions test
    mapped fields). The admin console checks an edited mapping through here too."""
    provider = Provider(settings.crm.provider)
    if fieldmap.provider is not provider:
        raise ConfigError(f"this mapping is for {fieldmap.provider.value}, but crm.provider is {provider.value}",
                          source=fieldmap.source, key="provider")
    return Runtime(settings=settings, fieldmap=fieldmap, playbooks=build_playbooks(settings, fieldmap),
                   address=address_of(settings))


# -- the CRM session -------------------------------------------------------------------------


@dataclass(kw_only=True)
class CrmSession:
    """The adapter, plus what the commands show: deal names, pages as they stream, and whether
    the CRM has answered at all (to tell "unreachable" from "failed half-way")."""

    adapter: CrmAdapter
    fieldmap: FieldMap
    deal_names: dict[str, str] = field(default_factory=dict)
    owner_names: dict[str, str] = field(default_factory=dict)
    """CRM user id -> name (or email), from the owners of the deals read: whom a task goes to."""
    page_of_deal: dict[str, int] = field(default_factory=dict)
    """Which page (0, 1, ...) each deal was first read in: `run` applies one page at a time."""
    pages: int = 0
    reached: bool = False
    scope: str | None = None
    """The account's scope, once asked (``Runtime.scope_of``)."""
    on_progress: Callable[[int], None] | None = None

    def preflight(self) -> None:
        """Check the mapping against the live CRM before anything else (SchemaError, exit 2)."""
        problems = self.adapter.check_schema()
        self.reached = True
        if problems:
            raise SchemaError([str(p) for p in problems], source=self.fieldmap.source)

    def observe(self, page: DealPage) -> None:
        self.reached = True
        self.deal_names.update((deal.id, deal.name) for deal in page.deals)
        self.owner_names.update((deal.owner.id, deal.owner.name or deal.owner.email or deal.owner.id)
                                for deal in page.deals if deal.owner is not None)
        for deal in page.deals:
            self.page_of_deal.setdefault(deal.id, self.pages)
        self.pages += 1
        if self.on_progress is not None:
            self.on_progress(len(page.deals))

    def deal_label(self, deal_id: str) -> str:
        """The deal's name and id, or the id alone when the deal was not read in this run."""
        name = self.deal_names.get(deal_id)
        return f"{name} ({deal_id})" if name else deal_id


@contextlib.contextmanager
def explain_crm_errors(settings: Settings, reached: Callable[[], bool]) -> Iterator[None]:
    """Bad credentials and a CRM that never answered are config problems (exit 2, nothing was
    written): name the keys to fix instead of showing the SDK's words alone."""
    wired = wiring(settings.crm.provider)
    try:
        yield
    except AuthError as exc:
        url, _ = wired.endpoint(settings)
        raise CommandFailed(f"the CRM at {url} refused the credentials; check {wired.credential_keys}: {exc}",
                            ExitCode.CONFIG) from None
    except TlsError as exc:
        url, key = wired.endpoint(settings)
        which = (f"the key is {settings.crm.provider.value}.ca_bundle" if exc.error_code == tls.UNKNOWN_CA
                 else f"the URL is {key}")
        raise CommandFailed(f"cannot verify the TLS certificate of the CRM at {url}: {exc}; {which}",
                            ExitCode.CONFIG) from None
    except RetriableError as exc:
        if exc.status is not None or reached():
            raise
        url, key = wired.endpoint(settings)
        raise CommandFailed(f"cannot reach the CRM at {url} (check {key} and the network): {exc}",
                            ExitCode.CONFIG) from None


@contextlib.contextmanager
def progress_for(session: CrmSession, job: str, stream: TextIO | None = None) -> Iterator[None]:
    """A spinner with the deals read so far, on a terminal; nothing when piped."""
    stream = stream if stream is not None else sys.stderr
    if not getattr(stream, "isatty", lambda: False)():
        yield
        return
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.completed} deals"),
                  TimeElapsedColumn(), console=Console(file=stream), transient=True) as progress:
        task = progress.add_task(f"{job}: reading and writing", total=None)
        session.on_progress = lambda deals: progress.advance(task, deals)
        try:
            yield
        finally:
            session.on_progress = None


@contextlib.contextmanager
def stop_on_sigterm(grace_seconds: float) -> Iterator[GracefulStop]:
    """SIGTERM (Kubernetes stopping the pod): no new page's writes, the pages under way recorded as
    they land, gone within ``grace_seconds`` (jobs/cli/stopping.py)."""
    stop = GracefulStop(grace_seconds)
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)
