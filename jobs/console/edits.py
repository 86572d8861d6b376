"""Writing a mapping or playbook file from the console: the diff shown first, a file changed on
disk since the page was loaded refused as a conflict, the write atomic (a reader never sees half a
file), and every change recorded with who made it, when, and the diff (the state store's
``afterclose_console_changes``)."""

from __future__ import annotations

import difflib
import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from connector.errors import AfterCloseError
from jobs.console.auth import Who
from jobs.console.context import ConsoleContext

_WRITING = threading.Lock()
"""One write at a time in this process: the conflict check and the write must not interleave."""


class Conflict(AfterCloseError):
    """The file changed on disk since the page showing it was loaded."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DiffLine:
    kind: str
    """``add``, ``del`` or ``same`` (the CSS class)."""
    text: str


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def unified_diff(old: str, new: str, path: Path) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"{path} (on disk)", tofile=f"{path} (after saving)"))


def diff_lines(diff: str) -> list[DiffLine]:
    out = []
    for line in diff.splitlines():
        kind = "add" if line.startswith("+") and not line.startswith("+++") else \
            "del" if line.startswith("-") and not line.startswith("---") else "same"
        out.append(DiffLine(kind=kind, text=line))
    return out


def ensure_unchanged(path: Path, base: str) -> str:
    """The file's text, if it is still the one the page was made from; else ``Conflict``."""
    current = read_text(path)
    if fingerprint(current) != base:
        raise Conflict(f"{path} changed on disk since this page was loaded (an edit in another window, a git pull, "
                       "another admin). Nothing was written. Reload the page to see the file as it is now, then "
                       "make your change again.")
    return current


def write_recorded(ctx: ConsoleContext, who: Who, *, kind: str, path: Path, base: str, text: str,
                   summary: str) -> int:
    """Write ``text`` to ``path`` if the file is still ``base``, and record the change; returns its id."""
    with _WRITING:
        current = ensure_unchanged(path, base)
        diff = unified_diff(current, text, path)
        _replace(path, text)
        try:
            change = ctx.store.record_console_change(actor=who.actor, role=who.role.value, kind=kind,
                                                     path=str(path), summary=summary, diff=diff)
        except BaseException:
            _replace(path, current)  # a change that cannot be recorded is not made
            raise
    ctx.changed()
    return change


def _replace(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
