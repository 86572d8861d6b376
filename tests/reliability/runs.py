"""Running the sync job against a ``SandboxCrm``: in this process, or in a driver child process
that may be killed."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from connector.model import RENEWAL_DEAL_KEY
from connector.retry import RetrySettings
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.state import open_store
from jobs.sync import SyncJob, SyncReport, run_sync
from tests.builders import renewal_deal_playbooks
from tests.reliability.crm import FAST_RETRY, NOW, SandboxCrm
from tests.reliability.driver import EXIT_CRASHED, spawn_run


def scope_of(crm: SandboxCrm) -> str:
    return f"{crm.provider}:reliability"


def run_here(crm: SandboxCrm, store_url: str, *, adapter=None, retry: RetrySettings = FAST_RETRY) -> SyncReport:
    """One sync run in this process with the fixed clock."""
    own = adapter is None
    adapter = adapter or crm.adapter(retry=retry)
    try:
        with open_store(store_url) as store:
            playbook = (renewal_deal_playbooks(crm.provider, crm.fieldmap)
                        if RENEWAL_DEAL_KEY in crm.fieldmap.fields else DEFAULT_PLAYBOOK)
            return run_sync(SyncJob(scope=scope_of(crm), adapter=adapter, store=store, fieldmap=crm.fieldmap,
                                    playbook=playbook, clock=lambda: NOW))
    finally:
        if own:
            adapter.close()


@dataclasses.dataclass(frozen=True)
class ChildRun:
    exit_code: int
    result: dict[str, Any]
    seconds: float

    @property
    def crashed(self) -> bool:
        return self.exit_code == EXIT_CRASHED


def run_child(crm: SandboxCrm, store_url: str, workdir: Path, *, kill: dict | None = None,
              kill_after_seconds: float | None = None, settings: dict | None = None,
              retry: RetrySettings = FAST_RETRY, timeout: float = 300.0) -> ChildRun:
    """One sync run in a child process; ``kill`` makes it SIGKILL itself at a point (see
    driver.py), ``kill_after_seconds`` has this process SIGKILL it at that moment."""
    result_path = workdir / f"result-{time.monotonic_ns()}.json"
    spec = {
        "provider": crm.provider, "settings": settings or crm.settings_values(), "state_url": store_url,
        "now": NOW.isoformat(), "page_size": crm.page_size, "scope": scope_of(crm), "kill": kill,
        "retry": retry.model_dump(), "result_path": str(result_path),
        "renewal_deals": RENEWAL_DEAL_KEY in crm.fieldmap.fields,
    }
    started = time.monotonic()
    process = spawn_run(spec)
    process.join(kill_after_seconds)
    if kill_after_seconds is not None and process.is_alive():
        process.kill()  # SIGKILL, wherever it is
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        raise AssertionError(f"driver run did not finish within {timeout} s")
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    return ChildRun(exit_code=process.exitcode, result=result, seconds=time.monotonic() - started)
