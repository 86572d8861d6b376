"""Pointing at a key of a mapping file: its dotted name and (best effort) its line, for messages."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence

from connector.errors import ConfigError

_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_DECLARED_TWICE = re.compile(r"Cannot declare \((.*)\) twice")


def toml_error(exc: tomllib.TOMLDecodeError, text: str, source: str) -> ConfigError:
    message = str(exc)
    twice = _DECLARED_TWICE.search(message)
    if twice:
        names = (part.strip().strip("'\"") for part in twice.group(1).split(","))
        key = ".".join(name for name in names if name)
        where = _AT_LINE.search(message)
        line = f" (line {where.group(1)})" if where else ""
        return ConfigError(f"declared twice{line}; each name may appear once",
                           source=source, key=key)
    where = _AT_LINE.search(message)
    key = _key_at_line(text, int(where.group(1))) if where else "(end of file)"
    return ConfigError(f"not valid TOML: {message}", source=source, key=key)


# --- Finding a key's line (best effort, for messages only) --------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")

KeyPath = tuple[str | int, ...]


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_key(path: KeyPath) -> str:
    """('handoff', 'rules', 0, 'kind') -> 'handoff.rules[0].kind'; odd names quoted as in TOML."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        out += f".{name}" if out else name
    return out


def _header_parts(inner: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in inner.split("."))


def _headers(lines: Sequence[str]) -> list[tuple[int, tuple[str, ...], bool]]:
    found = []
    for number, line in enumerate(lines, 1):
        match = _HEADER.match(line)
        if match:
            found.append((number, _header_parts(match.group(2)), match.group(1) == "[["))
    return found


def _header_line(headers: Sequence[tuple[int, tuple[str, ...], bool]], prefix: KeyPath) -> int | None:
    """Line of the table header for ``prefix`` (the n-th ``[[a.b]]`` for ('a', 'b', n))."""
    if prefix and isinstance(prefix[-1], int):
        names, index = prefix[:-1], prefix[-1]
        arrays = [n for n, parts, is_array in headers if is_array and parts == names]
        return arrays[index] if index < len(arrays) else None
    if any(isinstance(part, int) for part in prefix):
        return None
    return next((n for n, parts, is_array in headers if parts == prefix and not is_array), None)


def line_of(text: str, path: KeyPath) -> int | None:
    lines = text.splitlines()
    headers = _headers(lines)
    for cut in range(len(path), 0, -1):
        start = _header_line(headers, path[:cut])
        if start is not None:
            end = next((n for n, _, _ in headers if n > start), len(lines) + 1)
            return _key_line(lines, start, end, path[cut:]) or start
    end = headers[0][0] if headers else len(lines) + 1
    return _key_line(lines, 0, end, path)


def _key_line(lines: Sequence[str], start: int, end: int, rest: KeyPath) -> int | None:
    """The line in (start, end) that assigns the dotted key at the head of ``rest``."""
    names = []
    for part in rest:
        if isinstance(part, int):
            break
        names.append(part)
    if not names:
        return None
    for size in range(len(names), 0, -1):
        pattern = re.compile(r"^\s*" + r"\s*\.\s*".join(
            r"[\"']?" + re.escape(name) + r"[\"']?" for name in names[:size]) + r"\s*=")
        for number in range(start + 1, end):
            if pattern.match(lines[number - 1]):
                return number
    return None


def _key_at_line(text: str, line: int) -> str:
    """The dotted key a TOML syntax error is in: the table above it plus the key on the line."""
    lines = text.splitlines()
    table = ""
    for number, parts, _ in _headers(lines):
        if number <= line:
            table = ".".join(parts)
    match = _KEY_LINE.match(lines[line - 1]) if 0 < line <= len(lines) else None
    key = match.group(1).strip() if match else ""
    return ".".join(part for part in (table, key) if part) or "(top level)"
