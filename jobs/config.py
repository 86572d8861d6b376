"""Settings: one TOML file, overridable key by key from the environment, validated once at start.

- ``Settings.load(path)`` reads the file (or nothing when ``path`` is None) and applies
  ``AFTERCLOSE_<SECTION>__<KEY>`` environment variables on top: the environment wins, so a
  container can take the file from an image and the secrets from its orchestrator.
- Every secret is a ``SecretStr`` and can instead be read from ``<key>_file`` (Docker and
  Kubernetes mount secrets as files); the trailing newline such files usually end with is dropped.
- Unknown keys are errors, because a typo in an optional key would otherwise be silently ignored.
- Any problem raises one ``SettingsError`` (a ``ConfigError``) naming the file and, on one line
  each, the dotted key and what is wrong. Values are never echoed, so secrets cannot leak there.
- Rules that involve more than one key live in one place: ``Settings._cross_checks``.

config.example.toml documents every key; tests/jobs/test_config_example.py keeps it in step.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connector.errors import ConfigError
from connector.model import Priority, Provider, TaskType
from connector.nps import DEFAULT_FIELD_PATHS as NPS_DEFAULT_FIELD_PATHS
from connector.nps import NpsSourceConfig
from connector.retry import RetrySettings

ENV_PREFIX = "AFTERCLOSE_"
ENV_DELIMITER = "__"
DEFAULT_STATE_URL = "sqlite:///.afterclose/state.db"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SettingsError(ConfigError):
    """Every problem found in the settings at once; ``problems`` holds (dotted key, message)."""

    def __init__(self, problems: list[tuple[str, str]], *, source: str):
        self.problems = list(problems)
        lines = "\n".join(f"  {key}: {message}" for key, message in self.problems)
        super().__init__(f"invalid settings:\n{lines}", source=source)
        self.key = self.problems[0][0] if self.problems else None


# ---------------------------------------------------------------------------------------------
# Sections


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def reveal(self) -> dict[str, Any]:
        """Plain values for building an adapter: secrets unwrapped, paths as text, *_file dropped
        (their content is already in the secret). Never log the result."""
        values: dict[str, Any] = {}
        for name in type(self).model_fields:
            if name.endswith("_file") and name.removesuffix("_file") in type(self).model_fields:
                continue
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, Path):
                value = str(value)
            values[name] = value
        return values


def _secret(description: str) -> Any:
    return Field(None, description=f"{description} Secret: prefer the environment or the _file key.")


def _secret_file(key: str) -> Any:
    return Field(None, description=f"Path of a file holding {key} (a mounted Docker/Kubernetes secret).")


class CrmSection(_Section):
    provider: Provider = Field(description="Which CRM to work in: hubspot or salesforce.")
    mapping: Path | None = Field(
        None, description="Field mapping TOML; default: the built-in mappings/<provider>.toml."
    )


class HubSpotSection(_Section):
    access_token: SecretStr | None = _secret("Private-app access token (pat-...).")
    access_token_file: Path | None = _secret_file("access_token")
    base_url: str = Field("https://api.hubapi.com", description="API host (the sandbox uses its loopback URL).")
    client_id: str | None = Field(None, description="OAuth app client id (with client_secret and refresh_token).")
    client_secret: SecretStr | None = _secret("OAuth app client secret.")
    client_secret_file: Path | None = _secret_file("client_secret")
    refresh_token: SecretStr | None = _secret("OAuth refresh token of the installing user.")
    refresh_token_file: Path | None = _secret_file("refresh_token")
    rate_limit_per_10s: int = Field(
        190, gt=0, description="The portal's ten-second limit: 100 free/starter, 190 pro/enterprise, 250 with the capacity pack."
    )
    budget_share: float = Field(0.5, gt=0, le=1, description="Share of that limit AfterClose may use (other apps share it).")
    search_per_second: float = Field(5.0, gt=0, description="CRM search requests per second (search has its own limit).")
    timeout_seconds: float = Field(30.0, gt=0, description="Give up on one HTTP call after this long.")
    max_concurrency: int = Field(4, ge=1, le=64, description="Parallel calls within the budget.")
    ca_bundle: Path | None = Field(None, description="Extra CA file to trust (TLS-inspecting proxy); verification stays on.")
    task_key_mode: Literal["auto", "non_unique"] = Field(
        "auto", description='"auto": use unique task keys where the portal grants them; "non_unique": never rely on them.'
    )
    settle_seconds: float = Field(
        60.0, ge=0, description="Seconds after a create before HubSpot's reads are trusted to show it (non-unique keys)."
    )
    settle_max_wait_seconds: float = Field(
        120.0, ge=0, description="Longest a run waits for that; longer leaves those deals to the next run."
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _require_http_url(value)


class SalesforceSection(_Section):
    instance_url: str | None = Field(None, description="https://<your domain>.my.salesforce.com (with access_token).")
    access_token: SecretStr | None = _secret("A ready session/access token (cannot be renewed by AfterClose).")
    access_token_file: Path | None = _secret_file("access_token")
    username: str | None = Field(None, description="Integration user's login name.")
    password: SecretStr | None = _secret("Integration user's password.")
    password_file: Path | None = _secret_file("password")
    security_token: SecretStr | None = _secret("Security token (SOAP username-password login).")
    security_token_file: Path | None = _secret_file("security_token")
    consumer_key: str | None = Field(None, description="Connected app consumer key (OAuth flows).")
    consumer_secret: SecretStr | None = _secret("Connected app consumer secret.")
    consumer_secret_file: Path | None = _secret_file("consumer_secret")
    private_key_file: Path | None = Field(None, description="PEM private key for the JWT bearer flow.")
    domain: str = Field("login", description="login, test, your My Domain (acme.my) or an https:// login URL.")
    ca_bundle: Path | None = Field(None, description="Extra CA file to trust (TLS-inspecting proxy); verification stays on.")
    api_version: str = Field("59.0", pattern=r"^\d{2,3}\.0$", description="REST API version, without the 'v'.")
    timeout_seconds: float = Field(30.0, gt=0, description="Give up on one HTTP call after this long.")
    max_concurrency: int = Field(4, ge=1, le=16, description="Write batches sent at a time.")
    daily_reserve_share: float = Field(
        0.2, ge=0, lt=1, description="Share of the org's daily API allowance left for other integrations."
    )

    @field_validator("instance_url")
    @classmethod
    def _https_instance(cls, value: str | None) -> str | None:
        # simple-salesforce always builds https:// URLs (crm-api-facts §0.1): refuse others up front.
        if value is not None and not value.startswith("https://"):
            raise ValueError("must start with https://")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if "://" in value and not value.startswith("https://"):
            raise ValueError("a login URL must use https://")
        return value

    def login_sets(self) -> dict[str, tuple[str, ...]]:
        """The ways to log in, each the keys it needs (order: which one wins when several fit)."""
        return {
            "access token": ("instance_url", "access_token"),
            # OAuth before SOAP, as the adapter chooses (connector/salesforce/settings.py
            # login_flow): with a connected app configured, the token comes from OAuth and the
            # security token, if any, is appended to the password.
            "OAuth password": ("username", "password", "consumer_key", "consumer_secret"),
            "SOAP password": ("username", "password", "security_token"),
            "JWT bearer": ("username", "consumer_key", "private_key_file"),
            "client credentials": ("consumer_key", "consumer_secret"),
        }


class StateSection(_Section):
    url: SecretStr = Field(
        SecretStr(DEFAULT_STATE_URL),
        description="State database: sqlite:///path (relative to the working dir) or postgresql+psycopg://user@host/db.",
    )
    url_file: Path | None = _secret_file("url")
    history_days: int = Field(
        90, ge=0,
        description="Runs and their per-record outcomes (`status --run/--deal`) older than this are deleted "
                    "after each run, so the database does not grow without end; 0 keeps them all.",
    )


class ScheduleSection(_Section):
    sync: str = Field("*/15 * * * *", description="Cron (5 fields) for the sync job under `afterclose serve`.")
    nps: str | None = Field(None, description="Cron for the NPS job; unset: the NPS job does not run.")
    timezone: str = Field("UTC", description="IANA zone the cron expressions are read in.")
    misfire_grace_seconds: int = Field(300, ge=0, description="A run that starts this late is still run, once.")

    @field_validator("sync", "nps")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value:
            CronTrigger.from_crontab(value)  # raises ValueError naming the bad field
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _require_zone(value)


class TouchPointSection(_Section):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="Stable id (part of every task key: renaming creates new tasks).")
    title: str = Field(min_length=1, description="What the task asks the owner to do.")
    anchor: Literal["close", "renewal"] = Field(description="Counted from the close date or the renewal date.")
    offset: int = Field(0, description="Days after (positive) or before (negative) the anchor.")
    business_days: bool = Field(False, description="Count only workdays (minus holidays) in the offset.")
    type: TaskType = Field(TaskType.TODO, description="call, email or todo.")
    priority: Priority = Field(Priority.NORMAL, description="high, normal or low.")


class PlaybookSection(_Section):
    timezone: str = Field("UTC", description="IANA zone that due dates and workdays are counted in.")
    workdays: tuple[int, ...] = Field(
        (0, 1, 2, 3, 4), description='Workdays as names ("mon" ... "sun"); held as 0 (Monday) to 6 (Sunday).'
    )
    holidays: tuple[dt.date, ...] = Field((), description="Dates that are not workdays.")
    due_hour: int = Field(9, ge=0, le=23, description="Hour of the day (local) tasks fall due.")
    catch_up_days: int = Field(7, ge=0, description="A touch point more overdue than this on its first plan is skipped.")
    contract_term_months: int = Field(12, ge=1, description="Renewal period when the deal has no renewal date.")
    owner_field: str | None = Field(None, description="Canonical field holding the task owner (e.g. the CSM); default: the deal owner.")
    fallback_owner: str | None = Field(
        None, description="CRM user id that gets the tasks of deals whose owner is deactivated or missing; "
                          "unset: the CRM refuses those tasks (reported, retried each run).",
    )
    touch_points: list[TouchPointSection] | None = Field(
        None, min_length=1, description="Replaces the built-in touch points when given."
    )

    @field_validator("workdays", mode="before")
    @classmethod
    def _weekday_numbers(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        return tuple(_weekday_number(day) for day in value)

    @field_validator("workdays")
    @classmethod
    def _some_workday(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("needs at least one workday")
        if not set(value) <= set(range(7)):
            raise ValueError("weekday numbers run from 0 (Monday) to 6 (Sunday)")
        return tuple(sorted(set(value)))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _require_zone(value)


class NpsSection(_Section):
    """Keys mirror connector.nps.NpsSourceConfig (``source`` is its ``kind``), whose rules apply."""

    source: Literal["none", "csv", "http", "hubspot-native"] = Field("none", description="Where NPS responses come from.")
    path: Path | None = Field(None, description="CSV file, or a folder of *.csv files (source = csv).")
    columns: dict[str, str] = Field(default_factory=dict, description="Header in the file per response field, where they differ (csv).")
    date_format: str | None = Field(None, description="strptime format for dates that are not ISO 8601, e.g. %d/%m/%Y.")
    timezone: str = Field("UTC", description="Zone of dates and times written without an offset.")
    url: str | None = Field(None, description="Endpoint listing responses as JSON (source = http).")
    token: SecretStr | None = _secret("Token for the http source.")
    token_file: Path | None = _secret_file("token")
    auth_header: str = Field("Authorization", description="Header that carries the token.")
    auth_scheme: str = Field("Bearer", description='Put before the token ("Bearer <token>"); empty for the token alone.')
    since_param: str | None = Field("since", description="Query parameter asking for responses since the last run.")
    since_format: Literal["iso", "epoch"] = Field("iso", description="How that time is written: iso or epoch (seconds).")
    params: dict[str, str] = Field(default_factory=dict, description="Extra query parameters sent with every request.")
    paging: Literal["none", "next_link", "cursor", "page"] = Field("next_link", description="How the endpoint pages.")
    next_path: str = Field("next", description="Dotted path to the next page's URL (next_link) or cursor (cursor).")
    cursor_param: str = Field("cursor", description="Query parameter carrying the cursor (paging = cursor).")
    page_param: str = Field("page", description="Query parameter carrying the page number (paging = page).")
    first_page: int = Field(1, description="Number of the first page (paging = page).")
    items_path: str = Field("items", description='Dotted path to the list of responses in a page ("" for the page itself).')
    field_paths: dict[str, str] = Field(
        default_factory=lambda: dict(NPS_DEFAULT_FIELD_PATHS), description="Dotted path per response field within one item."
    )
    page_cap: int = Field(500, ge=1, description="Stop after this many pages in one run (a guard against a looping API).")
    timeout_seconds: float = Field(30.0, gt=0, description="Give up on one HTTP call after this long.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else _require_http_url(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _require_zone(value)


class RetrySection(_Section):
    attempts: int = Field(6, ge=1, le=20, description="Tries per CRM call, the first included.")
    base_seconds: float = Field(0.5, gt=0, description="First backoff; doubles each try, with jitter.")
    max_seconds: float = Field(30.0, gt=0, description="Cap on one backoff and on an honoured Retry-After.")

    def as_retry_settings(self) -> RetrySettings:
        return RetrySettings(attempts=self.attempts, base_seconds=self.base_seconds, max_seconds=self.max_seconds)


class LogSection(_Section):
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="debug, info, warning or error.")
    format: Literal["auto", "json", "console"] = Field("auto", description="auto: console on a terminal, JSON otherwise.")

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class ServerSection(_Section):
    host: str = Field("127.0.0.1", description="Address for /metrics and /healthz (0.0.0.0 in a container).")
    port: int = Field(8000, ge=1, le=65535, description="Port for /metrics and /healthz.")


# ---------------------------------------------------------------------------------------------
# The settings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_DELIMITER, case_sensitive=False, extra="forbid"
    )

    crm: CrmSection = Field(default={}, validate_default=True, description="Which CRM and mapping.")  # type: ignore[arg-type]
    hubspot: HubSpotSection = Field(default_factory=HubSpotSection, description="HubSpot connection.")
    salesforce: SalesforceSection = Field(default_factory=SalesforceSection, description="Salesforce connection.")
    state: StateSection = Field(default_factory=StateSection, description="The state database.")
    schedule: ScheduleSection = Field(default_factory=ScheduleSection, description="When `afterclose serve` runs jobs.")
    playbook: PlaybookSection = Field(default_factory=PlaybookSection, description="Touch points and their calendar.")
    nps: NpsSection = Field(default_factory=NpsSection, description="NPS survey source.")
    retry: RetrySection = Field(default_factory=RetrySection, description="Retries of CRM calls.")
    log: LogSection = Field(default_factory=LogSection, description="Logging.")
    server: ServerSection = Field(default_factory=ServerSection, description="Metrics and health endpoint.")

    _source: str | None = PrivateAttr(default=None)
    _inline_secrets: tuple[str, ...] = PrivateAttr(default=())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's content arrives as init values; listing env first makes the environment win.
        return env_settings, init_settings

    @classmethod
    def load(cls, path: str | Path | None = None) -> Settings:
        """Read ``path`` (None: environment and defaults only), apply the environment, validate."""
        if path is None:
            return cls.from_mapping({}, source="environment")
        settings = cls.from_mapping(_read_toml(Path(path)), source=str(path))
        settings._source = str(path)
        return settings

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "settings") -> Settings:
        """Validate already-parsed values (as a TOML file would give them) plus the environment."""
        try:
            settings = cls(**data)
        except ValidationError as exc:
            raise SettingsError(_describe(exc), source=source) from None
        except SettingsError as exc:  # from the cross-field validator, which cannot know the source
            raise SettingsError([(k, m + _env_hint(k)) for k, m in exc.problems], source=source) from None
        settings._inline_secrets = tuple(_inline_secret_keys(data))
        return settings

    @property
    def source(self) -> str | None:
        """The file the settings came from (None when only the environment was used)."""
        return self._source

    # -- the one place for rules across keys ---------------------------------------------------

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        problems = list(self._read_secret_files())
        problems += self._check_state_url()
        problems += self._check_paths()
        if self.crm.provider is Provider.HUBSPOT:
            problems += self._check_hubspot_auth()
        else:
            problems += self._check_salesforce_login()
        problems += self._check_nps()
        problems += self._check_playbook()
        if self.retry.base_seconds > self.retry.max_seconds:
            problems.append(("retry.base_seconds", "must not be above retry.max_seconds"))
        if problems:
            # Not a ValueError, so pydantic lets it through whole, one line per problem.
            raise SettingsError(problems, source="settings")
        return self

    def _read_secret_files(self) -> Iterator[tuple[str, str]]:
        for section_name, section, name in _secret_fields(self):
            key = f"{section_name}.{name}"
            inline, file = getattr(section, name), getattr(section, f"{name}_file")
            inline_given = name in section.model_fields_set and inline is not None
            if file is None:
                continue
            if inline_given:
                yield f"{key}_file", f"{key} is given too; give the secret inline or as a file, not both"
                continue
            try:
                content = Path(file).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                yield f"{key}_file", f"cannot read {file}: {exc.strerror or exc}"
                continue
            if not content:
                yield f"{key}_file", f"{file} is empty"
                continue
            setattr(section, name, SecretStr(content))

    def _check_state_url(self) -> Iterator[tuple[str, str]]:
        try:
            url = make_url(self.state.url.get_secret_value())
        except ArgumentError:
            yield "state.url", "not a database URL (expected sqlite:///path or postgresql+psycopg://user@host/db)"
            return
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            yield "state.url", f"unsupported database {url.get_backend_name()!r}; use sqlite or postgresql"

    def _check_paths(self) -> Iterator[tuple[str, str]]:
        wanted: list[tuple[str, Path | None]] = [("crm.mapping", self.crm.mapping)]
        if self.crm.provider is Provider.SALESFORCE:
            wanted += [("salesforce.private_key_file", self.salesforce.private_key_file),
                       ("salesforce.ca_bundle", self.salesforce.ca_bundle)]
        else:
            wanted += [("hubspot.ca_bundle", self.hubspot.ca_bundle)]
        for key, path in wanted:
            if path is not None and not Path(path).is_file():
                yield key, f"no such file: {path}"
        if self.nps.source == "csv" and self.nps.path is not None and not self.nps.path.exists():
            yield "nps.path", f"no such file or folder: {self.nps.path}"

    def _check_hubspot_auth(self) -> Iterator[tuple[str, str]]:
        hubspot = self.hubspot
        oauth = {"client_id": hubspot.client_id, "client_secret": hubspot.client_secret, "refresh_token": hubspot.refresh_token}
        missing = [name for name, value in oauth.items() if not value]
        if hubspot.access_token is None and len(missing) == len(oauth):
            yield "hubspot.access_token", (
                "provider is hubspot: set access_token (private app) or client_id + client_secret + refresh_token (OAuth)"
            )
        elif 0 < len(missing) < len(oauth):
            # A half-given OAuth set is a mistake even next to a token: say so rather than ignore it.
            yield f"hubspot.{missing[0]}", f"OAuth needs {', '.join(missing)} too"

    def _check_salesforce_login(self) -> Iterator[tuple[str, str]]:
        salesforce = self.salesforce
        have = {name for name in type(salesforce).model_fields if getattr(salesforce, name) is not None}
        complete = [label for label, keys in salesforce.login_sets().items() if have.issuperset(keys)]
        if not complete:
            options = " | ".join("+".join(keys) for keys in salesforce.login_sets().values())
            yield "salesforce", f"provider is salesforce but no way to log in is complete; give one of: {options}"
        elif complete == ["client credentials"] and "username" not in have and salesforce.domain in ("login", "test"):
            # Salesforce issues client-credential tokens only on the org's own My Domain.
            yield "salesforce.domain", "the client-credentials flow needs your My Domain (e.g. acme.my), not login/test"

    def _check_nps(self) -> Iterator[tuple[str, str]]:
        if self.nps.source == "hubspot-native" and self.crm.provider is not Provider.HUBSPOT:
            yield "nps.source", "hubspot-native needs crm.provider = hubspot"
            return
        try:
            self.nps_source_config()  # the source's own rules (connector/nps), stated once there
        except ConfigError as exc:
            message = str(exc).removeprefix(f"{exc.key}: ") if exc.key else str(exc)
            yield exc.key or "nps", message

    def _check_playbook(self) -> Iterator[tuple[str, str]]:
        seen: set[str] = set()
        for index, touch_point in enumerate(self.playbook.touch_points or ()):
            if touch_point.id in seen:
                yield f"playbook.touch_points[{index}].id", f"{touch_point.id!r} is used twice; ids must be unique"
            seen.add(touch_point.id)

    # -- for the rest of the program -----------------------------------------------------------

    def nps_source_config(self) -> NpsSourceConfig:
        """What connector.nps.build_source needs, with the shared retry policy."""
        values = self.nps.reveal()
        kind = values.pop("source")
        return NpsSourceConfig(kind=kind, retry=self.retry.as_retry_settings(), **values)

    def secret_values(self) -> list[str]:
        """Every secret value, for masking in logs (the state URL's password included)."""
        values = [
            secret.get_secret_value()
            for section_name, section, name in _secret_fields(self)
            if (secret := getattr(section, name)) is not None and (section_name, name) != ("state", "url")
        ]
        # The state URL is only secret for its password; masking a plain sqlite path helps nobody.
        password = make_url(self.state.url.get_secret_value()).password
        return values + ([self.state.url.get_secret_value(), str(password)] if password else [])

    def file_warnings(self) -> list[str]:
        """Advice about the config file itself: inline secrets in a file others can read."""
        if self._source is None or not self._inline_secrets:
            return []
        try:
            mode = os.stat(self._source).st_mode
        except OSError:
            return []
        if not mode & (stat.S_IRGRP | stat.S_IROTH):
            return []
        return [
            f"{self._source} holds secrets ({', '.join(self._inline_secrets)}) and is readable by other users "
            f"(mode {stat.S_IMODE(mode):o}): chmod 600 it, or move the secrets to "
            f"{ENV_PREFIX}<SECTION>{ENV_DELIMITER}<KEY> variables or *_file keys"
        ]


# ---------------------------------------------------------------------------------------------
# Helpers


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("config file not found", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None


def _secret_fields(settings: Settings) -> Iterator[tuple[str, _Section, str]]:
    """(section name, section, secret field) for every secret that has a ``_file`` twin."""
    for section_name in type(settings).model_fields:
        section = getattr(settings, section_name)
        fields = type(section).model_fields
        for name in fields:
            if f"{name}_file" in fields:
                yield section_name, section, name


def _inline_secret_keys(data: dict[str, Any]) -> Iterator[str]:
    for section_name, field_info in Settings.model_fields.items():
        section_type = field_info.annotation
        values = data.get(section_name)
        if not isinstance(values, dict) or not isinstance(section_type, type):
            continue
        for name in section_type.model_fields:
            if f"{name}_file" in section_type.model_fields and values.get(name) is not None:
                if (section_name, name) == ("state", "url") and not _has_password(values[name]):
                    continue
                yield f"{section_name}.{name}"


def _has_password(url: Any) -> bool:
    try:
        return bool(make_url(str(url)).password)
    except ArgumentError:
        return False


def _describe(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        key = _dotted(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = _unknown_key_message(error["loc"])
        problems.append((key, message + _env_hint(key)))
    return problems


def _dotted(loc: tuple[Any, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _unknown_key_message(loc: tuple[Any, ...]) -> str:
    known = _known_keys_at(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return "unknown key" + (f"; did you mean {close[0]!r}?" if close else f" (known here: {', '.join(sorted(known))})")


def _known_keys_at(parent: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] | None = Settings
    for part in parent:
        if isinstance(part, int):
            continue
        field_info = model.model_fields.get(str(part)) if model else None
        model = _model_in(field_info.annotation) if field_info else None
    return list(model.model_fields) if model else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside an annotation such as ``list[TouchPointSection] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for arg in getattr(annotation, "__args__", ()) if (m := _model_in(arg))), None)


def _env_hint(key: str) -> str:
    """Say when the value came from the environment, so nobody hunts for it in the file."""
    name = ENV_PREFIX + ENV_DELIMITER.join(part.split("[")[0] for part in key.split(".")).upper()
    present = {env.upper() for env in os.environ}
    return f" (from {name})" if name in present else ""


def _require_http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


def _require_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like 'Europe/Berlin'") from None
    return value


def _weekday_number(day: Any) -> Any:
    if isinstance(day, str) and day.strip().lower()[:3] in WEEKDAYS:
        return WEEKDAYS.index(day.strip().lower()[:3])
    if isinstance(day, str):
        raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
    return day
