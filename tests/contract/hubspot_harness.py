"""The HubSpot harness for the adapter contract suite: the sandbox with the demo data, and the
real ``HubSpotAdapter`` talking to it through the unmodified SDK.

``hubspot_fieldmap()`` builds the default HubSpot mapping from the dataclasses (deal properties
named like the canonical fields, task key ``afterclose_key``), so these tests do not depend on
the mapping file loader.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from connector.hubspot import HubSpotAdapter, HubSpotSettings
from connector.mapping import FieldMap, FieldSpec, FieldType, TaskTemplate
from connector.model import RENEWAL_DEAL_KEY, Provider, RecordKind
from connector.retry import RetrySettings
from connector.sandbox.demo import DemoDataset, demo_dataset
from connector.sandbox.hubspot import HubSpotSandbox
from tests.contract.harness import SandboxDeal, SandboxTask, is_write_label

ANCHOR = dt.date(2026, 3, 2)
FAST_RETRY = RetrySettings(attempts=6, base_seconds=0.01, max_seconds=2.0)

_INPUTS = {
    "first_touch_channel": FieldType.TEXT,
    "decision_criteria": FieldType.TEXT,
    "customer_goal": FieldType.TEXT,
    "success_criteria": FieldType.TEXT,
    "renewal_date": FieldType.DATE,
}
_WRITTEN = {
    "handoff_status": (FieldType.ENUM, ("complete", "incomplete")),
    "handoff_missing": (FieldType.TEXT, ()),
    "nps_score": (FieldType.NUMBER, ()),
    "nps_category": (FieldType.ENUM, ("promoter", "passive", "detractor")),
    "nps_date": (FieldType.DATE, ()),
    "referral_status": (FieldType.ENUM, ("not_eligible", "eligible", "asked", "referred", "declined")),
}


def hubspot_fieldmap(**renamed: str) -> FieldMap:
    """The default HubSpot mapping; ``renamed`` points canonical fields at other property names."""
    fields = {
        name: FieldSpec(canonical=name, record=RecordKind.DEAL, crm_name=renamed.get(name, name), type=type_)
        for name, type_ in _INPUTS.items()
    }
    fields |= {
        name: FieldSpec(canonical=name, record=RecordKind.DEAL, crm_name=renamed.get(name, name), type=type_,
                        options=options, write=True, afterclose_owned=True)
        for name, (type_, options) in _WRITTEN.items()
    }
    return FieldMap(
        provider=Provider.HUBSPOT, source="tests/contract/hubspot_harness.py", fields=fields,
        handoff_rules=(), templates={"default": TaskTemplate(subject="{touch_point}", body="")},
        task_key_field=renamed.get("task_key_field", "afterclose_key"),
    )


# The sandbox enforces no limits unless asked; a generous budget keeps the suites fast. Tests of the
# budget itself pass their own settings.
TEST_BUDGET = {"rate_limit_per_10s": 2_000, "search_per_second": 100.0}
TEST_SETTLE = {"settle_seconds": 0.0}
"""The sandbox carries a request out before it answers and shows associations at once (unless a
test sets ``association_read_lag`` or a SLOW fault): its reads are settled at once. Tests of the
settle delay pass their own."""
MODES = ("refuse", "grant", "ignore")
"""The sandbox's ``task_uniqueness`` settings: whether a task property may have unique values."""


def settings_for(endpoint, **overrides) -> HubSpotSettings:
    values = {"access_token": endpoint.token, "base_url": endpoint.base_url} | TEST_BUDGET | TEST_SETTLE | overrides
    return HubSpotSettings(**values)


