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

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as EnvParseError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connector.errors import ConfigError
from connector.hubspot.settings import HubSpotSettings
from connector.model import Provider
from connector.nps import NpsSourceConfig
from connector.retry import RetrySettings
from connector.salesforce.settings import SalesforceSettings
from connector.settings import Section
from jobs.config_file import inline_secret_keys, read_toml, readable_secrets_warning
from jobs.config_messages import ENV_DELIMITER, ENV_PREFIX, describe, env_hint, env_parse_problems
from jobs.config_playbook import (
    PlaybookEntrySection,
    PlaybookSection,
    TouchPointSection,
    require_zone,
)
from jobs.console.settings import ConsoleSection
from jobs.serve.cron import crontab_trigger

DEFAULT_STATE_URL = "sqlite:///.afterclose/state.db"


class SettingsError(ConfigError):
    """Every problem found in the settings at once; ``problems`` holds (dotted key, message)."""

    def __init__(self, problems: list[tuple[str, str]], *, source: str):
        self.problems = list(problems)
        lines = "\n".join(f"  {key}: {message}" for key, message in self.problems)
        super().__init__(f"invalid settings:\n{lines}", source=source)
        self.key = self.problems[0][0] if self.problems else None


# ---------------------------------------------------------------------------------------------
# Sections


def _secret(description: str) -> Any:
    return Field(None, description=f"{description} Secret: prefer the environment or the _file key.")


def _secret_file(key: str) -> Any:
    return Field(None, description=f"Path of a file holding {key} (a mounted Docker/Kubernetes secret).")


class CrmSection(Section):
    provider: Provider = Field(description="Which CRM to work in: hubspot or salesforce.")
    mapping: Path | None = Field(
        None, description="Field mapping TOML; default: the built-in mappings/<provider>.toml."
    )


class StateSection(Section):
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


class ScheduleSection(Section):
    sync: str = Field("*/15 * * * *", description="Cron (5 fields, as crontab(5): day of week 0 and 7 are Sunday, "
                                                  "MON-FRI works) for the sync job under `afterclose serve`.")
    nps: str | None = Field(None, description="Cron for the NPS job; unset: the NPS job does not run.")
    timezone: str = Field("UTC", description="IANA zone the cron expressions are read in.")
    misfire_grace_seconds: int = Field(300, ge=0, description="A run that starts this late is still run, once.")

    @field_validator("sync", "nps")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value:
            crontab_trigger(value, "UTC")  # raises ValueError naming the bad field
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return require_zone(value)


class LogSection(Section):
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="debug, info, warning or error.")
    format: Literal["auto", "json", "console"] = Field("auto",
                                                       description="auto: console on a terminal, JSON otherwise.")

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class ServerSection(Section):
    host: str = Field("127.0.0.1", description="Address for /metrics and /healthz (0.0.0.0 in a container).")
    port: int = Field(8000, ge=1, le=65535, description="Port for /metrics and /healthz.")
    stop_grace_seconds: float = Field(
        20.0, ge=1, le=3600,
        description="On SIGTERM, `run` and `serve` record what has landed and exit within this many seconds; keep "
                    "it below the platform's own grace (Kubernetes: terminationGracePeriodSeconds, 30 by default).",
    )


