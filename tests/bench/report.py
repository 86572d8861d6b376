"""Render benchmark results: docs/benchmarks.md (tables, machine, date, verdicts) and the chart."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import platform
from pathlib import Path

TARGETS = {"calls_vs_bound": 1.15, "wall_vs_bound": 1.3, "fewer_calls_than_baseline_at_10k": 50.0,
           "rss_mb_at_50k": 300.0, "plan_error": 0.10}


def machine() -> dict:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "ram_gb": round(mem_kb / 1024 / 1024, 1), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.machine()}",
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}


def as_json(scenario) -> dict:
    out = {"crm": scenario.crm, "won": scenario.won, "latency": scenario.latency,
           "load_seconds": scenario.load_seconds, "steps": []}
    for step in scenario.steps:
        item = dataclasses.asdict(step)
        item["time_bound"] = {"rate": step.time_bound.rate, "latency": step.time_bound.latency,
                              "binding": step.time_bound.binding, "kind": step.time_bound.kind}
        out["steps"].append(item)
    return out


# -- helpers over the JSON ---------------------------------------------------------------------

def total(calls: dict) -> int:
    return sum(calls.values())


def step(scenario: dict, name: str) -> dict:
    return next(s for s in scenario["steps"] if s["name"] == name)


def baseline_for(results: dict, crm: str) -> dict:
    provider = crm.partition("-")[0]
    return next(b for b in results["baselines"] if b["crm"] == provider)


def baseline_at(results: dict, crm: str, won: int) -> tuple[float, float]:
    """(calls, seconds) of the per-record baseline extrapolated linearly to ``won`` deals."""
    b = baseline_for(results, crm)
    return total(b["calls"]) / b["deals"] * won, b["wall"] / b["deals"] * won


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "–"


def _seconds(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 120:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


# -- markdown ----------------------------------------------------------------------------------

def write(results: dict, docs: Path) -> None:
    (docs / "benchmarks.md").write_text(markdown(results))
    chart(results, docs / "benchmarks.png")


def markdown(results: dict) -> str:
    m = results["machine"]
    p = results["production"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {m['date']} on {m['nproc']} CPUs, {m['ram_gb']} GB RAM, Python {m['python']} ({m['system']}) "
        f"by `make bench` (`python -m tests.bench`, tests/bench/); the whole benchmark took "
        f"{results.get('total_seconds', 0) / 60:.0f} min. Raw figures: [benchmarks.json](benchmarks.json).",
        "",
        "![API calls and wall time against won deals, AfterClose and the per-record baseline](benchmarks.png)",
        "",
        "## Set-up",
        "",
        f"- The sandboxes configured like production: {p['latency'] * 1000:.0f} ms latency on every call; HubSpot "
        f"with a {p['hubspot_per_10s']}-per-ten-seconds limit and {p['hubspot_searches_per_second']:.0f} searches "
        f"per second, AfterClose's budget share {p['budget_share']} (so {p['hubspot_per_10s'] * p['budget_share'] / 10:.1f} "
        f"calls/s and {p['hubspot_searches_per_second'] * p['budget_share']:.1f} searches/s), "
        f"{p['hubspot_concurrency']} concurrent calls; Salesforce with {p['salesforce_page']:,}-record query "
        f"batches and {p.get('salesforce_concurrency', 1)} write collections at a time.",
        "- Data: `connector.sandbox.demo.scaled_dataset`, cut after its N-th won deal (about 85% of its deals "
        "are won; the open and lost ones stay mixed in). N in the tables is the number of WON deals.",
        "- Each run is the real entry point (`jobs.sync.run_sync` with the real adapter and a SQLite state "
        "store) in a fresh process; the sandbox runs in the parent, so peak RSS is the sync's alone. "
        "Calls are the adapter's count, cross-checked against the sandbox's own count.",
        "- Steps per N: `afterclose plan` then the first run; a re-run with no CRM change; 1% of the won deals "
        "changed by a user (renewal date moved or a missing handoff field filled in), then plan and run; "
        "another 1% changed and a run killed (SIGKILL) right after its first page's CRM writes, then the run "
        "that recovers; the state database deleted, then the run that re-learns.",
        "- HubSpot in both task key modes: `hubspot-refuse`, a portal that refuses unique task properties "
        "(creates written ahead in the state store, a create without an answer looked up on its deal), and "
        "`hubspot-grant`, one that grants them (HubSpot refuses a repeated key). The sandbox's reads do not "
        "lag, so the settle delay is 0 here; on a real portal a run on a new or lost state store first waits "
        "`settle_seconds` (60 s by default) once, which no table below includes.",
        "- Lower bound (tests/bench/bounds.py): the fewest calls the batch maxima allow for the work done "
        "(search pages of 200, HubSpot batches of 100, association reads of 1,000, SOQL batches of 2,000, "
        "collections of 200), counting only deals that needed reading and the distinct contacts and "
        "companies behind them, plus the per-run schema, pipeline and owner reads.",
        "- Time bound: the larger of the rate bound (HubSpot: non-search calls / budgeted rate, searches / "
        "budgeted search rate) and the latency bound (searches one after another, other calls "
        f"{p['hubspot_concurrency']} at a time; Salesforce: query batches one after another, collections "
        f"{p.get('salesforce_concurrency', 1)} at a time).",
        f"- Per-record baseline (tests/bench/baseline.py): the same decisions made with one SDK call per "
        f"association, contact, company, task, task link and updated deal, as the SDK README examples do, "
        f"paced to the same HubSpot budget. It ran over the first {results['baseline_sample']} won deals; its "
        "figures for larger N are **extrapolated linearly** (marked ≈).",
        "",
    ]
    lines += _first_run_table(results)
    lines += _rerun_table(results)
    lines += _recovery_table(results)
    lines += _endpoint_table(results)
    lines += _baseline_table(results)
    lines += _verdicts(results)
    lines += NOTES
    return "\n".join(lines) + "\n"


def _first_run_table(results: dict) -> list[str]:
    rows = ["## First run", "",
            "| CRM | won deals | calls | lower bound | calls / bound | calls per deal | wall | time bound | "
            "wall / bound | sandbox CPU | peak RSS | plan predicted | baseline calls ≈ | fewer calls | "
            "baseline wall ≈ | faster |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in results["scenarios"]:
        first = step(s, "first run")
        calls, bound = total(first["calls"]), total(first["bound"])
        tb = first["time_bound"]
        b_calls, b_wall = baseline_at(results, s["crm"], s["won"])
        predicted = first.get("predicted")
        plan = _predicted(predicted, calls)
        latency = "" if s["latency"] == results["production"]["latency"] else f" (latency {s['latency'] * 1000:.0f} ms)"
        rows.append(
            f"| {s['crm']}{latency} | {s['won']:,} | {calls:,} | {bound:,} | {_ratio(calls, bound)} | "
            f"{calls / s['won']:.3f} | {_seconds(first['wall'])} | {_seconds(tb['binding'])} ({tb['kind']}) | "
            f"{_ratio(first['wall'], tb['binding'])} | {_seconds(first['sandbox_cpu'])} | {first['rss_mb']:.0f} MB | "
            f"{plan} | {b_calls:,.0f} | {b_calls / calls:.0f}× | {_seconds(b_wall)} | {b_wall / first['wall']:.0f}× |")
    return rows + [""]


def _predicted(predicted: int | None, calls: int) -> str:
    """What `afterclose plan` predicted, and how far off the run it predicted was."""
    return f"{predicted:,} ({(predicted - calls) / calls:+.1%})" if predicted else "not run"


def _rerun_table(results: dict) -> list[str]:
    rows = ["## Re-runs", "",
            "| CRM | won deals | no change: calls | write calls | deals read | wall | 1% changed: calls | "
            "lower bound | calls / bound | write calls | wall | wall / bound | plan predicted |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in results["scenarios"]:
        none, some = step(s, "no change"), step(s, "1% changed")
        calls = total(some["calls"])
        predicted = some.get("predicted")
        plan = _predicted(predicted, calls)
        rows.append(
            f"| {s['crm']} | {s['won']:,} | {total(none['calls'])} | {none['write_calls']} | {none['deals_seen']:,} | "
            f"{_seconds(none['wall'])} | {calls} | {total(some['bound'])} | {_ratio(calls, total(some['bound']))} | "
            f"{some['write_calls']} | {_seconds(some['wall'])} | {_ratio(some['wall'], some['time_bound']['binding'])} | "
            f"{plan} |")
    return rows + [""]


def _recovery_table(results: dict) -> list[str]:
    """Runs that look tasks up: after a crash between the CRM write and the state write, and after
    the state database was lost. "task lookups" are those reads (no normal run makes any)."""
    rows = ["## Recovery runs", "",
            "| CRM | won deals | crash recovery: calls | task lookups | write calls | wall | after state loss: calls "
            "| task lookups | write calls | created or updated | wall |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in results["scenarios"]:
        crash, lost = _maybe_step(s, "crash recovery"), _maybe_step(s, "after state loss")
        if crash is None or lost is None:
            continue
        rewritten = lost["outcomes"].get("created", 0) + lost["outcomes"].get("updated", 0)
        rows.append(
            f"| {s['crm']} | {s['won']:,} | {total(crash['calls'])} | {_lookups(crash)} | {crash['write_calls']} | "
            f"{_seconds(crash['wall'])} | {total(lost['calls']):,} | {_lookups(lost)} | {lost['write_calls']} | "
            f"{rewritten} | {_seconds(lost['wall'])} |")
    return rows + [""]


def _maybe_step(scenario: dict, name: str) -> dict | None:
    return next((s for s in scenario["steps"] if s["name"] == name), None)


def _lookups(st: dict) -> int:
    return sum(n for label, n in st["calls"].items()
               if "/associations/deals/tasks/" in label or "/tasks/batch/read" in label)


def _endpoint_table(results: dict) -> list[str]:
    rows = ["## First-run calls per endpoint", ""]
    for s in results["scenarios"]:
        first = step(s, "first run")
        parts = ", ".join(f"`{k}` {v:,}" for k, v in sorted(first["calls"].items(), key=lambda kv: -kv[1]))
        bound = ", ".join(f"{k} {v:,}" for k, v in first["bound"].items())
        rows.append(f"- **{s['crm']}, {s['won']:,} won deals**: {parts}. Lower bound: {bound}.")
    return rows + [""]


def _baseline_table(results: dict) -> list[str]:
    rows = ["## Per-record baseline (measured sample)", "",
            "| CRM | won deals | calls | calls per deal | wall | seconds per deal | calls by kind |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for b in results["baselines"]:
        kinds = ", ".join(f"{k} {v}" for k, v in b["calls"].items())
        rows.append(f"| {b['crm']} | {b['deals']} | {total(b['calls']):,} | {total(b['calls']) / b['deals']:.1f} | "
                    f"{_seconds(b['wall'])} | {b['wall'] / b['deals']:.2f} | {kinds} |")
    return rows + [""]


def _verdicts(results: dict) -> list[str]:
    rows = ["## Targets", ""]
    for s in results["scenarios"]:
        first, none, some = step(s, "first run"), step(s, "no change"), step(s, "1% changed")
        name = f"{s['crm']} {s['won']:,}"
        for label, st in (("first run", first), ("1% changed", some)):
            ratio = total(st["calls"]) / total(st["bound"])
            rows.append(_check(ratio <= TARGETS["calls_vs_bound"], f"{name}, {label}: calls {ratio:.2f}× the lower bound (≤ 1.15)"))
        wall = first["wall"] / first["time_bound"]["binding"]
        rows.append(_check(wall <= TARGETS["wall_vs_bound"], f"{name}, first run: wall {wall:.2f}× the {first['time_bound']['kind']} bound (≤ 1.3)"))
        rows.append(_check(none["write_calls"] == 0 and total(none["calls"]) <= 10,
                           f"{name}, no change: {total(none['calls'])} calls, {none['write_calls']} write calls"))
        for label, st in (("first run", first), ("1% changed", some)):
            if st.get("predicted"):
                error = abs(st["predicted"] - total(st["calls"])) / total(st["calls"])
                rows.append(_check(error <= TARGETS["plan_error"], f"{name}, {label}: `afterclose plan` off by {error:.1%} (≤ 10%)"))
        if s["crm"] == "hubspot-refuse":
            grant = next((x for x in results["scenarios"] if x["crm"] == "hubspot-grant" and x["won"] == s["won"]),
                         None)
            if grant:
                for label in ("first run", "no change", "1% changed"):
                    mine, theirs = total(step(s, label)["calls"]), total(step(grant, label)["calls"])
                    rows.append(_check(mine <= theirs, f"{name}, {label}: {mine} calls without unique task keys, "
                                                       f"{theirs} with them (no more)"))
        if s["won"] == 10_000:
            b_calls, _ = baseline_at(results, s["crm"], s["won"])
            fewer = b_calls / total(first["calls"])
            rows.append(_check(fewer >= TARGETS["fewer_calls_than_baseline_at_10k"],
                               f"{name}: {fewer:.0f}× fewer calls than the per-record baseline (≥ 50×)"))
        if s["won"] == 50_000:
            rows.append(_check(first["rss_mb"] <= TARGETS["rss_mb_at_50k"], f"{name}: peak RSS {first['rss_mb']:.0f} MB (≤ 300 MB)"))
            ten = next((x for x in results["scenarios"] if x["crm"] == s["crm"] and x["won"] == 10_000), None)
            if ten:
                growth = first["rss_mb"] - step(ten, "first run")["rss_mb"]
                rows.append(_check(growth <= 60, f"{name}: RSS grew {growth:.0f} MB from 10,000 to 50,000 won deals"))
    return rows + [""]


def _check(ok: bool, text: str) -> str:
    return f"- {'met' if ok else '**not met**'}: {text}"


NOTES = [
    "## What the measurement found, and what changed",
    "",
    "- **HubSpot lost deals on big first runs.** Offset paging (`after`) over a search sorted by "
    "`hs_lastmodifieddate` shifted under AfterClose's own write-backs (each written deal moves to the end), "
    "so every page after the first skipped up to 200 deals and the cursor then moved past them: at 1,000 won "
    "deals only 600 were processed. The walk now restarts from the newest timestamp after every page "
    "(keyset paging, connector/hubspot/pull.py and search.py).",
    "- **Re-reading AfterClose's own write-backs** (HubSpot): the walk continues into the deals the run itself "
    "wrote and drops, without any enrichment call, each deal whose properties are exactly what it read plus "
    "what it wrote (`OwnWrites`, connector/hubspot/pull.py); a deal a user changed meanwhile differs and is "
    "read. The cursor ends past the run's own writes, so the next run with no change makes only the fixed "
    "reads and one empty search. Cost: one search per 200 written deals on the run that wrote them (searches "
    "have their own rate limit).",
    "- **HubSpot enrichment at the API maxima**: deal pages of 1,000 (one v4 association read per 1,000 deals "
    "instead of per 200); contacts and companies cached for the run (a company's deals are spread over the "
    "whole stream, and re-reading them per page cost up to 2.5x the bound); every batch read of a page in "
    "parallel; the search walk and the next page's enrichment running ahead in their own threads, so reads "
    "share the rate budget with the writes instead of waiting for them.",
    "- **Client CPU, not the API, was the limit on HubSpot.** hubspot-api-client 12 builds a new "
    "`Configuration` (loggers reset under the global logging lock, `cpu_count()`) for every request model "
    "built without one: ten models per task with its links, about 85,000 for 2,000 deals, 59 s of CPU "
    "across threads. Request models now share one configuration (`sdk_model`, connector/hubspot/client.py), "
    "and the hot replies (search, batch read/create/update, association reads) are read as JSON "
    "(`_preload_content=False`, `Reply`) instead of SDK models with a dateutil parse per timestamp. Worker "
    "CPU for 5,000 won deals went from 38.5 s to 12.6 s, wall time from 55 s to 45 s.",
    "- **Salesforce** was already at the bound on calls (one SOQL query with the contact roles as a subquery per "
    "2,000 deals; collections of 200). Its write collections now go 4 at a time (`max_concurrency`, "
    "connector/salesforce/settings.py; Salesforce limits only requests running longer than 20 s), which "
    "more than halved its wall time (3,000 won deals: 22.5 s to 9.3 s). A run with nothing to do re-read "
    "every deal the run before had written back (28 calls and 40 s at 50,000 won deals); the walk now makes "
    "one more pass, right after its writes, over its own write-backs (one query batch per 2,000 written "
    "deals) and drops the deals that are exactly what it read plus what it wrote (`OwnWrites`, "
    "connector/salesforce/pull.py), so the next run makes 4 calls.",
    "- **Memory**: a real run kept every planned action in its report (~9 MB per 1,000 deals: ~580 MB at "
    "50,000). It now keeps counts and at most 10,000 actions (`KEPT_ACTIONS`, jobs/sync/); a dry run still "
    "keeps the whole plan, which is what `afterclose plan` prints. Peak RSS is read from `VmHWM`: "
    "`ru_maxrss` survives `exec` and reported the parent's size.",
    "- **Pages overlap** (jobs/sync/writer.py `PageWriter`, jobs/sync/stream.py). A run read, decided, wrote and "
    "recorded one page after another, so the CRM waited while the client decided and stored, and the client "
    "waited while the CRM wrote: Salesforce ran at 2.7x its latency bound. Now page k's writes are under way "
    "(`CrmAdapter.submit`) while page k+1 is read (Salesforce query batches are fetched one ahead) and decided, "
    "up to two pages' writes at once behind the adapter's own limit of 4 concurrent calls, and Salesforce sends "
    "a page's upserts and updates in one pool instead of one kind after the other. Pages are still recorded in "
    "order, each after its own writes (docs/architecture.md). Salesforce went from 2.15-2.70x its latency "
    "bound to 1.47-1.65x; HubSpot from 1.17-1.36x its rate bound to 1.16-1.27x.",
    "- **Client CPU per deal** (profiled with py-spy, GIL samples, 5,000 won deals): storing a page's run "
    "records and ledger rows went through SQLAlchemy Core's per-row parameter processing (~40 us a row, ~20 rows "
    "per deal); rows now go to the driver's `executemany` with each column's bind processor applied once per "
    "distinct value (jobs/state/engine.py `execute_many`: 50,000 rows 1.15 s -> 0.46 s). The planner rendered the "
    "subject and body of every touch point, also the ~half it skips as overdue; it now renders only tasks it "
    "writes, shares the playbook's dates between deals closed on the same day, and parses each template once. "
    "The cyclic garbage collector ran hundreds of times per page over everything alive (~25% of the planner's "
    "time); the sync raises its threshold for the run.",
    "- **The sandboxes' latency model**: both slept the full latency and then did their own (single-threaded) "
    "work, so four concurrent calls took 150 ms plus four times the sandbox's work. A real CRM works on them "
    "side by side; the latency now runs from a request's arrival to its answer, the sandbox's work included "
    "(connector/sandbox/controls.py `wait_out_latency`).",
    "- **The HubSpot sandbox's search** scanned and sorted every deal for each keyset restart (~0.4 s of CPU per "
    "search at 50,000 deals, over 3 minutes per run): it now reads a sorted index of `hs_lastmodifieddate` from "
    "the query's lower bound (checked against the full scan, tests/sandbox/test_hubspot_search_index.py). "
    "HubSpot 50,000 went from 1.36x to under 1.3x its rate bound.",
    "",
    "## Known limits and next steps",
    "",
    "- **Salesforce wall time stays above 1.3x its latency bound.** The bound assumes the CRM does all the "
    "work: query batches one after another plus write collections 4 at a time at 150 ms each. Against it the "
    "client still spends ~1 ms of CPU per won deal (deciding, storing, building and reading JSON) on one core "
    "(the GIL), and the sandbox's own CPU (column 'sandbox CPU') shares the machine's 2 cores. At 150 ms per "
    "collection of 200 records the CRM is faster than the client can feed it; a real org takes longer per "
    "collection, which the overlap now hides. Next steps: move the store transaction to its own thread "
    "(sqlite3 releases the GIL while it writes), and build collection bodies as JSON text directly.",
    "- **Peak memory grew** with two pages' writes under way, a query batch read ahead and the collector "
    "running less often: Salesforce 185 -> 273 MB at 50,000 won deals (2,000-deal pages, ~20,000 actions each), "
    "HubSpot 150 -> 168 MB. It stays under 300 MB and nearly flat in N (the per-run set of deal ids decided is "
    "a few MB at 50,000). If it must shrink: one Salesforce page in flight instead of two "
    "(`PAGES_IN_FLIGHT`, jobs/sync/), at some wall time.",
    "- **Calls at 1% changed, Salesforce 50,000: 15 against a bound of 13 (1.15x, just over)**: the pass over "
    "the run's own write-backs and the re-read of the cursor's second (below) are two queries the bound does "
    "not count.",
    "- Small re-runs carry a fixed overhead against the bound: the pass over the run's own write-backs (one "
    "search or query), and on Salesforce the re-read of the cursor's second (SOQL compares whole seconds; a run "
    "writes back hundreds of deals a second, so that second can fill a query batch: such a batch is merged into "
    "the next page rather than written as a page of its own).",
    "- `afterclose plan` was not run at 50,000 won deals (its dry run reads everything once more); at 1,000 and "
    "10,000 it was within 10% on every run.",
    "- `afterclose plan` predicts from the dry run's reads plus the write estimate; a real run also makes "
    "the pass over its own write-backs (HubSpot: one search per 200 written deals; Salesforce: one query "
    "batch per 2,000) that a dry run cannot make.",
    "- HubSpot search is eventually consistent: a write-back not yet indexed when the walk ends is re-read "
    "(with enrichment) by the next run; in the sandbox the lag is 0.",
    "- The per-record baseline ran over a sample and is extrapolated linearly; at N = 50,000 on HubSpot it "
    "would take days.",
]


# -- chart --------------------------------------------------------------------------------------

def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_calls, ax_wall) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"hubspot": "#ff7a59", "hubspot-refuse": "#ff7a59", "hubspot-grant": "#c2410c", "salesforce": "#00a1e0"}
    for crm in sorted({s["crm"] for s in results["scenarios"]}):
        scenarios = sorted((s for s in results["scenarios"] if s["crm"] == crm), key=lambda s: s["won"])
        ns = [s["won"] for s in scenarios]
        calls = [total(step(s, "first run")["calls"]) for s in scenarios]
        walls = [step(s, "first run")["wall"] / 60 for s in scenarios]
        base = [baseline_at(results, crm, n) for n in ns]
        ax_calls.plot(ns, calls, "o-", color=colors.get(crm), label=f"AfterClose, {crm}")
        ax_calls.plot(ns, [b[0] for b in base], "s--", color=colors.get(crm), alpha=0.6,
                      label=f"per-record baseline, {crm} (extrapolated)")
        ax_wall.plot(ns, walls, "o-", color=colors.get(crm), label=f"AfterClose, {crm}")
        ax_wall.plot(ns, [b[1] / 60 for b in base], "s--", color=colors.get(crm), alpha=0.6,
                     label=f"per-record baseline, {crm} (extrapolated)")
    for ax, title, unit in ((ax_calls, "API calls, first run", "calls"), (ax_wall, "Wall time, first run", "minutes")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("won deals")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax_calls.legend(fontsize=7)
    fig.suptitle("AfterClose vs one call per record (150 ms latency, HubSpot at 50% of 190 calls / 10 s)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
