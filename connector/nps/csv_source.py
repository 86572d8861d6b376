"""The csv source: a file, or a folder of ``*.csv`` files, exported from any survey tool.

Read every run, in full: the job recognises responses it already applied by ``response_id``,
so the cursor is always None. What this module promises:

- valid rows are imported, every invalid row is reported with its file, its line and why; a
  file is never half-read because of one odd row;
- a file whose header lacks a required column (``email``, ``score``, ``responded_at`` after the
  ``columns`` mapping) is rejected as a whole with a ``ConfigError`` naming the file and the
  column. In a folder the other files still load and the bad file is reported as a rejected
  row; when *no* file of the source fits, the ``ConfigError`` is raised, because then the
  mapping is wrong, not one export;
- the delimiter is sniffed (``,`` ``;`` or tab: Excel writes ``;`` where the decimal mark is a
  comma), a UTF-8 or UTF-16 byte-order mark is removed, blank lines are skipped, quoted fields
  may span lines (the line reported is the one where the row starts);
- a row read twice (same response id, or same email and time when the file has no id) is
  imported once; the same id with different values is reported, and the first row wins.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from connector.errors import ConfigError
from connector.model import NpsResponse
from connector.nps import CANONICAL_COLUMNS, REQUIRED_COLUMNS, NpsSourceConfig, SourceBatch, SourceCursor
from connector.nps.collect import Collector
from connector.nps.values import (
    BadValue,
    derived_response_id,
    parse_email,
    parse_responded_at,
    parse_score,
    parse_text,
)

_SNIFF_CHARS = 64 * 1024
_DELIMITERS = (",", ";", "\t")
_RAW_CHARS = 500
_SEPARATORS = re.compile(r"[\s_\-]+")


def normalise_header(name: str) -> str:
    """``" Responded At "`` -> ``responded_at``: case, spaces, ``_`` and ``-`` do not matter."""
    return _SEPARATORS.sub("_", name.strip().lower()).strip("_")


class CsvSource:
    name = "csv"

    def __init__(self, config: NpsSourceConfig):
        assert config.path is not None  # NpsSourceConfig refuses a csv source without a path
        self._config = config
        self._path = Path(config.path)

    def fetch(self, since: SourceCursor | None = None) -> SourceBatch:
        """Every response in the file or folder; ``since`` is ignored (see the module doc)."""
        files = self._files()
        reader = _Reader(self._config)
        header_errors: list[ConfigError] = []
        for path in files:
            try:
                reader.read_file(path)
            except ConfigError as exc:
                header_errors.append(exc)
                reader.reject_file(path, str(exc).removeprefix(f"{path}: "))
        if files and len(header_errors) == len(files):
            raise header_errors[0]
        return reader.batch()

    def _files(self) -> list[Path]:
        if self._path.is_dir():
            return sorted(p for p in self._path.iterdir()
                          if p.is_file() and p.suffix.lower() == ".csv" and not p.name.startswith("."))
        if self._path.is_file():
            return [self._path]
        raise ConfigError("no such file or folder", source=str(self._path), key="nps.path")


def read_csv_file(path: Path | str, config: NpsSourceConfig) -> SourceBatch:
    """One file on its own; a missing required column raises ``ConfigError``."""
    reader = _Reader(config)
    reader.read_file(Path(path))
    return reader.batch()


@dataclass(slots=True)
class _Reader:
    """One fetch across files: what was kept, rejected and seen twice."""

    config: NpsSourceConfig
    out: Collector = field(default_factory=Collector)

    def batch(self) -> SourceBatch:
        return self.out.batch(cursor=None)

    def reject_file(self, path: Path, reason: str) -> None:
        self.out.reject(str(path), None, reason, "")

    def read_file(self, path: Path) -> None:
        try:
            text = _decode(path.read_bytes())
        except OSError as exc:
            self.reject_file(path, f"cannot read the file: {exc.strerror or exc}")
            return
        except UnicodeDecodeError as exc:
            self.reject_file(path, f"the file is not UTF-8 text (byte {exc.start}); export it as 'CSV UTF-8'")
            return
        if not text.strip():
            self.reject_file(path, "the file is empty (no header row)")
            return
        columns = _resolve_columns(self.config.columns)
        delimiter = _choose_delimiter(text, columns)
        rows = _rows(text, delimiter)
        _, header, error = next(rows, (1, [], None))
        if error:
            self.reject_file(path, f"the header row is not readable as CSV: {error}")
            return
        positions = _positions(header, columns, path)
        for line, row, error in rows:
            if error:
                self._reject(path, line, f"not readable as CSV: {error}", "")
                continue
            self._read_row(path, line, row, positions, len(header), delimiter)

    def _read_row(self, path: Path, line: int, row: Sequence[str], positions: Mapping[str, int],
                  width: int, delimiter: str) -> None:
        if not any(cell.strip() for cell in row):
            return  # a blank line, or a row of empty cells: nothing was answered
        raw = delimiter.join(row)[:_RAW_CHARS]
        extra = [cell for cell in row[width:] if cell.strip()]
        if extra:
            self._reject(path, line, f"row has {len(row)} fields but the header has {width} "
                                     "(an unquoted delimiter inside a value?)", raw)
            return
        values = {name: (row[index] if index < len(row) else "") for name, index in positions.items()}
        try:
            response = self._response(path, values)
        except BadValue as exc:
            self._reject(path, line, str(exc), raw)
            return
        self._keep(response, path, line, raw)

    def _response(self, path: Path, values: Mapping[str, str]) -> NpsResponse:
        email = parse_email(values.get("email"))
        account_id = parse_text(values.get("account_id"))
        if email is None and account_id is None:
            raise BadValue("no email and no account_id: the response cannot be matched to a customer")
        score = parse_score(values.get("score"))
        responded_at = parse_responded_at(values.get("responded_at"), zone=self.config.zone,
                                          date_format=self.config.date_format)
        response_id = parse_text(values.get("response_id")) or derived_response_id(
            "csv", email, account_id, responded_at)
        return NpsResponse(response_id=response_id, email=email, score=score, responded_at=responded_at,
                           comment=parse_text(values.get("comment")), account_id=account_id,
                           source=f"csv:{path.name}")

    def _keep(self, response: NpsResponse, path: Path, line: int, raw: str) -> None:
        conflict = self.out.keep(response, f"{path}:{line}")
        if conflict:
            self._reject(path, line, conflict, raw)

    def _reject(self, path: Path, line: int, reason: str, raw: str) -> None:
        self.out.reject(str(path), line, reason, raw)


def _decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped); UTF-16 when a UTF-16 BOM says so (Excel's 'Unicode text')."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def _resolve_columns(mapped: Mapping[str, str]) -> dict[str, str]:
    """Canonical name -> the normalised header that holds it."""
    return {name: normalise_header(mapped.get(name, name)) for name in CANONICAL_COLUMNS}


def _choose_delimiter(text: str, columns: Mapping[str, str]) -> str:
    """The sniffed delimiter if its header has every required column; else the first that does.

    Sniffing alone misreads files whose comments hold more ``;`` than the header has ``,``;
    checking the header against the columns we need settles it.
    """
    sample = text[:_SNIFF_CHARS]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = ","
    required = {columns[name] for name in REQUIRED_COLUMNS}
    for candidate in dict.fromkeys((sniffed, *_DELIMITERS)):
        header = next(csv.reader(io.StringIO(sample), delimiter=candidate), [])
        if required <= {normalise_header(cell) for cell in header}:
            return candidate
    return sniffed


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str], str | None]]:
    """(line where the row starts, fields, error). Quoted fields may hold newlines.

    No field can be longer than the file, so the csv module's field size limit (131,072
    characters by default, process-wide) is raised to the file's length: a long comment once made
    the reader stop there and every later row of the file was lost. Should the reader still fail
    on a row, that row is reported and reading goes on from the next line."""
    if csv.field_size_limit() <= len(text):
        csv.field_size_limit(len(text) + 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True,
                        strict=False)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, [], str(exc)
            continue
        yield start, row, None


def _positions(header: Sequence[str], columns: Mapping[str, str], path: Path) -> dict[str, int]:
    found = {normalise_header(cell): index for index, cell in reversed(list(enumerate(header)))}
    for name in REQUIRED_COLUMNS:
        if columns[name] not in found:
            heard = ", ".join(repr(cell) for cell in header[:12]) or "(none)"
            mapped = "" if columns[name] == name else f" (the header mapped to {name!r})"
            raise ConfigError(f"missing required column {columns[name]!r}{mapped}; the header has: {heard}",
                              source=str(path), key=name)
    return {name: found[header_name] for name, header_name in columns.items() if header_name in found}