# ---------------------------------------------------------------------------------------------
# The settings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_DELIMITER, case_sensitive=False, extra="forbid"
    )

    crm: CrmSection = Field(default={}, validate_default=True, description="Which CRM and mapping.")
    hubspot: HubSpotSettings = Field(default_factory=HubSpotSettings, description="HubSpot connection.")
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings, description="Salesforce connection.")
    state: StateSection = Field(default_factory=StateSection, description="The state database.")
    schedule: ScheduleSection = Field(default_factory=ScheduleSection, description="When `afterclose serve` runs jobs.")
    playbook: PlaybookSection = Field(default_factory=PlaybookSection, description="Touch points and their calendar.")
    nps: NpsSourceConfig = Field(default_factory=NpsSourceConfig, description="NPS survey source.")
    retry: RetrySettings = Field(default_factory=RetrySettings, description="Retries of CRM calls.")
    log: LogSection = Field(default_factory=LogSection, description="Logging.")
    server: ServerSection = Field(default_factory=ServerSection, description="Metrics and health endpoint.")
    console: ConsoleSection = Field(default_factory=ConsoleSection, description="The admin console (off unless on).")

    _source: str | None = PrivateAttr(default=None)
    _inline_secrets: tuple[str, ...] = PrivateAttr(default=())
    _file_values: dict[str, Any] = PrivateAttr(default_factory=dict)
    """What the config file said, before the environment (jobs/config_sources.py)."""

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
        settings = cls.from_mapping(read_toml(Path(path)), source=str(path))
        settings._source = str(path)
        return settings

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "settings") -> Settings:
        """Validate already-parsed values (as a TOML file would give them) plus the environment."""
        try:
            settings = cls(**data)
        except ValidationError as exc:
            raise SettingsError(describe(exc, cls), source=source) from None
        except EnvParseError as exc:  # a variable pydantic-settings could not even read
            raise SettingsError(env_parse_problems(exc, cls), source=source) from None
        except SettingsError as exc:  # from the cross-field validator, which cannot know the source
            raise SettingsError([(k, m + env_hint(k)) for k, m in exc.problems], source=source) from None
        settings._inline_secrets = tuple(inline_secret_keys(data, cls))
        settings._file_values = data
        return settings

    @property
    def source(self) -> str | None:
        """The file the settings came from (None when only the environment was used)."""
        return self._source

    # -- the one place for rules across keys ---------------------------------------------------

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        problems = list(self._check_state_url())
        problems += self._check_paths()
        section = self.crm.provider.value
        problems += [(f"{section}.{key}" if key != section else key, message)
                     for key, message in getattr(self, section).credential_problems()]
        if self.nps.source == "hubspot-native" and self.crm.provider is not Provider.HUBSPOT:
            problems.append(("nps.source", "hubspot-native needs crm.provider = hubspot"))
        problems += self._check_playbook()
        if problems:
            # Not a ValueError, so pydantic lets it through whole, one line per problem.
            raise SettingsError(problems, source="settings")
        return self

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
        if self.nps.source == "http":
            wanted.append(("nps.ca_bundle", self.nps.ca_bundle))
        for key, path in wanted:
            if path is not None and not Path(path).is_file():
                yield key, f"no such file: {path}"
        if self.nps.source == "csv" and self.nps.path is not None and not self.nps.path.exists():
            yield "nps.path", f"no such file or folder: {self.nps.path}"

    def _check_playbook(self) -> Iterator[tuple[str, str]]:
        section = self.playbook
        named: list[tuple[str, Sequence[TouchPointSection | PlaybookEntrySection]]] = [
            ("touch_points", section.touch_points or []), ("playbooks", section.playbooks or [])]
        for name, items in named:
            seen: set[str] = set()
            for index, item in enumerate(items):
                if item.id in seen:
                    yield f"playbook.{name}[{index}].id", f"{item.id!r} is used twice; ids must be unique"
                seen.add(item.id)
        if section.file is not None:
            if section.touch_points or section.playbooks:
                yield "playbook.file", "give the touch points and playbooks in the file or here, not both"
            if not Path(section.file).is_file():
                yield "playbook.file", f"no such file: {section.file}"

    # -- for the rest of the program -----------------------------------------------------------

    def nps_source_config(self) -> NpsSourceConfig:
        """What connector.nps.build_source needs."""
        return self.nps

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
        return readable_secrets_warning(self._source, self._inline_secrets) if self._source else []

    @property
    def file_values(self) -> dict[str, Any]:
        """What the config file said, before the environment (jobs/config_sources.py)."""
        return self._file_values


# ---------------------------------------------------------------------------------------------
# Helpers


def _secret_fields(settings: Settings) -> Iterator[tuple[str, Section, str]]:
    """(section name, section, secret field) for every secret that has a ``_file`` twin."""
    for section_name in type(settings).model_fields:
        section = getattr(settings, section_name)
        if isinstance(section, Section):
            for name in section.secret_names():
                yield section_name, section, name


def _require_http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value
