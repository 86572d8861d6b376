"""``SalesforceSandbox``: a loopback Salesforce org over HTTPS that the unmodified simple-salesforce
client talks to (facts §1: the SDK always builds https:// URLs; §0.2: give it a Session with
``verify=ca_path`` and ``trust_env=False``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from .. import SandboxEndpoint
from ..controls import Controls
from ..server import serve_in_thread
from . import tooling, versions
from .app import build_app
from .auth import Authenticator, ConnectedApp, Sessions, UserCredentials
from .cursors import Cursors
from .errors import ApiError, RecordError
from .identity import OrgSettings
from .ids import KEY_PREFIXES, IdFactory, checked_id, make_id, normalize_id
from .permissions import UserPermissions
from .routes_tooling import new_tooling_store
from .schema import ACTIVITY_OBJECTS, DEFAULT_TIME_ZONE, STAGES, ObjectDef, build_catalog, find_object
from .security import FieldSecurity
from .seed import load_dataset
from .soql_dates import WEEKDAYS, DateContext
from .soql_eval import Engine
from .store import Store
from .values import coerce_input
from .web import ApiUsage

UTC = dt.UTC
INTEGRATION_USERNAME = "integration@afterclose.sandbox"


class _HideDeliberateCuts(logging.Filter):
    """DROP_* faults end a response on purpose; uvicorn would log each one as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_HideDeliberateCuts())


_SESSIONS_BY_CA: dict[str, weakref.WeakSet] = {}


def sdk_session(ca_path: str | Path | None) -> requests.Session:
    """A requests.Session that trusts only the sandbox's test CA (and ignores REQUESTS_CA_BUNDLE)."""
    session = requests.Session()
    session.trust_env = False  # facts §0.2: env CA bundles would override verify
    session.verify = str(ca_path) if ca_path else True
    if ca_path:
        _SESSIONS_BY_CA.setdefault(str(ca_path), weakref.WeakSet()).add(session)
    return session


def _close_client_sessions(ca_path: Path) -> None:
    """Drop the keep-alive connections of clients made by ``sdk_session`` for this sandbox.

    On shutdown the server closes TLS connections gracefully, waiting for each idle client to
    answer close_notify, which a pooled requests connection never does: without this the server
    thread outlives ``serve()`` by the join timeout. A socket whose response object is still
    referenced (say, from a caught SDK exception in a reference cycle) only closes once that
    object is collected, hence the ``gc.collect()``. (Clients made otherwise should close their
    session before ``serve()`` ends.)"""
    for session in list(_SESSIONS_BY_CA.pop(str(ca_path), ())):
        session.close()
    gc.collect()


def sdk_login_domain(base_url: str, *, soap: bool = False, api_version: str = "59.0") -> str:
    """A ``domain=`` for simple-salesforce's login flows that lands on this sandbox (facts §1):
    the SDK builds ``https://{domain}.salesforce.com/...``; a trailing ``#`` turns the rest into a
    URL fragment."""
    host = base_url.split("://", 1)[-1].rstrip("/")
    path = f"/services/Soap/u/{api_version}" if soap else "/services/oauth2/token"
    return f"{host}{path}#"


DEFAULT_ORG_ID = make_id(KEY_PREFIXES["Organization"], 1)
DEFAULT_USER_ID = make_id(KEY_PREFIXES["User"], 1)


