"""Runs: the run history, what each run did record by record, the records the CRM rejected with
its words, what waits for a retry, and the API calls spent against AfterClose's budget. The same
store reads `afterclose status` makes; no CRM call unless the store cannot tell which account's
runs these are."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.actions import Outcome
from jobs.cli.run import JOBS
from jobs.cli.runtime import Runtime
from jobs.console.auth import Who
from jobs.console.web import context_of, page, refusal, render
from jobs.state import RunSummary, StateStore
from jobs.sync import TASK_KEY_MODE

SHOWN_RUNS = 30


@dataclass(frozen=True, kw_only=True)
class Budget:
    words: str
    per_10s: float | None
    """HubSpot: the calls per ten seconds AfterClose may spend (its share of the portal's limit)."""


def budget_of(runtime: Runtime | None) -> Budget | None:
    if runtime is None:
        return None
    if runtime.provider.value == "hubspot":
        hubspot = runtime.settings.hubspot
        allowed = hubspot.rate_limit_per_10s * hubspot.budget_share
        return Budget(words=f"AfterClose may spend {allowed:g} calls per 10 seconds ({hubspot.budget_share:.0%} of "
                            f"the portal's {hubspot.rate_limit_per_10s}; hubspot.budget_share)", per_10s=allowed)
    reserve = runtime.settings.salesforce.daily_reserve_share
    return Budget(words=f"AfterClose leaves {reserve:.0%} of the org's daily API allowance to other integrations "
                        "(salesforce.daily_reserve_share)", per_10s=None)


def scope_of(runtime: Runtime | None, store: StateStore) -> str | None:
    """The account whose runs to show, as `status` finds it; None: every account's."""
    if runtime is None:
        return None
    known = runtime.known_scope(store)
    if known is not None:
        return known
    try:
        return runtime.scope_for_reading(store)
    except Exception:  # noqa: BLE001 - an unreachable CRM: show every account's runs instead
        return None


def rate_per_10s(run: RunSummary) -> float | None:
    if run.finished_at is None or not run.api_calls:
        return None
    seconds = max((run.finished_at - run.started_at).total_seconds(), 1.0)
    return run.api_calls * 10 / seconds


@page()
def runs_page(request: Request, who: Who, form: FormData) -> Response:
    ctx = context_of(request)
    runtime = ctx.loaded().runtime
    store = ctx.store
    scope = scope_of(runtime, store)
    runs = store.recent_runs(scope, SHOWN_RUNS)
    rejected = store.rejected(scope) if scope else []
    return render(request, who, "runs.html", active="runs", scope=scope, runs=runs, rejected=rejected,
                  cursors={job: store.get_cursor(scope, job) for job in JOBS} if scope else {},
                  nps_waiting=store.nps_to_retry(scope) if scope else [],
                  in_doubt=store.creates_in_doubt(scope) if scope else {},
                  task_keys=store.get_flag(scope, TASK_KEY_MODE) if scope else None,
                  budget=budget_of(runtime), rate=rate_per_10s, most=max([r.api_calls for r in runs] or [0]))


@page()
def run_page(request: Request, who: Who, form: FormData) -> Response:
    ctx = context_of(request)
    scope = scope_of(ctx.loaded().runtime, ctx.store)
    run_id = int(request.path_params["run_id"])
    run = ctx.store.run_summary(scope, run_id) if scope else \
        next((r for r in ctx.store.recent_runs(None, 10_000) if r.id == run_id), None)
    if run is None:
        return refusal(request, who, 404, f"No run {run_id} here: it never existed, belongs to another account, or "
                                          "was pruned ([state] history_days).")
    every = ctx.store.run_records(run_id)
    shown = request.query_params.get("outcome", "")
    records = [r for r in every if r.outcome.value == shown] if shown else every
    counts = {o.value: sum(1 for r in every if r.outcome is o) for o in Outcome}
    return render(request, who, "run.html", active="runs", run=run, records=records, shown=shown,
                  counts={k: v for k, v in counts.items() if v}, rate=rate_per_10s(run),
                  budget=budget_of(ctx.loaded().runtime))


routes = [Route("/runs", runs_page, methods=["GET"]), Route("/runs/{run_id:int}", run_page, methods=["GET"])]
