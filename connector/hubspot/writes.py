"""Carry out AfterClose's writes in batches; never create a task twice.

Tasks are created with ``POST /crm/v3/objects/tasks/batch/create`` (<= 100 inputs), each input
carrying AfterClose's idempotency key in the task key property, which requires unique values
(``hasUniqueValue``), and its links to the deal (216), company (192) and main contact (204)
inline. A repeated create (a lost response retried, a crash before the ledger write, a deleted
state store) is then refused per input by the uniqueness rule instead of duplicating; the adapter
resolves each refused input by a batch read with ``idProperty=<key property>`` (no search index,
so no lag) and reports the task that already exists. docs/hubspot-adapter.md gives the sources
and why batch *upsert* is not used.

Reschedules and closes update by the key (``idProperty``) when the HubSpot id is not known. Deal,
company and contact write-backs are batch updates by id (<= 100 inputs).

A batch HubSpot refuses as a whole (a 4xx, not a 207) is split in halves until the bad input is
isolated, so one bad record never sinks its neighbours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from hubspot.crm.objects import (
    AssociationSpec,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectId,
)

from connector.actions import ActionResult, CloseTask, CreateTask, Outcome, UpdateRecord, UpdateTask, WriteAction
from connector.errors import FatalCrmError
from connector.hubspot.batch import Failure, Input, match
from connector.hubspot.client import Attempts, HubSpotClient, sdk_model
from connector.hubspot.related import BATCH_READ_MAX, chunks
from connector.hubspot.schema import OBJECT_TYPE
from connector.hubspot.search import parse_instant, to_epoch_ms
from connector.mapping import FieldMap
from connector.model import Priority, TaskRef, TaskSpec, TaskStatus, TaskType

WRITE_MAX = 100
TASK_TO_DEAL, TASK_TO_COMPANY, TASK_TO_CONTACT = 216, 192, 204
"""HubSpot-defined association types (hubspot.crm.association_type.AssociationType, facts §2)."""
CREATE_LABEL = "POST /crm/v3/objects/tasks/batch/create"
TASK_UPDATE_LABEL = "POST /crm/v3/objects/tasks/batch/update"
TASK_READ_LABEL = "POST /crm/v3/objects/tasks/batch/read"

PRIORITY = {Priority.HIGH: "HIGH", Priority.NORMAL: "MEDIUM", Priority.LOW: "LOW"}
TYPE = {TaskType.CALL: "CALL", TaskType.EMAIL: "EMAIL", TaskType.TODO: "TODO"}
STATUS = {TaskStatus.OPEN: "NOT_STARTED", TaskStatus.COMPLETED: "COMPLETED"}
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


def task_properties(spec: TaskSpec, key_property: str) -> dict[str, str]:
    """A TaskSpec as HubSpot task properties (https://developers.hubspot.com/docs/api/crm/tasks)."""
    properties = {
        key_property: spec.key,
        "hs_task_subject": spec.subject,
        "hs_task_body": spec.body,
        "hs_timestamp": str(to_epoch_ms(spec.due_at)),
        "hs_task_priority": PRIORITY[spec.priority],
        "hs_task_type": TYPE[spec.type],
        "hs_task_status": STATUS[spec.status],
    }
    if spec.owner_id:
        properties["hubspot_owner_id"] = spec.owner_id
    return properties


def task_associations(spec: TaskSpec) -> list[PublicAssociationsForObject]:
    links = [(spec.deal_id, TASK_TO_DEAL), (spec.company_id, TASK_TO_COMPANY), (spec.contact_id, TASK_TO_CONTACT)]
    return [
        sdk_model(PublicAssociationsForObject,
            to=sdk_model(PublicObjectId, id=to_id),
            types=[sdk_model(AssociationSpec, association_category="HUBSPOT_DEFINED", association_type_id=type_id)],
        )
        for to_id, type_id in links if to_id
    ]


@dataclass(kw_only=True)
class Writer:
    client: HubSpotClient
    fieldmap: FieldMap
    executor: Executor

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
        # Creates first: an update by key in the same apply must find its task. Within a phase,
        # batches run in parallel, except that a record written twice is written in two rounds.
        self._run_parallel(list(self._create_jobs(creates)), results)
        for jobs in self._task_update_rounds(task_updates):
            self._run_parallel(jobs, results)
        for jobs in self._record_rounds(records, results):
            self._run_parallel(jobs, results)
        return [results[i] for i in range(len(actions))]

    def _run_parallel(self, jobs: list[Callable[[], list[tuple[int, ActionResult]]]], results: dict[int, ActionResult]) -> None:
        futures = [self.executor.submit(job) for job in jobs]
        errors = []
        for future in futures:
            try:
                results.update(future.result())
            except Exception as exc:  # noqa: BLE001 - re-raised below once every batch has finished
                errors.append(exc)
        if errors:
            raise errors[0]

    # -- create tasks ------------------------------------------------------------------------

    def _create_jobs(self, creates: list[tuple[int, CreateTask]]) -> Iterator[Callable]:
        for batch in chunks(creates, WRITE_MAX):
            yield lambda batch=batch: self._create(batch)

    def _create(self, batch: list[tuple[int, CreateTask]]) -> list[tuple[int, ActionResult]]:
        inputs = [Input(trace=f"afterclose-{i}", ref=a.spec.key, item=(i, a)) for i, a in batch]
        body = sdk_model(BatchInputSimplePublicObjectBatchInputForCreate, inputs=[
            sdk_model(SimplePublicObjectBatchInputForCreate,
                properties=task_properties(a.spec, self.key_property), associations=task_associations(a.spec),
                object_write_trace_id=inp.trace,
            ) for inp, (_, a) in zip(inputs, batch)
        ])
        attempts = Attempts()
        try:
            reply = self.client.call(CREATE_LABEL, "crm.objects.batch_api", "create", raw=True, object_type="tasks",
                                     batch_input_simple_public_object_batch_input_for_create=body, attempts=attempts)
        except FatalCrmError as refused:
            return self._after_whole_batch_refused(batch, refused, attempts)
        matched = match(inputs, reply, refs_of=self._task_refs)
        out = [(inp.item[0], ActionResult(action=inp.item[1], outcome=Outcome.CREATED, crm_id=str(r.id)))
               for inp, r in matched.succeeded]
        return out + self._resolve_refused([(inp.item, f) for inp, f in matched.failed], attempts)

    def _after_whole_batch_refused(self, batch: list[tuple[int, CreateTask]], refused: FatalCrmError,
                                   attempts: Attempts) -> list[tuple[int, ActionResult]]:
        """A 4xx for the whole batch: settle the inputs whose task exists, retry the rest apart."""
        failure = Failure(message=str(refused), code=refused.error_code)
        existing = self.read_tasks([a.spec.key for _, a in batch])
        out = [self._existing(i, a, existing[a.spec.key], attempts) for i, a in batch if a.spec.key in existing]
        rest = [(i, a) for i, a in batch if a.spec.key not in existing]
        if len(rest) == 1:
            i, a = rest[0]
            return out + [(i, _rejected(a, failure, refused.correlation_id))]
        if len(rest) == len(batch):
            half = len(rest) // 2
            return out + self._create(rest[:half]) + self._create(rest[half:])
        return out + (self._create(rest) if rest else [])

    def _resolve_refused(self, failed: list[tuple[tuple[int, CreateTask], Failure]], attempts: Attempts) -> list[tuple[int, ActionResult]]:
        """Inputs HubSpot refused: those whose key already has a task are that task, not errors."""
        if not failed:
            return []
        existing = self.read_tasks([a.spec.key for (_, a), _ in failed])
        return [
            self._existing(i, a, existing[a.spec.key], attempts) if a.spec.key in existing
            else (i, _rejected(a, failure, None))
            for (i, a), failure in failed
        ]

    def _existing(self, index: int, action: CreateTask, task: TaskRef, attempts: Attempts) -> tuple[int, ActionResult]:
        # Retried within this call: our own first attempt made it (its reply was lost) -> CREATED.
        # Refused at the first attempt: it existed before this run's call -> UNCHANGED.
        if attempts.count > 1:
            return index, ActionResult(action=action, outcome=Outcome.CREATED, crm_id=task.crm_id,
                                       message="created by an earlier attempt whose reply was lost")
        return index, ActionResult(action=action, outcome=Outcome.UNCHANGED, crm_id=task.crm_id,
                                   message=f"a task with this key already exists in HubSpot ({self.key_property})")

    # -- update / close tasks ----------------------------------------------------------------

    def _task_update_rounds(self, updates: list[tuple[int, UpdateTask | CloseTask]]) -> Iterator[list[Callable]]:
        for round_ in _rounds(updates, lambda item: item[1].crm_id or item[1].key):
            yield [lambda batch=batch: self._update_tasks(batch) for batch in chunks(round_, WRITE_MAX)]

    def _update_tasks(self, batch: list[tuple[int, UpdateTask | CloseTask]]) -> list[tuple[int, ActionResult]]:
        inputs = [Input(trace=f"afterclose-{i}", ref=a.crm_id or a.key, item=(i, a)) for i, a in batch]
        body = sdk_model(BatchInputSimplePublicObjectBatchInput, inputs=[
            sdk_model(SimplePublicObjectBatchInput,
                id=a.crm_id or a.key, id_property=None if a.crm_id else self.key_property,
                properties=self._task_changes(a), object_write_trace_id=inp.trace,
            ) for inp, (_, a) in zip(inputs, batch)
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

    def _record_rounds(self, records: list[tuple[int, UpdateRecord]], results: dict[int, ActionResult]) -> Iterator[list[Callable]]:
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
                properties[spec.crm_name] = "" if value is None else value  # "" clears a HubSpot property
        return properties, unmapped

    def _update_records(self, object_type: str, batch: list[tuple[int, UpdateRecord, dict[str, str]]]) -> list[tuple[int, ActionResult]]:
        inputs = [Input(trace=f"afterclose-{i}", ref=a.update.record_id, item=(i, a)) for i, a, _ in batch]
        body = sdk_model(BatchInputSimplePublicObjectBatchInput, inputs=[
            sdk_model(SimplePublicObjectBatchInput, id=a.update.record_id, properties=props, object_write_trace_id=inp.trace)
            for inp, (_, a, props) in zip(inputs, batch)
        ])
        label = f"POST /crm/v3/objects/{object_type}/batch/update"
        return self._send(label, object_type, body, inputs, lambda r: [str(r.id)], lambda _a: Outcome.UPDATED)

    # -- shared: send an update batch, split it when refused whole ---------------------------

    def _send(self, label: str, object_type: str, body: BatchInputSimplePublicObjectBatchInput, inputs: list[Input],
              refs_of: Callable[[Any], list[str]], outcome_of: Callable[[Any], Outcome]) -> list[tuple[int, ActionResult]]:
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
                    + self._send(label, object_type, _subset(body, half, len(inputs)), inputs[half:], refs_of, outcome_of))
        matched = match(inputs, reply, refs_of=refs_of)
        out = [(inp.item[0], ActionResult(action=inp.item[1], outcome=outcome_of(inp.item[1]), crm_id=str(r.id)))
               for inp, r in matched.succeeded]
        return out + [(inp.item[0], _rejected(inp.item[1], f, None)) for inp, f in matched.failed]

    # -- read tasks by key -------------------------------------------------------------------

    def read_tasks(self, keys: Sequence[str]) -> dict[str, TaskRef]:
        """Tasks carrying these keys, by batch read on the unique key property (no search lag)."""
        found: dict[str, TaskRef] = {}
        wanted = ["hs_task_status", "hs_timestamp", "hubspot_owner_id", self.key_property]
        for batch in chunks(list(dict.fromkeys(keys)), BATCH_READ_MAX):
            body = sdk_model(BatchReadInputSimplePublicObjectId,
                inputs=[sdk_model(SimplePublicObjectId, id=k) for k in batch], id_property=self.key_property,
                properties=wanted, properties_with_history=[],
            )
            reply = self.client.call(TASK_READ_LABEL, "crm.objects.batch_api", "read", raw=True, object_type="tasks",
                                     batch_read_input_simple_public_object_id=body, archived=False)
            # Keys without a task come back as errors in a 207: "not found" is the answer, not a failure.
            for result in getattr(reply, "results", None) or []:
                ref = _task_ref(result, self.key_property)
                if ref.key in batch:
                    found[ref.key] = ref
        return found

    def _task_refs(self, result: Any) -> list[str]:
        return [str(result.id), *([result.properties[self.key_property]] if self.key_property in (result.properties or {}) else [])]


def _task_outcome(action: UpdateTask | CloseTask) -> Outcome:
    return Outcome.CLOSED if isinstance(action, CloseTask) else Outcome.UPDATED


def _task_ref(result: Any, key_property: str) -> TaskRef:
    p = result.properties or {}
    return TaskRef(
        key=p.get(key_property) or "", crm_id=str(result.id),
        due_at=parse_instant(p.get("hs_timestamp")),
        status=TaskStatus.COMPLETED if p.get("hs_task_status") == STATUS[TaskStatus.COMPLETED] else TaskStatus.OPEN,
        owner_id=p.get("hubspot_owner_id") or None,
    )


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


def _subset(body: BatchInputSimplePublicObjectBatchInput, start: int, end: int) -> BatchInputSimplePublicObjectBatchInput:
    return sdk_model(BatchInputSimplePublicObjectBatchInput, inputs=body.inputs[start:end])