class SalesforceSandbox:
    def __init__(self, *, token: str = "sandbox-token", seed: int = 0, latency: float = 0.0,
                 page_size: int = 500, daily_limit: int | None = None, afterclose_fields: bool = True,
                 api_version: str = versions.CURRENT, org_id: str = DEFAULT_ORG_ID,
                 user_id: str = DEFAULT_USER_ID, org_name: str = "AfterClose Sandbox",
                 time_zone: str = DEFAULT_TIME_ZONE, week_start: str = "Sunday", fiscal_year_start_month: int = 1,
                 soap_login_enabled: bool = True, profile_grants_custom_fields: bool = True,
                 new_fields_need_grant: bool = True, permissions: UserPermissions | None = None):
        """``org_id`` (00D...) and ``user_id`` (the integration user, 005...) let a test run two
        orgs with different ids; ``time_zone`` is the integration user's (date literals are
        evaluated in it); ``week_start`` is the first day of the week of the user's locale (en_US:
        Sunday); ``fiscal_year_start_month`` the org's standard fiscal year (1: fiscal =
        calendar); ``soap_login_enabled=False`` is an org created since Winter '26, where
        SOAP ``login()`` is off until an admin enables it; ``profile_grants_custom_fields=False``
        makes the seeded custom fields invisible until a permission set grants them (security.py);
        ``new_fields_need_grant=False`` is the lenient reading for fields created through the Tooling
        API: visible to the integration user at once, as if its profile were granted access (the
        default, stricter reading hides them until a permission set grants them, facts §7 [2ND]);
        ``permissions`` are the integration user's system permissions (Customize Application, ...)."""
        _check_api_version(api_version)
        self.token = token
        self.api_version = api_version
        self.page_size = page_size
        self.org = OrgSettings(org_id=checked_id(org_id, KEY_PREFIXES["Organization"], "org_id"), name=org_name)
        self.time_zone = _zone(time_zone)
        self.week_start = _weekday(week_start)
        if fiscal_year_start_month not in range(1, 13):
            raise ValueError(f"fiscal_year_start_month={fiscal_year_start_month!r}: expected 1 (January) to 12")
        self.fiscal_year_start_month = fiscal_year_start_month
        self.soap_login_enabled = soap_login_enabled
        self.controls = Controls(seed=seed, latency=latency)
        self.usage = ApiUsage(daily_limit)
        self.clock = lambda: dt.datetime.now(UTC)
        """Replace to move the org's "now" (timestamps of writes, TODAY in SOQL)."""
        self.upsert_update_status = 204
        """204 (the documented answer for an upsert that updates) or 200 with ``created: false``
        (reported for newer API versions, unverified): set 200 to test a client under both readings."""
        self.server_error_status = 500
        """SERVER_ERROR faults answer 500 UNKNOWN_EXCEPTION, or 503 SERVER_UNAVAILABLE when set to 503."""
        self.catalog = build_catalog(afterclose_fields=afterclose_fields)
        ids = IdFactory()
        self.store = Store(self.catalog, clock=lambda: self.clock(), ids=ids)
        self.cursors = Cursors(ids)
        self.engine = Engine(self.store, dates=self.date_context, tie_seed=seed)
        self.security = FieldSecurity(self.store, profile_grants_custom_fields=profile_grants_custom_fields)
        self.permissions = permissions or UserPermissions()
        self.new_fields_need_grant = new_fields_need_grant
        self.tooling_store = new_tooling_store(ids, lambda: self.clock())
        self.tooling_engine = Engine(self.tooling_store, dates=self.date_context, tie_seed=seed)
        self.demo_ids: dict[str, dict[int, str]] = {}
        self.instance_url = ""
        self._ca_path: Path | None = None
        self._seed_org(ids.reserve(checked_id(user_id, KEY_PREFIXES["User"], "user_id")))
        self.sessions = Sessions(org_id=self.org.org_id)
        self.sessions.add(token, INTEGRATION_USERNAME)
        self.users_credentials: dict[str, UserCredentials] = {
            INTEGRATION_USERNAME: UserCredentials(password="sandbox-password", security_token="sandboxsecuritytoken"),
        }
        self.connected_app = ConnectedApp(run_as=INTEGRATION_USERNAME)
        self._user_ids = {INTEGRATION_USERNAME: self.store.current_user_id}

    def _seed_org(self, user_id: str) -> None:
        """What every new org has: the API user and the opportunity stages."""
        user_id = self.store.insert_raw("User", {
            "Username": INTEGRATION_USERNAME, "FirstName": "Integration", "LastName": "User",
            "Email": INTEGRATION_USERNAME, "IsActive": True, "TimeZoneSidKey": self.time_zone.key},
            record_id=user_id)
        self.store.current_user_id = self.tooling_store.current_user_id = user_id
        self.store.update("User", user_id, {}, as_user=True)  # owner/creator fields point at itself
        self._seed_tooling_fields()
        for stage in STAGES:
            self.store.insert_raw("OpportunityStage", {
                "MasterLabel": stage.name, "ApiName": stage.name, "IsActive": True, "IsClosed": stage.is_closed,
                "IsWon": stage.is_won, "DefaultProbability": float(stage.probability),
                "ForecastCategoryName": stage.forecast, "SortOrder": float(stage.sort_order)})

    def _seed_tooling_fields(self) -> None:
        """The Tooling API's CustomField rows for the custom fields the org starts with."""
        for odef in self.catalog.values():
            if odef.name == "Event":
                continue  # activity fields are one row, on Activity (listed from Task)
            for fd in odef.fields.values():
                if fd.custom:
                    table = "Activity" if odef.name == "Task" else odef.name
                    self.tooling_store.insert_raw("CustomField", tooling.tooling_record(table, fd))

    def create_custom_field(self, full_name: object, metadata: object) -> str:
        """Tooling API create: the field appears on its object(s), invisible to API users until
        field-level security grants it (security.py); returns the CustomField id."""
        table, name, objects = tooling.targets(self.catalog, full_name)
        fd = tooling.field_from_metadata(name, metadata)
        with self.store.lock:
            if any(self.catalog[obj].field(name) is not None for obj in objects):
                raise ApiError(400, "DUPLICATE_DEVELOPER_NAME",
                               f"There is already a field named {name[:-3]} on {table}.", ["FullName"])
            for obj in objects:
                self.store.add_field(obj, fd)
                if self.new_fields_need_grant:
                    self.security.require_grant(obj, fd.name)
            return self.tooling_store.insert_raw("CustomField", tooling.tooling_record(table, fd))

    def update_custom_field(self, record_id: str, full_name: object, metadata: object) -> None:
        """Tooling API update: the Metadata replaces the field's definition (label, length,
        picklist values ...); its type cannot change here [STRICT: Salesforce converts some types,
        the sandbox converts none]. Field-level security and the values held stay as they are."""
        with self.store.lock:
            row = self.tooling_store.get("CustomField", record_id)
            if row is None:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            if full_name is not None and str(full_name).lower() != row["FullName"].lower():
                raise ApiError(400, "FIELD_INTEGRITY_EXCEPTION", f"FullName {full_name!r} does not name this field "
                               f"({row['FullName']}); a field cannot be renamed here", ["FullName"])
            table, name = row["FullName"].split(".")
            fd = tooling.field_from_metadata(name, metadata)
            objects = list(ACTIVITY_OBJECTS) if table == "Activity" else [table]
            old = self.catalog[objects[0]].field(name)
            if old is not None and old.type != fd.type:
                raise ApiError(400, "FIELD_INTEGRITY_EXCEPTION", f"not supported by this sandbox: changing "
                               f"{row['FullName']} from {old.type} to {fd.type}", ["type"])
            if old is not None and (old.unique, old.external_id) != (fd.unique, fd.external_id):
                raise ApiError(400, "FIELD_INTEGRITY_EXCEPTION", f"not supported by this sandbox: changing "
                               f"unique or externalId of {row['FullName']}", ["unique"])
            for obj in objects:
                self.store.replace_field(obj, fd)
            self.tooling_store.put_raw("CustomField", record_id, tooling.tooling_record(table, fd))

    @property
    def org_id(self) -> str:
        return self.org.org_id

    @property
    def user_id(self) -> str:
        """The integration user's id."""
        return self._user_ids[INTEGRATION_USERNAME]

    def today(self) -> dt.date:
        """The org's "today" for date literals: the clock's instant in the user's time zone."""
        return self.clock().astimezone(self.time_zone).date()

    def date_context(self) -> DateContext:
        return DateContext(today=self.today(), zone=self.time_zone, week_start=self.week_start,
                           fiscal_start_month=self.fiscal_year_start_month)

    def view_for(self, session) -> dict[str, ObjectDef]:
        """The objects and fields as the session's user sees them (field-level security)."""
        return self.security.view(self.user_id_of(session.username))

    def user_id_of(self, username: str) -> str:
        return self._user_ids[username]

    def user_record(self, username: str) -> dict:
        return self.store.get("User", self._user_ids[username])

    @property
    def authenticator(self) -> Authenticator:
        return Authenticator(sessions=self.sessions, users=self.users_credentials, app=self.connected_app,
                             user_ids=self._user_ids, clock=time.time)

    # -------------------------------------------------------------- data
    def load(self, dataset) -> dict[str, dict[int, str]]:
        """Insert a ``connector.sandbox.demo.DemoDataset``; fills and returns ``demo_ids``."""
        ids = load_dataset(self.store, dataset)
        for obj, mapping in ids.items():
            self.demo_ids.setdefault(obj, {}).update(mapping)
        return self.demo_ids

    def records(self, obj: str, *, include_deleted: bool = False) -> list[dict]:
        """Copies of every record of ``obj`` (field -> Python value), for inspection in tests."""
        odef = self._object(obj)
        return [dict(r) for r in self.store.all(odef.name) if include_deleted or not r["IsDeleted"]]

    def edit(self, obj: str, record_id: str, values: dict) -> None:
        """A person editing the record in the UI: any field, no API permissions; bumps
        LastModifiedDate/SystemModstamp and recomputes derived fields."""
        odef = self._object(obj)
        normalized = normalize_id(record_id)
        if normalized is None or self.store.get(odef.name, normalized) is None:
            raise KeyError(f"{odef.name} {record_id!r}: no such record")
        payload = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in values.items()}
        for name, value in payload.items():
            fd = odef.field(name)
            if fd is None:
                raise KeyError(f"{odef.name}.{name}: no such field")
            try:
                coerce_input(fd, value)
            except RecordError as error:
                raise ValueError(f"{odef.name}.{fd.name} = {value!r}: {error.message}") from None
        try:
            with self.store.transaction():
                self.store.update(odef.name, normalized, payload, as_user=True)
        except RecordError as error:
            raise ValueError(f"{odef.name} {normalized}: {error.status_code}: {error.message}") from None

    def expire_sessions(self) -> None:
        """Every current token (including ``token``) now gets 401 INVALID_SESSION_ID until a new login."""
        self.sessions.expire_all()

    def _object(self, obj: str):
        odef = find_object(self.catalog, obj)
        if odef is None:
            raise KeyError(f"{obj!r}: not an sObject of this sandbox ({', '.join(self.catalog)})")
        return odef

    # ------------------------------------------------------------- serve
    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[SandboxEndpoint]:
        with serve_in_thread(build_app(self), host=host, port=port, tls=True) as running:
            self.instance_url = running.base_url
            self._ca_path = running.tls.ca_path
            try:
                yield SandboxEndpoint(provider="salesforce", base_url=running.base_url, token=self.token,
                                      ca_path=running.tls.ca_path)
            finally:
                _close_client_sessions(running.tls.ca_path)
                self.instance_url = ""


