"""One sync run in its own process, which can SIGKILL itself at a chosen point.

The crash tests start this in a child process (``spawn_run``) against a sandbox served by the
test process, so a kill -9 loses exactly what a real crash loses: the process, its open HTTP
connections and its uncommitted state-store transaction, while the CRM keeps what it was sent.

Kill points (``kill={"point": ..., "n": N}``), each after the N-th occurrence in this run:

- ``after_apply``: the CRM accepted a page's writes, the ledger has not recorded them (the
  window the sync job's docstring promises is harmless: the replay must not duplicate);
- ``after_write_call``: one write request answered, the page's other batches not yet sent;
- ``after_commit``: a page recorded and the cursor moved, the next page not yet read.

The test process can also kill the child at a seeded moment (``timer``), which lands anywhere:
in a read, inside a write request, inside a store transaction.

Run by hand: ``python -m tests.reliability.driver spec.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobs.state import open_store

KILL_POINTS = ("after_apply", "after_write_call", "after_commit")
RENEWAL_DEALS_MADE = "after_renewal_deals"
"""Kill point for runs with ``renewal_deals``: an ``apply`` that made renewal deals answered, the
ledger has not recorded them."""
EXIT_CRASHED = -signal.SIGKILL


def _killer(kill: dict | None, point: str) -> Callable[[], None]:
    """A hook that SIGKILLs this process on the N-th call, if ``kill`` names this point."""
    if not kill or kill["point"] != point:
        return lambda: None
    seen = {"n": 0}

    def hook() -> None:
        seen["n"] += 1
        if seen["n"] == kill["n"]:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def _after(fn: Callable, hook: Callable[[], None]) -> Callable:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        hook()
        return result

    return wrapped


def _is_write(provider: str, label: str) -> bool:
    if provider == "hubspot":
        return "batch/create" in label or "batch/update" in label
    return label.startswith("composite/")


def _instrument(provider: str, adapter: Any, store: Any, kill: dict | None) -> None:
    adapter.apply = _after(adapter.apply, _killer(kill, "after_apply"))
    on_deals, apply = _killer(kill, RENEWAL_DEALS_MADE), adapter.apply

    def apply_then_kill(actions: Any) -> Any:
        from connector.actions import CreateDeal

        results = apply(actions)
        if any(isinstance(a, CreateDeal) for a in actions):
            on_deals()
        return results

    adapter.apply = apply_then_kill
    store.commit_page = _after(store.commit_page, _killer(kill, "after_commit"))
    on_write = _killer(kill, "after_write_call")
    client_call = adapter._client.call

    def call(label: str, *args: Any, **kwargs: Any) -> Any:
        result = client_call(label, *args, **kwargs)
        if _is_write(provider, label):
            on_write()
        return result

    adapter._client.call = call


def run(spec: dict[str, Any]) -> int:
    """One sync run as ``afterclose run`` does it; returns its exit code."""
    from connector.errors import AfterCloseError
    from connector.retry import RetrySettings
    from jobs.cli.exits import exit_code_of
    from jobs.core.playbook import DEFAULT_PLAYBOOK
    from jobs.sync import SyncJob, run_sync
    from tests.builders import renewal_deal_playbooks
    from tests.reliability.crm import build_adapter, mapping_for

    provider = spec["provider"]
    fieldmap = mapping_for(provider, renewal_deals=spec.get("renewal_deals", False))
    playbook = renewal_deal_playbooks(provider, fieldmap) if spec.get("renewal_deals") else DEFAULT_PLAYBOOK
    now = dt.datetime.fromisoformat(spec["now"])
    result: dict[str, Any] = {}
    try:
        with build_adapter(provider, spec["settings"], fieldmap, retry=RetrySettings(**spec["retry"]),
                           page_size=spec["page_size"]) as adapter, open_store(spec["state_url"]) as store:
            _instrument(provider, adapter, store, spec.get("kill"))
            job = SyncJob(scope=spec["scope"], adapter=adapter, store=store, fieldmap=fieldmap,
                          playbook=playbook, clock=lambda: now)
            try:
                report = run_sync(job)
            finally:
                result["calls"] = adapter.call_stats().by_endpoint
            result |= {"outcomes": dict(report.outcomes), "rejected": len(report.rejected),
                       "deals_seen": report.deals_seen}
            code = report.exit_code
    except AfterCloseError as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        code = int(exit_code_of(exc))
    result["exit_code"] = code
    if spec.get("result_path"):
        Path(spec["result_path"]).write_text(json.dumps(result))
    return code


def _child(spec: dict[str, Any]) -> None:
    sys.exit(run(spec))


_CONTEXT = None


def spawn_run(spec: dict[str, Any]) -> multiprocessing.Process:
    """Start ``run(spec)`` in a child process.

    A fork server with this module preloaded starts each child in milliseconds instead of the
    two seconds a fresh interpreter needs to import both SDKs; the children still share nothing
    with the test process (which runs the sandbox threads) but the imported code.
    """
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["tests.reliability.driver", "tests.reliability.crm", "jobs.sync",
                                         "connector.hubspot", "connector.salesforce"])
    process = _CONTEXT.Process(target=_child, args=(spec,), daemon=True)
    process.start()
    return process


if __name__ == "__main__":
    sys.exit(run(json.loads(Path(sys.argv[1]).read_text())))
