"""Prometheus metrics for `afterclose serve` (and the run history for everything else).

A private registry, not the global one: tests and two jobs in one process never collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

REGISTRY = CollectorRegistry()

RUNS = Counter("afterclose_runs", "Runs finished, by job and outcome", ["job", "outcome"], registry=REGISTRY)
RECORDS = Counter("afterclose_records", "Records handled, by job and outcome", ["job", "outcome"], registry=REGISTRY)
API_CALLS = Counter("afterclose_api_calls", "CRM API calls, by endpoint", ["endpoint"], registry=REGISTRY)
RATE_LIMIT_WAIT = Counter(
    "afterclose_rate_limit_wait_seconds", "Seconds spent waiting on CRM rate limits", registry=REGISTRY
)
LAST_SUCCESS = Gauge(
    "afterclose_last_success_timestamp_seconds", "Unix time of the last successful run", ["job"], registry=REGISTRY
)


def render() -> bytes:
    return generate_latest(REGISTRY)
