"""Survey sources: where NPS responses come from (a CSV export, a survey tool's REST API, nothing).

Every source answers one question, ``fetch(since) -> SourceBatch``: the responses it could read,
the rows it could not (with the file or URL, the line and the reason), and the cursor to pass
next time. Sources never decide what is *new*: each response carries a stable ``response_id``
(the survey tool's, or one derived from email + time) and the NPS job keeps the set of ids it
has already applied, so a file read every run or an API that repeats its last item costs nothing.

Which source runs is configuration (``NpsSourceConfig``, mapped from the ``[nps]`` TOML table by
jobs/config.py); ``build_source`` turns it into a source. The ``hubspot-native`` source reads
HubSpot's own survey data and is built by the HubSpot adapter, which passes it in here.

See docs/nps.md for the CSV format, the HTTP field paths and the choices made on bad input.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from connector.errors import AfterCloseError, ConfigError
from connector.model import NpsResponse, require_aware
from connector.retry import RetrySettings
from connector.settings import Section, problem

SourceKind = Literal["none", "csv", "http", "hubspot-native"]
SOURCE_KINDS: tuple[str, ...] = ("none", "csv", "http", "hubspot-native")
Paging = Literal["none", "next_link", "cursor", "page"]
PAGING_MODES: tuple[str, ...] = ("none", "next_link", "cursor", "page")

CANONICAL_COLUMNS = ("email", "score", "responded_at", "comment", "response_id", "account_id")
REQUIRED_COLUMNS = ("email", "score", "responded_at")
DEFAULT_FIELD_PATHS: Mapping[str, str] = MappingProxyType({
    "response_id": "id",
    "email": "email",
    "score": "score",
    "responded_at": "responded_at",
    "comment": "comment",
})
"""Where each value sits inside one item of an HTTP source's JSON (dotted paths)."""

_PARAM_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]+")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # RFC 9110 token


class SourceError(AfterCloseError):
    """A survey source answered something AfterClose cannot use: stop that source, keep the cursor.

    ``source`` names the file or URL; ``status`` is the HTTP status when there was one.
    """

    def __init__(self, message: str, *, source: str | None = None, status: int | None = None):
        self.source = source
        self.status = status
        super().__init__(f"{source}: {message}" if source else message)


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceCursor:
    """Where an incremental source stopped: responses at or after ``since`` are asked for next."""

    since: dt.datetime

    def __post_init__(self) -> None:
        require_aware("SourceCursor.since", self.since)

    def to_text(self) -> str:
        """ISO 8601 in UTC (how the http source asks "since ...")."""
        return self.since.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True, slots=True)