def _check_api_version(version: str) -> None:
    major, dot, minor = version.partition(".")
    if not (dot and major.isdigit() and minor == "0" and int(major) >= versions.OLDEST):
        raise ValueError(f"api_version={version!r}: expected a served Salesforce API version such as "
                         f"'{versions.CURRENT}' (31.0 or later, no 'v')")


def _weekday(name: str) -> int:
    if name not in WEEKDAYS:
        raise ValueError(f"week_start={name!r}: expected one of {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(name)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time_zone={name!r}: expected an IANA time zone such as "
                         f"'{DEFAULT_TIME_ZONE}' (Salesforce's TimeZoneSidKey values)") from None


def run_forever(host: str = "127.0.0.1", port: int = 8443, seed_demo: bool = True) -> None:
    """``afterclose sandbox salesforce``: serve until Ctrl-C, printing how to connect."""
    from ..demo import demo_dataset

    sandbox = SalesforceSandbox()
    if seed_demo:
        sandbox.load(demo_dataset())
    with sandbox.serve(host=host, port=port) as ep:
        print(f"Salesforce sandbox (API v{sandbox.api_version}) at {ep.base_url}")
        print(f"  instance_url = {ep.base_url}")
        print(f"  session_id   = {ep.token}")
        print(f"  CA bundle    = {ep.ca_path}   (requests: session.verify = this file; session.trust_env = False)")
        print(f"  login        = {INTEGRATION_USERNAME} / sandbox-password + security token sandboxsecuritytoken")
        print("Press Ctrl-C to stop.", flush=True)
        stop = threading.Event()
        try:
            while not stop.wait(3600):
                pass
        except KeyboardInterrupt:
            print("stopped")
