"""What every page works from: the config (read again whenever one of its files changes, so the
files stay the source of truth, edited here or in git), the state store, and the gate.

The console's CRM calls give up sooner than a run's (``CONSOLE_RETRY``): a person is waiting for
the page, and a CRM that does not answer is shown as unavailable, not waited for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from connector.errors import AfterCloseError
from connector.retry import RetrySettings
from jobs import logs
from jobs.cli.runtime import Runtime, load_runtime
from jobs.console.auth import Gate
from jobs.state import StateStore

CONSOLE_RETRY = RetrySettings(attempts=2, base_seconds=0.2, max_seconds=1.0)


@dataclass(frozen=True, kw_only=True, slots=True)
class Loaded:
    runtime: Runtime | None
    problem: str | None
    """Why the config, mapping or playbooks cannot be read as they are on disk (then ``runtime`` is None)."""


@dataclass(kw_only=True)
class ConsoleContext:
    config_path: Path
    store: StateStore
    gate: Gate
    on_change: Callable[[], None] = lambda: None
    """Told after the console wrote a file (``serve`` reloads the jobs' config)."""
    _loaded: tuple[tuple[object, ...], Loaded] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    generation: int = 0
    """Counts reloads: what the CRM reads cached is only valid for the config they were made with."""

    def loaded(self) -> Loaded:
        with self._lock:
            if self._loaded is None or self._loaded[0] != self._signature(self._loaded[1]):
                loaded = self._load()
                self._loaded = (self._signature(loaded), loaded)
                self.generation += 1
            return self._loaded[1]

    def runtime(self) -> Runtime:
        """The runtime, or an ``AfterCloseError`` saying why the files cannot be read."""
        loaded = self.loaded()
        if loaded.runtime is None:
            raise AfterCloseError(loaded.problem or "the config cannot be read")
        return loaded.runtime

    def changed(self) -> None:
        with self._lock:
            self._loaded = None
        self.on_change()

    def _load(self) -> Loaded:
        try:
            runtime = load_runtime(self.config_path, configure_logs=False)
        except AfterCloseError as exc:
            return Loaded(runtime=None, problem=logs.redact(str(exc)))
        settings = runtime.settings.model_copy(update={"retry": CONSOLE_RETRY})
        return Loaded(runtime=replace(runtime, settings=settings), problem=None)

    def _signature(self, loaded: Loaded) -> tuple[object, ...]:
        """Size and modification time of the config and of the files it names."""
        paths = [self.config_path]
        if loaded.runtime is not None:
            settings = loaded.runtime.settings
            paths += [Path(p) for p in (settings.crm.mapping, settings.playbook.file) if p is not None]
        return tuple(_stat(path) for path in paths)


def _stat(path: Path) -> tuple[str, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return str(path), info.st_size, info.st_mtime_ns
