"""``make bench``: measure AfterClose against the production-configured sandboxes.

    python -m tests.bench                      # the full table: N = 1,000 / 10,000 / 50,000, both CRMs
    python -m tests.bench --sizes 1000 --no-write   # a quick look, docs untouched

Writes docs/benchmarks.md (the table, the machine and the date) and docs/benchmarks.png (calls
and wall time against N, AfterClose and the per-record baseline), and a JSON copy of every
figure next to them (docs/benchmarks.json) so the report can be re-rendered without re-running.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from tests.bench import report
from tests.bench.scenario import REPO, Bench, Production, provider_of, run_baseline


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="won deals per scenario, comma-separated")
    parser.add_argument("--crms", default="hubspot-refuse,hubspot-grant,salesforce",
                        help="hubspot-refuse / hubspot-grant: a portal that refuses / grants unique task properties")
    parser.add_argument("--baseline-sample", type=int, default=60,
                        help="won deals the per-record baseline runs over (extrapolated linearly)")
    parser.add_argument("--big-latency", type=float, default=None,
                        help="latency (s) for N >= 50,000 instead of 0.15, to fit the time budget")
    parser.add_argument("--no-plan-above", type=int, default=50_000,
                        help="skip the `afterclose plan` prediction for N at or above this")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    parser.add_argument("--json", default=None, help="also save the figures (JSON) and the tables (Markdown, "
                                                      "same name with .md) here; docs/ is left alone")
    parser.add_argument("--render-only", action="store_true", help="re-render docs from docs/benchmarks.json")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    docs = REPO / "docs"
    if args.render_only:
        report.write(json.loads((docs / "benchmarks.json").read_text()), docs)
        return 0
    prod = Production()
    started = time.perf_counter()
    results: dict = {"machine": report.machine(), "production": dataclasses.asdict(prod), "scenarios": [],
                     "baselines": [], "baseline_sample": args.baseline_sample}
    for crm in args.crms.split(","):
        if provider_of(crm) not in {b["crm"] for b in results["baselines"]}:
            print(f"{provider_of(crm)}: per-record baseline over {args.baseline_sample} won deals", flush=True)
            baseline = run_baseline(crm, args.baseline_sample, prod, prod.latency)
            print(f"  {sum(baseline.calls.values())} calls, {baseline.wall:.1f} s "
                  f"({baseline.calls_per_deal:.1f} calls and {baseline.seconds_per_deal:.2f} s per deal)", flush=True)
            results["baselines"].append(dataclasses.asdict(baseline))
        for won in (int(n) for n in args.sizes.split(",")):
            latency = args.big_latency if args.big_latency is not None and won >= 50_000 else prod.latency
            print(f"{crm}: {won:,} won deals, latency {latency * 1000:.0f} ms", flush=True)
            scenario = Bench(crm, won, prod, latency, log=lambda line: print(line, flush=True)).run(
                with_plan=won < args.no_plan_above)
            results["scenarios"].append(report.as_json(scenario))
    results["total_seconds"] = time.perf_counter() - started
    print(f"benchmark took {results['total_seconds'] / 60:.1f} min", flush=True)
    if args.json:
        from pathlib import Path

        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
        Path(args.json).with_suffix(".md").write_text(report.markdown(results))
        print(f"wrote {args.json}")
    if not args.no_write and not args.json:
        docs.mkdir(exist_ok=True)
        (docs / "benchmarks.json").write_text(json.dumps(results, indent=1, default=str))
        report.write(results, docs)
        print(f"wrote {docs / 'benchmarks.md'} and {docs / 'benchmarks.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