class HubSpotHarness:
    provider = "hubspot"

    def __init__(self, sandbox: HubSpotSandbox, adapter: HubSpotAdapter):
        self.sandbox = sandbox
        self.adapter = adapter

    def won_deal_ids(self) -> set[str]:
        won = self.sandbox.won_stage_ids
        return {r["id"] for r in self.sandbox.records("deals") if r["properties"].get("dealstage") in won}

    def deal_id(self, demo_key: int) -> str:
        return self.sandbox.demo_ids["deals"][demo_key]

    def tasks(self) -> list[SandboxTask]:
        return [self._task(r) for r in self.sandbox.records("tasks")]

    def renewal_deals(self) -> list[SandboxDeal]:
        spec = self.adapter.fieldmap.fields.get(RENEWAL_DEAL_KEY)
        if spec is None:
            return []
        return [SandboxDeal(key=r["properties"][spec.crm_name], crm_id=r["id"], stage=r["properties"].get("dealstage"),
                            pipeline=r["properties"].get("pipeline"))
                for r in self.sandbox.records("deals") if r["properties"].get(spec.crm_name)]

    def _task(self, record: dict) -> SandboxTask:
        p, task_id = record["properties"], record["id"]

        def linked(to_type: str) -> str | None:
            ids = self.sandbox.associated_ids("tasks", task_id, to_type)
            return ids[0] if ids else None

        due = dt.datetime.fromisoformat(p["hs_timestamp"]) if not str(p["hs_timestamp"]).isdigit() else \
            dt.datetime.fromtimestamp(int(p["hs_timestamp"]) / 1000, dt.UTC)
        return SandboxTask(
            key=p.get("afterclose_key"), crm_id=task_id, subject=p.get("hs_task_subject") or "",
            due_date=due.date(), owner_id=p.get("hubspot_owner_id"),
            status="completed" if p.get("hs_task_status") == "COMPLETED" else "open",
            deal_id=linked("deals"), company_id=linked("companies"), contact_id=linked("contacts"),
        )

    def field(self, deal_id: str, canonical: str) -> str | None:
        crm_name = self.adapter.fieldmap.spec(canonical).crm_name
        record = next(r for r in self.sandbox.records("deals") if r["id"] == deal_id)
        value = record["properties"].get(crm_name)
        return value if value not in (None, "") else None

    def set_field(self, deal_id: str, canonical: str, value: str | None) -> None:
        crm_name = self.adapter.fieldmap.spec(canonical).crm_name
        self.sandbox.edit("deals", deal_id, {crm_name: "" if value is None else value})

    def mark_lost(self, deal_id: str) -> None:
        record = next(r for r in self.sandbox.records("deals") if r["id"] == deal_id)
        pipeline = record["properties"].get("pipeline") or "default"
        lost = _lost_stage(self.sandbox, pipeline)
        self.sandbox.edit("deals", deal_id, {"dealstage": lost})

    def mark_won(self, deal_id: str) -> None:
        record = next(r for r in self.sandbox.records("deals") if r["id"] == deal_id)
        pipeline = self.sandbox.backend.pipelines[record["properties"].get("pipeline") or "default"]
        self.sandbox.edit("deals", deal_id, {"dealstage": next(s.id for s in pipeline.stages if s.won)})

    def complete_task(self, crm_id: str) -> None:
        self.sandbox.edit("tasks", crm_id, {"hs_task_status": "COMPLETED"})

    def calls(self) -> int:
        return self.sandbox.controls.total_calls()

    def write_calls(self) -> int:
        return sum(n for label, n in self.sandbox.controls.snapshot().items() if is_write_label(label))


def _lost_stage(sandbox: HubSpotSandbox, pipeline_id: str) -> str:
    pipeline = sandbox.backend.pipelines[pipeline_id]
    return next(s.id for s in pipeline.stages if s.closed and not s.won)


@contextlib.contextmanager
def hubspot_harness(
    dataset: DemoDataset | None = None, *, fieldmap: FieldMap | None = None, retry: RetrySettings = FAST_RETRY,
    sandbox_options: dict | None = None, settings: dict | None = None, mode: str | None = None, **adapter_options,
) -> Iterator[HubSpotHarness]:
    """The sandbox serving ``dataset`` (the demo set by default) and an adapter against it.
    ``mode``: the sandbox's ``task_uniqueness`` (its default, the stricter ``refuse``, when None)."""
    options = dict(sandbox_options or {})
    if mode is not None:
        options["task_uniqueness"] = mode
    sandbox = HubSpotSandbox(**options)
    sandbox.load(dataset or demo_dataset(anchor=ANCHOR))
    with sandbox.serve() as endpoint:
        adapter = HubSpotAdapter(settings=settings_for(endpoint, **(settings or {})), fieldmap=fieldmap or hubspot_fieldmap(),
                                 retry=retry, **adapter_options)
        try:
            yield HubSpotHarness(sandbox, adapter)
        finally:
            adapter.close()


def open_harness(*, fieldmap: FieldMap | None = None, mode: str | None = None, page_size: int | None = None):
    """The entry point tests/contract/conftest.py calls: the demo data set, default mapping, the
    portal's task uniqueness ``mode`` (refuse, grant or ignore); ``page_size`` shrinks the search
    pages (and so the deal pages) below HubSpot's 200."""
    return hubspot_harness(fieldmap=fieldmap, mode=mode, **({"page_size": page_size} if page_size else {}))
