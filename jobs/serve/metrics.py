"""Prometheus metrics for `afterclose serve` (the run history in the state store covers the rest).

A private registry, not the global one: the process's default collectors and anything a library
registers stay out, and tests can read exactly these series.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from connector.port import CallStats

# The *_created series (when each counter was first touched) only double the output here.
disable_created_metrics()
REGISTRY = CollectorRegistry()
CONTENT_TYPE = CONTENT_TYPE_LATEST

RUNS = Counter("afterclose_runs", "Scheduled runs, by job and outcome (ok, rejected, failed, lock_held, "
               "claimed_elsewhere)", ["job", "outcome"], registry=REGISTRY)
RECORDS = Counter("afterclose_records", "Records handled, by job and outcome (created, updated, closed, "
                  "unchanged, skipped, rejected)", ["job", "outcome"], registry=REGISTRY)
API_CALLS = Counter("afterclose_api_calls", "CRM API calls, by endpoint", ["endpoint"], registry=REGISTRY)
RATE_LIMIT_WAIT = Counter(
    "afterclose_rate_limit_wait_seconds", "Seconds spent waiting on CRM rate limits", registry=REGISTRY
)
LAST_SUCCESS = Gauge(
    "afterclose_last_success_timestamp_seconds", "Unix time of the last run that finished without failing",
    ["job"], registry=REGISTRY,
)


def observe_run(job: str, outcome: str, records: Mapping[str, int], calls: CallStats | None,
                finished_at: dt.datetime) -> None:
    """Count one finished run of ``job``; ``calls`` are the API calls that run made."""
    RUNS.labels(job=job, outcome=outcome).inc()
    for record_outcome, count in records.items():
        RECORDS.labels(job=job, outcome=record_outcome).inc(count)
    if calls is not None:
        for endpoint, count in calls.by_endpoint.items():
            API_CALLS.labels(endpoint=endpoint).inc(count)
        RATE_LIMIT_WAIT.inc(calls.rate_limit_wait_seconds)
    if outcome in ("ok", "rejected"):
        LAST_SUCCESS.labels(job=job).set(finished_at.timestamp())


def render() -> bytes:
    return generate_latest(REGISTRY)
