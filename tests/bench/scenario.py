"""One benchmark scenario: a CRM sandbox configured like production, loaded with ``won`` won deals,
and measured steps, each in a fresh process (like a scheduled run):

1. ``afterclose plan`` (dry run) then the first run over an empty state store;
2. a re-run with nothing changed in the CRM;
3. after 1% of the won deals changed (renewal date moved, or a missing handoff field filled in):
   plan, then run;
4. crash recovery: another 1% changed, a run killed (SIGKILL) right after its first page's CRM
   writes and before it records them, then the run that recovers;
5. after state loss: the state database deleted, then a run (it re-learns; it should write nothing).

HubSpot runs in both task key modes (``hubspot-refuse``: the portal refuses unique task
properties; ``hubspot-grant``: it grants them). The sandboxes' reads do not lag, so the settle delay
is 0 here; on a real portal a run on a new or lost store first waits ``settle_seconds`` (60 s) once.

Calls are counted by the adapter and cross-checked against the sandbox's own per-endpoint count.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from connector.mapping import builtin_mapping, load_mapping
from connector.sandbox.demo import DemoDataset, scaled_dataset
from tests.bench import bounds

ANCHOR = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, kw_only=True)
class Production:
    """The sandboxes configured like the production APIs (the issue's numbers)."""

    latency: float = 0.150
    hubspot_per_10s: int = 190
    hubspot_searches_per_second: float = 5.0
    budget_share: float = 0.5
    hubspot_concurrency: int = 4
    salesforce_page: int = 2_000
    salesforce_concurrency: int = 4


@dataclass
class Step:
    name: str
    calls: dict[str, int]
    sandbox_calls: int
    wall: float
    rss_mb: float
    sandbox_cpu: float
    deals_seen: int
    outcomes: dict[str, int]
    write_calls: int
    bound: dict[str, int]
    time_bound: bounds.TimeBounds
    predicted: int | None = None

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def bound_total(self) -> int:
        return sum(self.bound.values())


@dataclass
class Scenario:
    crm: str
    won: int
    latency: float
    steps: list[Step] = field(default_factory=list)
    load_seconds: float = 0.0


def won_dataset(won: int) -> DemoDataset:
    """The scaled demo mix, cut after its ``won``-th won deal (open and lost deals stay mixed in)."""
    full = scaled_dataset(math.ceil(won / 0.8), anchor=ANCHOR)
    deals, count = [], 0
    for deal in full.deals:
        if count == won:
            break
        deals.append(deal)
        count += deal.stage == "won"
    if count < won:
        raise ValueError(f"scaled_dataset made only {count} won deals, {won} wanted")
    return dataclasses.replace(full, deals=tuple(deals))


def provider_of(crm: str) -> str:
    """``hubspot-refuse`` -> ``hubspot``."""
    return crm.partition("-")[0]


def start_sandbox(crm: str, prod: Production, latency: float):
    provider, _, mode = crm.partition("-")
    if provider == "hubspot":
        from connector.sandbox.hubspot import HubSpotSandbox

        return HubSpotSandbox(latency=latency, rate_limit_per_10s=prod.hubspot_per_10s,
                              search_per_second=int(prod.hubspot_searches_per_second),
                              **({"task_uniqueness": mode} if mode else {}))
    from connector.sandbox.salesforce import SalesforceSandbox

    return SalesforceSandbox(latency=latency, page_size=prod.salesforce_page)


def adapter_settings(crm: str, prod: Production) -> dict:
    if provider_of(crm) == "hubspot":
        return {"rate_limit_per_10s": prod.hubspot_per_10s, "budget_share": prod.budget_share,
                "search_per_second": prod.hubspot_searches_per_second, "max_concurrency": prod.hubspot_concurrency,
                "settle_seconds": 0.0}
    return {"max_concurrency": prod.salesforce_concurrency}


def run_worker(spec: dict) -> dict:
    done = subprocess.run([sys.executable, "-m", "tests.bench.worker", json.dumps(spec)], capture_output=True,
                          text=True, cwd=REPO)
    if spec.get("mode") == "run-killed" and done.returncode == -9:
        return {}
    if done.returncode:
        raise RuntimeError(f"bench worker failed ({spec.get('mode')}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def is_write(label: str) -> bool:
    if "search" in label or "read" in label or "query" in label:
        return False
    return any(m in label for m in ("batch/create", "batch/update", "batch/upsert", "collections_", "PATCH",
                                    "sobject_create", "sobject_update", "POST /crm/v3/objects/tasks",
                                    "POST /crm/v3/objects/{objectType}"))


class Bench:
    """Drives one scenario's sandbox and worker processes."""

    def __init__(self, crm: str, won: int, prod: Production, latency: float, log=print):
        self.crm, self.won, self.prod, self.latency, self.log = crm, won, prod, latency, log
        self.provider = provider_of(crm)
        self.data = won_dataset(won)
        self.fieldmap = load_mapping(builtin_mapping(self.provider))
        self.sandbox = start_sandbox(crm, prod, latency)
        self.tmp = tempfile.TemporaryDirectory(prefix="afterclose-bench-")
        self.first_run = True

    def spec(self, endpoint, mode: str) -> dict:
        return {"crm": self.provider, "base_url": endpoint.base_url, "token": endpoint.token,
                "ca_path": str(endpoint.ca_path) if endpoint.ca_path else None,
                "settings": adapter_settings(self.crm, self.prod), "mode": mode,
                "store_url": f"sqlite:///{self.tmp.name}/state.db", "scope": f"{self.crm}:bench",
                "now": NOW.isoformat()}

    def run(self, *, with_plan: bool = True) -> Scenario:
        scenario = Scenario(crm=self.crm, won=self.won, latency=self.latency)
        started = time.perf_counter()
        self.sandbox.load(self.data)
        scenario.load_seconds = time.perf_counter() - started
        with self.sandbox.serve() as endpoint:
            run_worker(self.spec(endpoint, "setup"))
            won_keys = [d.key for d in self.data.deals if d.stage == "won"]
            scenario.steps.append(self.step(endpoint, "first run", won_keys, with_plan))
            scenario.steps.append(self.step(endpoint, "no change", [], with_plan=False))
            changed = self.change_one_percent(won_keys)
            scenario.steps.append(self.step(endpoint, "1% changed", changed, with_plan))
            changed = self.change_one_percent(won_keys, start=50)
            run_worker(self.spec(endpoint, "run-killed"))  # dies between its first CRM write and the state write
            scenario.steps.append(self.step(endpoint, "crash recovery", changed, with_plan=False))
            for leftover in Path(self.tmp.name).glob("state.db*"):
                leftover.unlink()
            self.first_run = True
            scenario.steps.append(self.step(endpoint, "after state loss", won_keys, with_plan=False))
        self.tmp.cleanup()
        return scenario

    def step(self, endpoint, name: str, read_keys: list[int], with_plan: bool) -> Step:
        predicted = None
        if with_plan:
            self.sandbox.controls.reset_calls()
            plan = run_worker(self.spec(endpoint, "plan"))
            estimate = plan["write_estimate"]
            predicted = sum(plan["calls"].values()) + (estimate or 0)
            self.log(f"  {name}: plan predicts {predicted} calls ({plan['wall_seconds']:.1f} s)")
        self.sandbox.controls.reset_calls()
        cpu_before = _cpu()
        out = run_worker(self.spec(endpoint, "run"))
        sandbox_cpu = _cpu() - cpu_before
        snapshot = self.sandbox.controls.snapshot()
        work = self.work(read_keys, out)
        self.first_run = False
        bound = bounds.hubspot_calls(work) if self.provider == "hubspot" else bounds.salesforce_calls(work)
        step = Step(
            name=name, calls=out["calls"], sandbox_calls=sum(snapshot.values()), wall=out["wall_seconds"],
            rss_mb=out["peak_rss_mb"], sandbox_cpu=sandbox_cpu, deals_seen=out["deals_seen"],
            outcomes=out["outcomes"], write_calls=sum(n for k, n in snapshot.items() if is_write(k)),
            bound=bound, time_bound=self.time_bound(out["calls"]), predicted=predicted,
        )
        self.log(f"  {name}: {step.total} calls (bound {step.bound_total}), {step.wall:.1f} s "
                 f"(bound {step.time_bound.binding:.1f} s, {step.time_bound.kind}), {step.rss_mb:.0f} MB, "
                 f"{step.write_calls} write calls, sandbox CPU {sandbox_cpu:.1f} s")
        return step

    def time_bound(self, calls: dict[str, int]) -> bounds.TimeBounds:
        if self.provider == "hubspot":
            p = self.prod
            return bounds.hubspot_time(calls, latency=self.latency,
                                       per_ten_seconds=max(1, int(p.hubspot_per_10s * p.budget_share)),
                                       searches_per_second=p.hubspot_searches_per_second * p.budget_share,
                                       concurrency=p.hubspot_concurrency)
        return bounds.salesforce_time(calls, latency=self.latency, concurrency=self.prod.salesforce_concurrency)

    def work(self, read_keys: list[int], out: dict) -> bounds.Work:
        deals = {d.key: d for d in self.data.deals}
        chosen = [deals[k] for k in read_keys]
        contacts = {r.contact for d in chosen for r in d.contacts}
        companies = {d.company for d in chosen if d.company is not None}
        actions = Counter(out["outcomes"])
        kinds = {k.split(":", 1)[1]: n for k, n in self.actions_of(out).items() if k.startswith("update_record:")}
        schema = sum(n for k, n in out["calls"].items() if "properties" in k or k == "describe")
        return bounds.Work(
            deals=len(chosen), contacts=len(contacts) if self.provider == "hubspot" else 0,
            companies=len(companies) if self.provider == "hubspot" else 0,
            created=actions.get("created", 0), task_updates=self.actions_of(out).get("update_task", 0)
            + self.actions_of(out).get("close_task", 0),
            record_writes=kinds, schema_reads=schema, first_run=self.first_run,
        )

    @staticmethod
    def actions_of(out: dict) -> dict[str, int]:
        return out.get("actions", {})

    def change_one_percent(self, won_keys: list[int], start: int = 0) -> list[int]:
        """Every 100th won deal (from ``start``): move its renewal date two weeks, or fill a missing
        handoff field."""
        chosen = won_keys[start::100]
        ids = self.sandbox.demo_ids["deals" if self.provider == "hubspot" else "Opportunity"]
        deals = {d.key: d for d in self.data.deals}
        obj = "deals" if self.provider == "hubspot" else "Opportunity"
        for key in chosen:
            deal = deals[key]
            renewal = deal.fields.get("renewal_date")
            if isinstance(renewal, dt.date):
                canonical, value = "renewal_date", (renewal + dt.timedelta(days=14)).isoformat()
            else:
                canonical, value = "decision_criteria", "Total cost over three years, SSO and audit logs"
            self.sandbox.edit(obj, ids[key], {self.fieldmap.spec(canonical).crm_name: value})
        return chosen


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Baseline:
    crm: str
    deals: int
    calls: dict[str, int]
    wall: float
    latency: float

    @property
    def calls_per_deal(self) -> float:
        return sum(self.calls.values()) / self.deals

    @property
    def seconds_per_deal(self) -> float:
        return self.wall / self.deals


def run_baseline(crm: str, sample: int, prod: Production, latency: float) -> Baseline:
    """The per-record implementation over the first ``sample`` won deals of the same data set."""
    bench = Bench(provider_of(crm), sample, prod, latency)
    bench.sandbox.load(bench.data)
    with bench.sandbox.serve() as endpoint:
        run_worker(bench.spec(endpoint, "setup"))
        out = run_worker(bench.spec(endpoint, "baseline"))
    bench.tmp.cleanup()
    return Baseline(crm=provider_of(crm), deals=out["deals"], calls=out["calls"], wall=out["wall_seconds"], latency=latency)
