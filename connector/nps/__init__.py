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
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.errors import AfterCloseError, ConfigError
from connector.model import NpsResponse, require_aware
from connector.retry import RetrySettings

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
        """For the state store: ISO 8601 in UTC."""
        return self.since.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")

    @classmethod
    def from_text(cls, text: str) -> SourceCursor:
        return cls(since=dt.datetime.fromisoformat(text))


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


@dataclass(frozen=True, kw_only=True, slots=True)
class NpsSourceConfig:
    """Everything a source needs, validated once. The token never appears in ``repr``."""

    kind: str = "none"
    # csv
    path: Path | None = None
    """A .csv file, or a folder whose ``*.csv`` files are all read (in name order)."""
    columns: Mapping[str, str] = field(default_factory=dict)
    """Canonical column -> header in the file, for headers that differ from the canonical names.
    Matching ignores case and treats spaces, ``_`` and ``-`` alike."""
    date_format: str | None = None
    """A strptime format for dates that are not ISO 8601, e.g. ``%d/%m/%Y`` (day first)."""
    timezone: str = "UTC"
    """The zone of dates and times written without an offset."""
    # http
    url: str | None = None
    token: str | None = field(default=None, repr=False)
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    """Put before the token in the header value ("Bearer <token>"); empty for the token alone."""
    since_param: str | None = "since"
    since_format: Literal["iso", "epoch"] = "iso"
    params: Mapping[str, str] = field(default_factory=dict)
    """Extra query parameters sent with every request (a survey id, a page size...)."""
    paging: str = "next_link"
    next_path: str = "next"
    """next_link: dotted path to the next page's URL; cursor: dotted path to the next cursor."""
    cursor_param: str = "cursor"
    page_param: str = "page"
    first_page: int = 1
    items_path: str = "items"
    """Dotted path to the list of responses in each page ("" when the page is the list)."""
    field_paths: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELD_PATHS))
    page_cap: int = 500
    timeout_seconds: float = 30.0
    retry: RetrySettings = RetrySettings()

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "field_paths", MappingProxyType(dict(self.field_paths)))
        if self.kind not in SOURCE_KINDS:
            raise ConfigError(f"unknown source {self.kind!r}; expected one of: {', '.join(SOURCE_KINDS)}",
                              key="nps.source")
        self._check_zone()
        if self.kind == "csv":
            self._check_csv()
        elif self.kind == "http":
            self._check_http()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _check_zone(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone {self.timezone!r} (use an IANA name like 'Europe/Berlin')",
                              key="nps.timezone") from None

    def _check_csv(self) -> None:
        if self.path is None:
            raise ConfigError("the csv source needs a path (a .csv file or a folder of them)", key="nps.path")
        unknown = sorted(set(self.columns) - set(CANONICAL_COLUMNS))
        if unknown:
            raise ConfigError(f"unknown column name(s) {', '.join(unknown)}; the columns are: "
                              f"{', '.join(CANONICAL_COLUMNS)}", key="nps.columns")
        if self.date_format is not None:
            _check_date_format(self.date_format)

    def _check_http(self) -> None:
        if not self.url or not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"the http source needs an http(s) url, got {self.url!r}", key="nps.url")
        if self.paging not in PAGING_MODES:
            raise ConfigError(f"unknown paging {self.paging!r}; expected one of: {', '.join(PAGING_MODES)}",
                              key="nps.paging")
        if not _HEADER_NAME.fullmatch(self.auth_header):
            raise ConfigError(f"{self.auth_header!r} is not a valid HTTP header name", key="nps.auth_header")
        for key, name in (("since_param", self.since_param), ("cursor_param", self.cursor_param),
                          ("page_param", self.page_param)):
            if name is not None and not _PARAM_NAME.fullmatch(name):
                raise ConfigError(f"{name!r} is not a query parameter name", key=f"nps.{key}")
        missing = [name for name in REQUIRED_COLUMNS if not self.field_paths.get(name)]
        if missing:
            raise ConfigError(f"field_paths needs a path for: {', '.join(missing)}", key="nps.field_paths")
        unknown = sorted(set(self.field_paths) - set(CANONICAL_COLUMNS))
        if unknown:
            raise ConfigError(f"unknown field(s) {', '.join(unknown)}; the fields are: "
                              f"{', '.join(CANONICAL_COLUMNS)}", key="nps.field_paths")
        if self.page_cap < 1:
            raise ConfigError(f"page_cap must be 1 or more, got {self.page_cap}", key="nps.page_cap")
        if self.timeout_seconds <= 0:
            raise ConfigError(f"timeout_seconds must be more than 0, got {self.timeout_seconds}",
                              key="nps.timeout_seconds")


def _check_date_format(fmt: str) -> None:
    sample = dt.datetime(2026, 3, 2, 14, 5, tzinfo=dt.timezone.utc)
    try:
        dt.datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError as exc:
        raise ConfigError(f"date_format {fmt!r} cannot read its own output: {exc}", key="nps.date_format") from None


def build_source(config: NpsSourceConfig, *, hubspot_native: NpsSource | None = None) -> NpsSource:
    """The source ``config`` asks for. ``hubspot_native`` is supplied by the HubSpot adapter."""
    if config.kind == "csv":
        from connector.nps.csv_source import CsvSource

        return CsvSource(config)
    if config.kind == "http":
        from connector.nps.http_source import HttpSource

        return HttpSource(config)
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