class RejectedRow:
    """One row or item a source could not import, and why. Nothing is dropped silently."""

    source: str
    """The file path or URL it came from."""
    line: int | None
    """The line in the file where the row starts (1 = the header); None for API items."""
    reason: str
    raw: str
    """The row as read (shortened), so an admin can find and fix it."""

    def describe(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceBatch:
    responses: tuple[NpsResponse, ...]
    rejected: tuple[RejectedRow, ...]
    cursor: SourceCursor | None
    """What to pass to the next ``fetch``; None for sources that read everything every time."""
    duplicates: int = 0
    """Rows dropped because an identical row (same response id, same values) was already read."""


@runtime_checkable
class NpsSource(Protocol):
    name: str

    def fetch(self, since: SourceCursor | None) -> SourceBatch:
        """Everything readable now (incremental sources: since ``since``). Raises ``SourceError``
        (or ``ConfigError`` for a file that cannot be read as configured) when nothing usable
        came back; the caller then keeps its cursor."""
        ...


class NpsSourceConfig(Section):
    """Everything a source needs, validated once; also the config file's ``[nps]`` section
    (jobs/config.py). The token never appears in ``repr``."""

    source: SourceKind = Field("none", description="Where NPS responses come from: none, csv, http or hubspot-native.")
    # csv
    path: Path | None = Field(None,
                              description="CSV file, or a folder of *.csv files read in name order (source = csv).")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Header in the file per response field, where they differ (csv). Matching "
                                          "ignores case and treats spaces, _ and - alike.")
    date_format: str | None = Field(None, description="strptime format for dates that are not ISO 8601, e.g. %d/%m/%Y.")
    timezone: str = Field("UTC", description="Zone of dates and times written without an offset.")
    # http
    url: str | None = Field(None, description="Endpoint listing responses as JSON (source = http).")
    token: SecretStr | None = Field(None, description="Token for the http source. Secret: prefer the environment "
                                                      "or the _file key.")
    token_file: Path | None = Field(None, description="Path of a file holding token.")
    auth_header: str = Field("Authorization", description="Header that carries the token.")
    auth_scheme: str = Field("Bearer",
                             description='Put before the token ("Bearer <token>"); empty for the token alone.')
    since_param: str | None = Field("since", description="Query parameter asking for responses since the last run.")
    since_format: Literal["iso", "epoch"] = Field("iso",
                                                  description="How that time is written: iso or epoch (seconds).")
    params: dict[str, str] = Field(default_factory=dict, description="Extra query parameters sent with every request.")
    paging: Paging = Field("next_link", description="How the endpoint pages: none, next_link, cursor or page.")
    next_path: str = Field("next", description="Dotted path to the next page's URL (next_link) or cursor (cursor).")
    cursor_param: str = Field("cursor", description="Query parameter carrying the cursor (paging = cursor).")
    page_param: str = Field("page", description="Query parameter carrying the page number (paging = page).")
    first_page: int = Field(1, description="Number of the first page (paging = page).")
    items_path: str = Field("items",
                            description='Dotted path to the list of responses in a page ("" for the page itself).')
    field_paths: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_FIELD_PATHS),
        description="Dotted path per response field within one item.")
    page_cap: int = Field(500, ge=1,
                          description="Stop after this many pages in one run (a guard against a looping API).")
    timeout_seconds: float = Field(30.0, gt=0, description="Give up on one HTTP call after this long.")
    ca_bundle: Path | None = Field(
        None, description="Extra CA file to trust for the http source (a TLS-inspecting proxy, a private CA); "
                          "verification stays on.")

    @property
    def kind(self) -> str:
        return self.source

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like 'Europe/Berlin'") from None
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _source_rules(self) -> NpsSourceConfig:
        if self.source == "csv":
            self._check_csv()
        elif self.source == "http":
            self._check_http()
        return self

    def _check_csv(self) -> None:
        if self.path is None:
            raise problem("path", "the csv source needs a path (a .csv file or a folder of them)")
        unknown = sorted(set(self.columns) - set(CANONICAL_COLUMNS))
        if unknown:
            raise problem("columns", f"unknown column name(s) {', '.join(unknown)}; the columns are: "
                                     f"{', '.join(CANONICAL_COLUMNS)}")
        if self.date_format is not None:
            _check_date_format(self.date_format)

    def _check_http(self) -> None:
        if not self.url:
            raise problem("url", "the http source needs an http(s) url")
        if not _HEADER_NAME.fullmatch(self.auth_header):
            raise problem("auth_header", f"{self.auth_header!r} is not a valid HTTP header name")
        for key, name in (("since_param", self.since_param), ("cursor_param", self.cursor_param),
                          ("page_param", self.page_param)):
            if name is not None and not _PARAM_NAME.fullmatch(name):
                raise problem(key, f"{name!r} is not a query parameter name")
        missing = [name for name in REQUIRED_COLUMNS if not self.field_paths.get(name)]
        if missing:
            raise problem("field_paths", f"field_paths needs a path for: {', '.join(missing)}")
        unknown = sorted(set(self.field_paths) - set(CANONICAL_COLUMNS))
        if unknown:
            raise problem("field_paths", f"unknown field(s) {', '.join(unknown)}; the fields are: "
                                         f"{', '.join(CANONICAL_COLUMNS)}")


def _check_date_format(fmt: str) -> None:
    sample = dt.datetime(2026, 3, 2, 14, 5, tzinfo=dt.UTC)
    try:
        dt.datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError as exc:
        raise problem("date_format", f"date_format {fmt!r} cannot read its own output: {exc}") from None


def build_source(config: NpsSourceConfig, *, retry: RetrySettings | None = None,
                 hubspot_native: NpsSource | None = None) -> NpsSource:
    """The source ``config`` asks for, retrying its calls as ``retry`` says (the config's
    ``[retry]``). ``hubspot_native`` is supplied by the HubSpot adapter."""
    if config.kind == "csv":
        from connector.nps.csv_source import CsvSource

        return CsvSource(config)
    if config.kind == "http":
        from connector.nps.http_source import HttpSource

        return HttpSource(config, retry=retry or RetrySettings())
    if config.kind == "hubspot-native":
        if hubspot_native is None:
            raise ConfigError("the hubspot-native source needs the HubSpot adapter (provider = \"hubspot\")",
                              key="nps.source")
        return hubspot_native
    from connector.nps.none_source import NoneSource

    return NoneSource()


__all__ = [
    "CANONICAL_COLUMNS", "DEFAULT_FIELD_PATHS", "REQUIRED_COLUMNS", "NpsSource", "NpsSourceConfig",
    "RejectedRow", "SourceBatch", "SourceCursor", "SourceError", "build_source",
]
