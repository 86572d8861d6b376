"""Lower bounds: the fewest calls the APIs' batch maxima allow for the work a run had to do, and
the least time those calls can take.

The work: the deals that needed reading (every won deal on a first run; only the deals a user
changed on a re-run: a deal whose only change is AfterClose's own write-back needs no read), the
distinct contacts and companies hanging off them, and the writes the run made. Batch maxima
(../shared/reference/crm-api-facts.md §3, §4): HubSpot search pages of 200, object batches of 100,
v4 association reads of 1,000 ids; Salesforce SOQL batches of 2,000 and collections of 200.

Fixed per-run reads count as needed: one schema read per object type (the mapping check), and
for HubSpot the pipelines (which stages are won) and the owner lists (active, archived); on a
run with an empty state store, the one "does the CRM already hold AfterClose tasks?" probe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HUBSPOT_SEARCH, HUBSPOT_BATCH, HUBSPOT_ASSOC = 200, 100, 1_000
SOQL_PAGE, COLLECTION = 2_000, 200


@dataclass(frozen=True, kw_only=True)
class Work:
    deals: int
    """Deals that needed reading (and planning)."""
    contacts: int
    companies: int
    created: int
    task_updates: int
    """Reschedules and closes."""
    record_writes: dict[str, int]
    """Write-backs per record kind ("deal", "company", ...)."""
    schema_reads: int
    first_run: bool


def _ceil(n: int, size: int) -> int:
    return math.ceil(n / size) if n > 0 else 0


def hubspot_calls(w: Work) -> dict[str, int]:
    searches = max(1, _ceil(w.deals, HUBSPOT_SEARCH))  # one search to learn there is nothing
    return {
        "fixed reads": w.schema_reads + 1 + 2 + (1 if w.first_run else 0),
        "deal search": searches,
        "associations": 2 * _ceil(w.deals, HUBSPOT_ASSOC),
        "contacts + companies": _ceil(w.contacts, HUBSPOT_BATCH) + _ceil(w.companies, HUBSPOT_BATCH),
        "writes": (_ceil(w.created, HUBSPOT_BATCH) + _ceil(w.task_updates, HUBSPOT_BATCH)
                   + sum(_ceil(n, HUBSPOT_BATCH) for n in w.record_writes.values())),
    }


def salesforce_calls(w: Work) -> dict[str, int]:
    return {
        "fixed reads": w.schema_reads + (1 if w.first_run else 0),
        "deal query": max(1, _ceil(w.deals, SOQL_PAGE)),
        "writes": _ceil(w.created + w.task_updates, COLLECTION) + _ceil(sum(w.record_writes.values()), COLLECTION),
    }


def hubspot_group(label: str) -> str:
    """Which bound line an adapter endpoint label belongs to. Task lookups (reading tasks on their
    deals or by key: recovering a crash, re-learning a lost store) are not in the bound of a
    normal run, which makes none."""
    if "/deals/search" in label:
        return "deal search"
    if "/associations/deals/tasks/" in label or "/tasks/batch/read" in label:
        return "task lookups"
    if "/associations/" in label:
        return "associations"
    if "/contacts/batch/read" in label or "/companies/batch/read" in label:
        return "contacts + companies"
    if any(w in label for w in ("batch/create", "batch/update", "batch/upsert", "batch/archive")):
        return "writes"
    return "fixed reads"


def salesforce_group(label: str) -> str:
    if label.startswith("composite"):
        return "writes"
    if label == "describe":
        return "fixed reads"
    return "deal query"


@dataclass(frozen=True, kw_only=True)
class TimeBounds:
    rate: float
    latency: float

    @property
    def binding(self) -> float:
        return max(self.rate, self.latency)

    @property
    def kind(self) -> str:
        return "rate" if self.rate >= self.latency else "latency"


def hubspot_time(calls: dict[str, int], *, latency: float, per_ten_seconds: int, searches_per_second: float,
                 concurrency: int) -> TimeBounds:
    """Searches have their own per-second limit (exempt from the ten-second one, facts §3) and
    follow one another (each needs the last one's newest timestamp); the rest may run
    ``concurrency`` at a time within the ten-second budget."""
    searches = sum(n for label, n in calls.items() if label.endswith("/search"))
    others = sum(calls.values()) - searches
    rate = max(others / (per_ten_seconds / 10.0), searches / searches_per_second)
    return TimeBounds(rate=rate, latency=searches * latency + others * latency / concurrency)


def salesforce_time(calls: dict[str, int], *, latency: float, concurrency: int) -> TimeBounds:
    """Salesforce has no per-second limit (a daily cap only). Reads follow one another (each
    query batch names the next); write collections go ``concurrency`` at a time."""
    writes = sum(n for label, n in calls.items() if label.startswith("composite"))
    reads = sum(calls.values()) - writes
    return TimeBounds(rate=0.0, latency=reads * latency + math.ceil(writes / concurrency) * latency)
