"""How the in-memory CRM carries out AfterClose's writes, refusing a record the way a CRM does: per
record, with a message and a code, while the rest of the batch goes on.

Deal creates go first, then task creates, then task updates and closes, then record write-backs (so an update by key
finds a task created in the same ``apply``), each phase in calls of at most ``WRITE_BATCH``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation

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
from connector.fake.store import ContactLink, FakeDeal, FakeField, FakeStore, FakeTask
from connector.mapping import FieldMap, FieldType
from connector.model import RENEWAL_DEAL_KEY, DealSpec, FieldValue, RecordKind, TaskSpec, TaskStatus

WRITE_BATCH = 100
PHASES: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("create_deals", (CreateDeal,)),
    ("create_tasks", (CreateTask,)),
    ("update_tasks", (UpdateTask, CloseTask)),
    ("update_records", (UpdateRecord,)),
)


class Refused(Exception):
    """The CRM refuses one record; it becomes that action's ``REJECTED`` result."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def write_calls(actions: Sequence[object]) -> int:
    """The calls ``apply`` makes for these actions."""
    return sum(math.ceil(sum(isinstance(a, kinds) for a in actions) / WRITE_BATCH) for _, kinds in PHASES)


class Writes:
    def __init__(self, store: FakeStore, fieldmap: FieldMap, count: Callable[[str, int], None]):
        self._store = store
        self._fieldmap = fieldmap
        self._count = count

    def apply(self, actions: Sequence[WriteAction]) -> list[ActionResult]:
        store = self._store
        results: list[ActionResult | None] = [None] * len(actions)
        with store.lock:
            lose_answer = store.faults.begin_apply()
            now = store.now()  # a batch lands at one instant: its write-backs share a stamp
            for endpoint, kinds in PHASES:
                phase = [(i, a) for i, a in enumerate(actions) if isinstance(a, kinds)]
                if phase:
                    self._count(endpoint, math.ceil(len(phase) / WRITE_BATCH))
                for index, action in phase:
                    try:
                        results[index] = self._one(action, now)
                    except Refused as refused:
                        results[index] = ActionResult(action=action, outcome=Outcome.REJECTED,
                                                      message=str(refused), error_code=refused.code)
            store.faults.end_apply(lose_answer)
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            raise TypeError(f"not write actions: {[type(actions[i]).__name__ for i in missing]}")
        return results  # type: ignore[return-value]

    def _one(self, action: WriteAction, now: dt.datetime) -> ActionResult:
        if isinstance(action, CreateDeal):
            return self._create_deal(action, now)
        if isinstance(action, CreateTask):
            return self._create(action)
        if isinstance(action, UpdateTask):
            return self._update(action)
        if isinstance(action, CloseTask):
            return self._close(action)
        return self._write_back(action, now)

    # -- tasks -------------------------------------------------------------------------------

    def _create(self, action: CreateTask) -> ActionResult:
        spec = action.spec
        if not self._store.has_task_key:
            raise Refused("UNKNOWN_FIELD", f"task field {self._fieldmap.task_key_field} does not exist")
        existing = self._store.task_by_key(spec.key)
        if existing is not None:  # the key field is unique: a repeated create finds the first task
            return self._bring_up_to_date(action, existing)
        self._check_task(spec)
        self._store.faults.before_create()
        task = FakeTask(id=self._store.new_id("task"), key=spec.key, subject=spec.subject, body=spec.body,
                        due_at=spec.due_at, owner_id=spec.owner_id, priority=spec.priority, type=spec.type,
                        status=spec.status, deal_id=spec.deal_id, company_id=spec.company_id,
                        contact_id=spec.contact_id)
        self._store.add_task(task)
        return ActionResult(action=action, outcome=Outcome.CREATED, crm_id=task.id)

    def _bring_up_to_date(self, action: CreateTask, task: FakeTask) -> ActionResult:
        """A create whose key exists (a replay after a lost answer or a crash) leaves one task, as
        planned, as both vendors' adapters do; one a rep completed is left as it is."""
        if task.status is TaskStatus.COMPLETED or not self._differs(task, action.spec):
            return ActionResult(action=action, outcome=Outcome.UNCHANGED, crm_id=task.id,
                                message="a task with this key already exists and matches the plan")
        self._check_task(action.spec)
        self._set_content(task, action.spec)
        return ActionResult(action=action, outcome=Outcome.UPDATED, crm_id=task.id,
                            message="a task with this key already existed; it was brought up to date")

    @staticmethod
    def _differs(task: FakeTask, spec: TaskSpec) -> bool:
        return (task.subject, task.body, task.due_at, task.owner_id) != (spec.subject, spec.body, spec.due_at,
                                                                         spec.owner_id)

    @staticmethod
    def _set_content(task: FakeTask, spec: TaskSpec) -> None:
        """Everything but the key and the status: a task a rep completed stays completed."""
        task.subject, task.body, task.due_at = spec.subject, spec.body, spec.due_at
        task.owner_id, task.priority, task.type = spec.owner_id, spec.priority, spec.type
        task.deal_id, task.company_id, task.contact_id = spec.deal_id, spec.company_id, spec.contact_id

    def _update(self, action: UpdateTask) -> ActionResult:
        task = self._task(action.crm_id, action.key)
        if task is None:
            raise Refused("NOT_FOUND", f"no task {action.crm_id or action.key} (deleted in the CRM?)")
        spec = action.spec
        self._check_task(spec)
        self._set_content(task, spec)
        return ActionResult(action=action, outcome=Outcome.UPDATED, crm_id=task.id)

    def _close(self, action: CloseTask) -> ActionResult:
        task = self._task(action.crm_id, action.key)
        if task is None:  # never made, or a rep deleted it: nothing left to close
            return ActionResult(action=action, outcome=Outcome.UNCHANGED,
                                message="no task with this key in the CRM; nothing to close")
        task.status = TaskStatus.COMPLETED
        return ActionResult(action=action, outcome=Outcome.CLOSED, crm_id=task.id)

    def _task(self, crm_id: str | None, key: str) -> FakeTask | None:
        return self._store.tasks.get(crm_id) if crm_id else self._store.task_by_key(key)

    def _check_task(self, spec: TaskSpec) -> None:
        self._check_links(spec.owner_id, {RecordKind.DEAL: spec.deal_id, RecordKind.COMPANY: spec.company_id,
                                          RecordKind.CONTACT: spec.contact_id}, "task")

    def _check_links(self, owner_id: str | None, links: dict[RecordKind, str | None], what: str) -> None:
        store = self._store
        if owner_id is not None:
            owner = store.owners.get(owner_id)
            if owner is None:
                raise Refused("UNKNOWN_OWNER", f"owner {owner_id} does not exist")
            if not owner.active:
                raise Refused("INACTIVE_OWNER", f"owner {owner_id} is deactivated and cannot be assigned a {what}")
        records: dict[RecordKind, Mapping[str, object]] = {
            RecordKind.DEAL: store.deals, RecordKind.COMPANY: store.companies, RecordKind.CONTACT: store.contacts}
        for kind, record_id in links.items():
            if record_id is not None and record_id not in records[kind]:
                raise Refused("NOT_FOUND", f"cannot link the {what} to {kind} {record_id}: no such record")

    # -- renewal deals -------------------------------------------------------------------------

    def _create_deal(self, action: CreateDeal, now: dt.datetime) -> ActionResult:
        """One deal per key, as the key field is unique: a repeated create finds the first deal."""
        store, spec = self._store, action.spec
        if not store.has_field(RecordKind.DEAL, RENEWAL_DEAL_KEY):
            raise Refused("UNKNOWN_FIELD", f"deal field {RENEWAL_DEAL_KEY} does not exist (run `afterclose setup`)")
        existing = store.deal_by_renewal_key(spec.key)
        if existing is not None:
            return ActionResult(action=action, outcome=Outcome.UNCHANGED, crm_id=existing.id,
                                message="a deal with this key already exists")
        self._check_deal(spec)
        store.faults.before_create()
        fields = {**spec.fields, RENEWAL_DEAL_KEY: spec.key}
        if spec.pipeline is not None:
            fields["pipeline"] = spec.pipeline
        links = (ContactLink(contact_id=spec.contact_id, role=None, primary=True),) if spec.contact_id else ()
        deal = FakeDeal(id=store.new_id("deal"), name=spec.name, stage=spec.stage, close_date=spec.close_date,
                        amount=spec.amount, owner_id=spec.owner_id, company_id=spec.company_id, contacts=links,
                        fields=fields, modified=now)
        store.add_deal(deal)
        return ActionResult(action=action, outcome=Outcome.CREATED, crm_id=deal.id)

    def _check_deal(self, spec: DealSpec) -> None:
        problems = self._store.deal_target_problems([(spec.pipeline, spec.stage)])
        if problems:
            raise Refused("INVALID_STAGE", problems[0])
        self._check_links(spec.owner_id, {RecordKind.COMPANY: spec.company_id, RecordKind.CONTACT: spec.contact_id},
                          "deal")
        for canonical, value in spec.fields.items():
            self._check_value(RecordKind.DEAL, canonical, value, written=False)

    # -- record write-backs ------------------------------------------------------------------

    def _write_back(self, action: UpdateRecord, now: dt.datetime) -> ActionResult:
        update = action.update
        records = {RecordKind.DEAL: self._store.deals, RecordKind.COMPANY: self._store.companies,
                   RecordKind.CONTACT: self._store.contacts}[update.kind]
        record = records.get(update.record_id)
        if record is None:
            raise Refused("NOT_FOUND", f"no {update.kind} {update.record_id}")
        for canonical, value in update.values.items():  # all checked before any is written
            self._check_value(update.kind, canonical, value)
        record.fields.update(update.values)
        if update.kind is RecordKind.DEAL:
            record.modified = now  # type: ignore[union-attr]
        return ActionResult(action=action, outcome=Outcome.UPDATED, crm_id=update.record_id)

    def _check_value(self, kind: RecordKind, canonical: str, value: FieldValue, *, written: bool = True) -> None:
        """``written``: a write-back (the field must be mapped with ``write = true``); else a value
        set on a record AfterClose creates, which any mapped field of that record may take."""
        spec = self._fieldmap.fields.get(canonical)
        if spec is None or spec.record is not kind or (written and not spec.write):
            raise Refused("UNMAPPED_FIELD", f"fields.{canonical} is not a {kind} write-back field in "
                                            f"{self._fieldmap.source}")
        field = self._store.schema.get((kind, canonical))
        if field is None:
            raise Refused("UNKNOWN_FIELD", f"{kind} field {canonical} does not exist in the CRM")
        if value is not None and not _fits(field, value):
            expected = f"one of {', '.join(field.options)}" if field.options else f"a {field.type}"
            raise Refused("INVALID_VALUE", f"{kind} field {canonical}: {value!r} is not {expected}")


def _fits(field: FakeField, value: str) -> bool:
    try:
        if field.type is FieldType.NUMBER:
            Decimal(value)
        elif field.type is FieldType.DATE:
            dt.date.fromisoformat(value)
        elif field.type is FieldType.DATETIME:
            dt.datetime.fromisoformat(value)
        elif field.type is FieldType.BOOL:
            return value in ("true", "false")
        elif field.type is FieldType.ENUM and field.options:
            return value in field.options
    except (InvalidOperation, ValueError):
        return False
    return True
