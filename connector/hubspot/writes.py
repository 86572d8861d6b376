"""Carry out AfterClose's writes in batches; never create a task twice.

Task creation, in both task key modes, is creates.py. Reschedules and closes are batch updates by
the HubSpot task id (from the ledger, or looked up): in the non-unique mode a task whose id is not
known is looked up on its deal (reconcile.py), never by ``idProperty`` on a property without
unique values (HubSpot answers 400); in the unique mode the key property may name it. Deal,
company and contact write-backs are batch updates by id (<= 100 inputs).

A batch HubSpot refuses as a whole (a 4xx, not a 207) is split in halves until the bad input is
isolated, so one bad record never sinks its neighbours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
)

from connector.actions import (
    ActionResult,
    CloseTask,
    CreateDeal,
    CreateTask,
    Outcome,
    UpdateRecord,
    UpdateTask,
    WriteAction,
)
from connector.errors import FatalCrmError
from connector.hubspot import limits
from connector.hubspot.batch import Failure, Input, match
from connector.hubspot.client import HubSpotClient, sdk_model
from connector.hubspot.creates import WRITE_MAX, Creator
from connector.hubspot.deal_creates import DealCreator
from connector.hubspot.related import BATCH_READ_MAX, chunks
from connector.hubspot.schema import OBJECT_TYPE
from connector.hubspot.taskprops import READ_PROPERTIES, STATUS, KeyMode, task_properties, task_ref
from connector.mapping import FieldMap
from connector.model import TaskRef, TaskStatus

TASK_UPDATE_LABEL = "POST /crm/v3/objects/tasks/batch/update"
TASK_READ_LABEL = "POST /crm/v3/objects/tasks/batch/read"
# UpdateTask.changes names -> the task properties they touch.
_CONTENT = ("hs_task_subject", "hs_task_body", "hubspot_owner_id", "hs_task_priority", "hs_task_type")
_CHANGE_PROPERTIES = {
    "due_at": ("hs_timestamp",), "due_date": ("hs_timestamp",), "due": ("hs_timestamp",),
    "content": _CONTENT,  # what the planner says when text, owner or links changed (jobs/core/planner.py)
    "subject": ("hs_task_subject",), "body": ("hs_task_body",),
    "owner_id": ("hubspot_owner_id",), "owner": ("hubspot_owner_id",),
    "priority": ("hs_task_priority",), "type": ("hs_task_type",),
}
"""Which properties an update writes, by the change the planner names. Never the status: a task
a rep completed meanwhile stays completed when its date or text moves (closing is ``CloseTask``)."""


@dataclass(kw_only=True)
class Writer:
    client: HubSpotClient
    fieldmap: FieldMap
    executor: Executor
    mode: Callable[[], KeyMode]
    creator: Creator
    find_on_deals: Callable[[Mapping[str, str]], dict[str, TaskRef]]
    deal_creator: DealCreator | None = None

    @property
    def key_property(self) -> str:
        return self.fieldmap.task_key_field

    # -- apply -------------------------------------------------------------------------------

    def apply(self, actions: Sequence[WriteAction]) -> list[ActionResult]:
        results: dict[int, ActionResult] = {}
        indexed = list(enumerate(actions))
        creates = [(i, a) for i, a in indexed if isinstance(a, CreateTask)]
        task_updates = [(i, a) for i, a in indexed if isinstance(a, UpdateTask | CloseTask)]
        records = [(i, a) for i, a in indexed if isinstance(a, UpdateRecord)]
        deals = [(i, a) for i, a in indexed if isinstance(a, CreateDeal)]
        if deals:
            if self.deal_creator is None:
                raise TypeError("this writer creates no deals")
            results.update(self.deal_creator.create(deals))
        # Creates first: an update in the same apply must find its task. Within a phase, batches
        # run in parallel, except that a record written twice is written in two rounds.
        self._run_parallel(self.creator.jobs(creates), results)
        for jobs in self._task_update_rounds(self._with_task_ids(task_updates, results)):
            self._run_parallel(jobs, results)
        for jobs in self._record_rounds(records, results):
            self._run_parallel(jobs, results)
        return [results[i] for i in range(len(actions))]

    def _run_parallel(self, jobs: list[Callable[[], list[tuple[int, ActionResult]]]],
                      results: dict[int, ActionResult]) -> None:
        futures = [self.executor.submit(job) for job in jobs]
        errors = []
        for future in futures:
            try:
                results.update(future.result())
            except Exception as exc:  # noqa: BLE001 - re-raised below once every batch has finished
                errors.append(exc)
        if errors:
            raise errors[0]

    # -- update / close tasks ----------------------------------------------------------------

    def _with_task_ids(self, updates: list[tuple[int, UpdateTask | CloseTask]],
                       results: dict[int, ActionResult]) -> list[tuple[int, UpdateTask | CloseTask]]:
        """Non-unique mode: tasks known only by key are looked up on their deals first; one not
        found is settled here (nothing to close; an update refused), never written by key."""
        unknown = {a.key: a.deal_id for _, a in updates if not a.crm_id}
        if not unknown or self.mode() is KeyMode.UNIQUE:
            return updates
        found = self.find_on_deals(unknown)
        ready = []
        for i, action in updates:
            if action.crm_id:
                ready.append((i, action))
            elif action.key in found:
                ready.append((i, dataclasses.replace(action, crm_id=found[action.key].crm_id)))
            else:
                results[i] = _rejected(action, Failure(message=f"no task with this key on deal {action.deal_id} "
                                                               "in HubSpot", code="OBJECT_NOT_FOUND"), None)
        return ready

    def _task_update_rounds(self, updates: list[tuple[int, UpdateTask | CloseTask]]) -> Iterator[list[Callable]]:
        for round_ in _rounds(updates, lambda item: item[1].crm_id or item[1].key):
            yield [lambda batch=batch: self._update_tasks(batch) for batch in chunks(round_, WRITE_MAX)]

    def _update_tasks(self, batch: list[tuple[int, UpdateTask | CloseTask]]) -> list[tuple[int, ActionResult]]:
        inputs = [Input(trace=f"afterclose-{i}", ref=a.crm_id or a.key, item=(i, a)) for i, a in batch]
        body = sdk_model(BatchInputSimplePublicObjectBatchInput, inputs=[
            sdk_model(SimplePublicObjectBatchInput,
                id=a.crm_id or a.key, id_property=None if a.crm_id else self.key_property,
                properties=self._task_changes(a), object_write_trace_id=inp.trace,
            ) for inp, (_, a) in zip(inputs, batch, strict=True)
        ])
        return self._send(TASK_UPDATE_LABEL, "tasks", body, inputs, self._task_refs, _task_outcome)

    def _task_changes(self, action: UpdateTask | CloseTask) -> dict[str, str]:
        if isinstance(action, CloseTask):
            return {"hs_task_status": STATUS[TaskStatus.COMPLETED]}
        full = task_properties(action.spec, self.key_property)
        full.pop(self.key_property)
        full.pop("hs_task_status")
        wanted = {p for change in action.changes for p in _CHANGE_PROPERTIES.get(change, ())}
        # Unknown change names: write everything but the key and status rather than miss a change.
        chosen = {k: v for k, v in full.items() if k in wanted} if wanted else full
        if "hubspot_owner_id" in wanted and not action.spec.owner_id:
            chosen["hubspot_owner_id"] = ""
        return chosen

    # -- record write-backs ------------------------------------------------------------------

    def _record_rounds(self, records: list[tuple[int, UpdateRecord]],
                       results: dict[int, ActionResult]) -> Iterator[list[Callable]]:
        by_type: dict[str, list[tuple[int, UpdateRecord, dict[str, str]]]] = {}
        for i, action in records:
            properties, unmapped = self._record_properties(action)
            if unmapped:
                results[i] = ActionResult(action=action, outcome=Outcome.REJECTED, error_code="UNMAPPED_FIELD",
                                          message=f"no {action.update.kind} mapping for {', '.join(unmapped)} "
                                                  f"in {self.fieldmap.source}")
                continue
            by_type.setdefault(OBJECT_TYPE[action.update.kind], []).append((i, action, properties))
        rounds = {t: _rounds(items, lambda item: item[1].update.record_id) for t, items in by_type.items()}
        for n in range(max((len(r) for r in rounds.values()), default=0)):
            yield [
                lambda object_type=object_type, batch=batch: self._update_records(object_type, batch)
                for object_type, type_rounds in rounds.items() if n < len(type_rounds)
                for batch in chunks(type_rounds[n], WRITE_MAX)
            ]

    def _record_properties(self, action: UpdateRecord) -> tuple[dict[str, str], list[str]]:
        properties: dict[str, str] = {}
        unmapped: list[str] = []
        for canonical, value in action.update.values.items():
            spec = self.fieldmap.fields.get(canonical)
            if spec is None or spec.record is not action.update.kind:
                unmapped.append(canonical)
            else:
                # "" clears a HubSpot property; a text longer than the property holds is cut (limits.py)
                properties[spec.crm_name] = "" if value is None else limits.property_value(spec.crm_name, value)
        return properties, unmapped

    def _update_records(self, object_type: str,
                        batch: list[tuple[int, UpdateRecord, dict[str, str]]]) -> list[tuple[int, ActionResult]]:
        inputs = [Input(trace=f"afterclose-{i}", ref=a.update.record_id, item=(i, a)) for i, a, _ in batch]
        body = sdk_model(BatchInputSimplePublicObjectBatchInput, inputs=[
            sdk_model(SimplePublicObjectBatchInput, id=a.update.record_id, properties=props,
                      object_write_trace_id=inp.trace)
            for inp, (_, a, props) in zip(inputs, batch, strict=True)
        ])
        label = f"POST /crm/v3/objects/{object_type}/batch/update"
        return self._send(label, object_type, body, inputs, lambda r: [str(r.id)], lambda _a: Outcome.UPDATED)

    # -- shared: send an update batch, split it when refused whole ---------------------------

    def _send(self, label: str, object_type: str, body: BatchInputSimplePublicObjectBatchInput, inputs: list[Input],
              refs_of: Callable[[Any], list[str]],
              outcome_of: Callable[[Any], Outcome]) -> list[tuple[int, ActionResult]]:
        try:
            reply = self.client.call(label, "crm.objects.batch_api", "update", raw=True, object_type=object_type,
                                     batch_input_simple_public_object_batch_input=body)
        except FatalCrmError as refused:
            if len(inputs) == 1:
                (index, action) = inputs[0].item
                return [(index, _rejected(action, Failure(message=str(refused), code=refused.error_code),
                                          refused.correlation_id))]
            half = len(inputs) // 2
            return (self._send(label, object_type, _subset(body, 0, half), inputs[:half], refs_of, outcome_of)
                    + self._send(label, object_type, _subset(body, half, len(inputs)), inputs[half:], refs_of,
                                 outcome_of))
        matched = match(inputs, reply, refs_of=refs_of)
        out = [(inp.item[0], ActionResult(action=inp.item[1], outcome=outcome_of(inp.item[1]), crm_id=str(r.id)))
               for inp, r in matched.succeeded]
        return out + [(inp.item[0], _rejected(inp.item[1], f, None)) for inp, f in matched.failed]

    # -- read tasks by key -------------------------------------------------------------------

    def read_tasks(self, keys: Sequence[str]) -> dict[str, TaskRef]:
        """Unique mode: tasks carrying these keys, by batch read with ``idProperty`` on the key
        property (no search lag). HubSpot answers 400 to this on a property without unique values."""
        found: dict[str, TaskRef] = {}
        wanted = [self.key_property, *READ_PROPERTIES]
        for batch in chunks(list(dict.fromkeys(keys)), BATCH_READ_MAX):
            body = sdk_model(BatchReadInputSimplePublicObjectId,
                inputs=[sdk_model(SimplePublicObjectId, id=k) for k in batch], id_property=self.key_property,
                properties=wanted, properties_with_history=[],
            )
            reply = self.client.call(TASK_READ_LABEL, "crm.objects.batch_api", "read", raw=True, object_type="tasks",
                                     batch_read_input_simple_public_object_id=body, archived=False)
            # Keys without a task come back as errors in a 207: "not found" is the answer, not a failure.
            for result in getattr(reply, "results", None) or []:
                ref = task_ref(str(result.id), result.properties or {}, self.key_property)
                if ref.key in batch:
                    found[ref.key] = ref
        return found

    def _task_refs(self, result: Any) -> list[str]:
        return [str(result.id),
                *([result.properties[self.key_property]] if self.key_property in (result.properties or {}) else [])]


def _task_outcome(action: UpdateTask | CloseTask) -> Outcome:
    return Outcome.CLOSED if isinstance(action, CloseTask) else Outcome.UPDATED


def _rejected(action: WriteAction, failure: Failure, correlation_id: str | None) -> ActionResult:
    if isinstance(action, CloseTask) and failure.code == "OBJECT_NOT_FOUND":
        # The rep deleted the task: there is nothing left to close, and retrying cannot change
        # that. Same answer as the Salesforce adapter gives.
        return ActionResult(action=action, outcome=Outcome.UNCHANGED, message="task no longer exists in the CRM",
                            error_code=failure.code, correlation_id=correlation_id)
    return ActionResult(action=action, outcome=Outcome.REJECTED, message=failure.message,
                        error_code=failure.code, correlation_id=correlation_id)


def _rounds(items: list, ref: Callable[[Any], str]) -> list[list]:
    """The k-th write to a record goes in round k: HubSpot refuses one id twice in a batch, and
    two writes to one record must land in order."""
    rounds: list[list] = []
    writes: dict[str, int] = {}
    for item in items:
        n = writes.get(ref(item), 0)
        writes[ref(item)] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(item)
    return rounds


def _subset(body: BatchInputSimplePublicObjectBatchInput, start: int,
            end: int) -> BatchInputSimplePublicObjectBatchInput:
    return sdk_model(BatchInputSimplePublicObjectBatchInput, inputs=body.inputs[start:end])

