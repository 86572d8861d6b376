"""What commands print: tables and summaries to stdout, problems to stderr, secrets masked.

Log events go to stderr (jobs/logs.py), so a pipe gets clean data. Terminal escape sequences and
bidirectional overrides in data are dropped before they reach a terminal. Everything that comes
from data or config is printed as text, never as rich markup: a deal named ``[bold]Acme[/]`` or a
hint naming ``[playbook]`` would otherwise lose its brackets (or stop the command: a bare ``[/]``
is a markup error), and ``:x:`` would become an emoji. So the console reads no markup and no
emoji codes, and rich is handed ``Text`` (``text``) for every line and table cell, which it
never parses whatever console prints it; emphasis is a style on a part, not a tag.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import sys
from collections.abc import Iterator
from typing import IO, Any, TextIO, cast

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobs import logs
from jobs.core.task_text import without_controls

PIPED_WIDTH = 160
"""Tables written to a file or pipe are not wrapped at rich's default 80 columns."""


def echo(text: str) -> None:
    with _reader_may_leave():
        click.echo(logs.redact(without_controls(text)))


def echo_err(text: str) -> None:
    click.echo(logs.redact(without_controls(text)), err=True)


@contextlib.contextmanager
def _reader_may_leave() -> Iterator[None]:
    """`afterclose run | head -1`: the reader closing the pipe changes nothing the command does
    nor its exit code. The rest of the output goes to /dev/null, so neither this write nor the
    interpreter's last flush at exit raises ``BrokenPipeError`` (Python's own advice:
    https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        yield
    except BrokenPipeError:
        _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    try:
        target = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests capture output in memory)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, target)
    finally:
        os.close(devnull)


def console() -> Console:
    stream = _RedactingStream(sys.stdout)
    return Console(file=cast(IO[str], stream), markup=False, emoji=False, highlight=False,
                   width=None if stream.isatty() else PIPED_WIDTH)


def text(*parts: str | tuple[str, str]) -> Text:
    """A line as rich shows it: each part literally, a ``(words, style)`` part styled; terminal
    escapes and bidirectional overrides from data are dropped (jobs/core/task_text.py)."""
    return Text.assemble(*(without_controls(part) if isinstance(part, str) else (without_controls(part[0]), part[1])
                           for part in parts))


def add_text_row(target: Table, *cells: object) -> None:
    """One row of plain text cells (a value of None is an empty cell)."""
    target.add_row(*(text("" if cell is None else str(cell)) for cell in cells))


class _RedactingStream:
    """A text stream that masks registered secrets before they reach the terminal or pipe."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        with _reader_may_leave():
            return self._stream.write(logs.redact(text))
        return len(text)

    def flush(self) -> None:
        with _reader_may_leave():
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
