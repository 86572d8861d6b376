"""One sync run in its own process, so its peak RSS is the sync's alone (the sandbox with its
50,000 deals lives in the parent). Reads a JSON spec from argv[1], prints one JSON line.

The run is the product's own path: ``jobs.sync.run_sync`` with the real adapter built from the
same settings classes the CLI uses, a SQLite state store on disk, the default playbook.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path

from connector.actions import ActionKind
from connector.mapping import builtin_mapping, load_mapping
from connector.port import CrmAdapter
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.state import open_store
from jobs.sync import SyncJob, run_sync


def build_adapter(spec: dict) -> CrmAdapter:
    fieldmap = load_mapping(builtin_mapping(spec["crm"]))
    if spec["crm"] == "hubspot":
        from connector.hubspot import HubSpotAdapter, HubSpotSettings

        settings = HubSpotSettings(access_token=spec["token"], base_url=spec["base_url"], **spec["settings"])
        return HubSpotAdapter(settings=settings, fieldmap=fieldmap)
    from connector.salesforce import SalesforceAdapter, SalesforceSettings

    settings = SalesforceSettings(instance_url=spec["base_url"], access_token=spec["token"],
                                  ca_bundle=spec["ca_path"], **spec["settings"])
    return SalesforceAdapter(settings=settings, fieldmap=fieldmap)


def action_counts(counts: Counter) -> dict[str, int]:
    """Plan actions by kind; the sync job's write-backs are all deal fields."""
    return dict(counts) | {"update_record:deal": counts.get(ActionKind.UPDATE_RECORD.value, 0)}


def estimate_writes(adapter: CrmAdapter, actions) -> int | None:
    estimate = getattr(adapter, "estimate_write_calls", None)
    return estimate(actions) if estimate is not None else None


def baseline(spec: dict, now: dt.datetime) -> dict:
    from tests.bench import baseline as per_record

    fieldmap = load_mapping(builtin_mapping(spec["crm"]))
    if spec["crm"] == "hubspot":
        s = spec["settings"]
        result = per_record.run_hubspot(spec["base_url"], spec["token"], fieldmap, now,
                                        per_ten_seconds=int(s["rate_limit_per_10s"] * s["budget_share"]),
                                        search_per_second=s["search_per_second"] * s["budget_share"])
    else:
        result = per_record.run_salesforce(spec["base_url"], spec["token"], spec["ca_path"], fieldmap, now)
    return {"deals": result.deals, "calls": dict(result.calls), "wall_seconds": result.wall_seconds,
            "tasks": result.tasks, "updates": result.updates}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident set. VmHWM, because ru_maxrss survives exec: a child started
    by a big parent would report the parent's size (Linux copies the old hiwater mark over)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _die_after_first_apply(adapter: CrmAdapter) -> None:
    """kill -9 right after the first page's CRM writes, before the state store records them."""
    import os
    import signal

    apply = adapter.apply

    def apply_then_die(actions):
        results = apply(actions)
        os.kill(os.getpid(), signal.SIGKILL)
        return results

    adapter.apply = apply_then_die  # type: ignore[method-assign]


def main(spec: dict) -> dict:
    now = dt.datetime.fromisoformat(spec["now"])
    if spec.get("mode") == "baseline":
        return baseline(spec, now)
    adapter = build_adapter(spec)
    if spec.get("mode") == "setup":
        # `afterclose setup`, as an admin runs it once before the first sync; not measured.
        try:
            return {"setup": adapter.setup()}
        finally:
            adapter.close()
    if spec.get("mode") == "run-killed":
        _die_after_first_apply(adapter)
    store = open_store(spec["store_url"])
    job = SyncJob(scope=spec["scope"], adapter=adapter, store=store, fieldmap=adapter.fieldmap,
                  playbook=DEFAULT_PLAYBOOK, clock=lambda: now)
    started = time.perf_counter()
    try:
        dry_run = spec.get("mode") == "plan"
        if spec.get("mode") == "run-killed":
            run_sync(job)
            raise SystemExit("the run was to be killed after its first apply")
        report = run_sync(job, dry_run=dry_run)
        wall = time.perf_counter() - started
        writes = [a for a in report.plan_actions if a.kind is not ActionKind.SKIP]
        stats = adapter.call_stats()
        return {
            "wall_seconds": wall,
            "calls": stats.by_endpoint,
            "rate_limit_wait_seconds": stats.rate_limit_wait_seconds,
            "deals_seen": report.deals_seen,
            "actions": action_counts(report.plan_counts),
            "outcomes": dict(report.outcomes),
            "rejected": len(report.rejected),
            "write_estimate": estimate_writes(adapter, writes) if dry_run else None,
            "peak_rss_mb": peak_rss_mb(),
            "cpu_seconds": _cpu_seconds(),
        }
    finally:
        adapter.close()
        store.close()


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
