"""What commands print: tables and summaries to stdout, problems to stderr, secrets masked.

Log events go to stderr (jobs/logs.py), so a pipe gets clean data. Everything that comes from
data or config is printed as text, never as rich markup.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from typing import Any, TextIO

import click
from rich.console import Console

from jobs import logs

PIPED_WIDTH = 160
"""Tables written to a file or pipe are not wrapped at rich's default 80 columns."""


def echo(text: str) -> None:
    click.echo(logs.redact(text))


def echo_err(text: str) -> None:
    click.echo(logs.redact(text), err=True)


def console() -> Console:
    stream = _RedactingStream(sys.stdout)
    return Console(file=stream, highlight=False, width=None if stream.isatty() else PIPED_WIDTH)


class _RedactingStream:
    """A text stream that masks registered secrets before they reach the terminal or pipe."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(logs.redact(text))

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return getattr(self._stream, "isatty", lambda: False)()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8")


def jsonable(value: Any) -> Any:
    if value is None:
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)
