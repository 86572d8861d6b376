"""The in-memory CRM's data: records, schema, clock, faults and call counts, and the edits a person
makes in the CRM's UI. One store is one CRM; any number of ``FakeCrm`` adapters (runs) share it.

Records hold mapped values by canonical field name, as text (``FieldValue``), and read back
exactly as written: the fake normalises nothing.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from connector.errors import RetriableError
from connector.mapping import FieldMap, FieldType
from connector.model import RENEWAL_DEAL_KEY, FieldValue, Owner, Priority, RecordKind, TaskStatus, TaskType

UTC = dt.UTC
WON, OPEN, LOST = "won", "open", "lost"
TASK_KEY = "task_key_field"
"""The schema entry of the task key field (its mapping key, as both adapters name it)."""
WRITE_ENDPOINTS = frozenset({"create_deals", "create_tasks", "update_tasks", "update_records", "create_fields"})
EMPTY_CRM_EPOCH = dt.datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class FakeField:
    """A field as the CRM's schema knows it."""

    type: FieldType
    options: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ContactLink:
    contact_id: str
    role: str | None
    primary: bool


@dataclass(kw_only=True)
class FakeDeal:
    id: str
    name: str
    stage: str
    """``WON``, ``OPEN`` or ``LOST``."""
    close_date: dt.date | None
    amount: FieldValue
    owner_id: str | None
    company_id: str | None
    contacts: tuple[ContactLink, ...]
    fields: dict[str, FieldValue]
    modified: dt.datetime


@dataclass(kw_only=True)
class FakeCompany:
    id: str
    name: str | None
    owner_id: str | None = None
    fields: dict[str, FieldValue] = field(default_factory=dict)


@dataclass(kw_only=True)
class FakeContact:
    id: str
    email: str | None
    name: str | None
    company_id: str | None
    fields: dict[str, FieldValue] = field(default_factory=dict)


@dataclass(kw_only=True)
class FakeTask:
    id: str
    key: str
    subject: str
    body: str
    due_at: dt.datetime
    owner_id: str | None
    priority: Priority
    type: TaskType
    status: TaskStatus
    deal_id: str
    company_id: str | None
    contact_id: str | None


class Faults:
    """Failures a test asks for. Each fires once, in the next ``apply`` to reach the CRM (applies
    run in the background, so a test that needs a particular batch to fail wraps ``apply``
    instead); every one raises ``RetriableError``, what an adapter raises when its retries could
    not get an answer."""

    def __init__(self) -> None:
        self._fail_next_apply: Exception | None = None
        self._creates_left: int | None = None
        self._lose_next_response = False

    def fail_next_apply(self, error: Exception | None = None) -> None:
        """The next ``apply`` fails before the CRM has written anything."""
        self._fail_next_apply = error or RetriableError("the CRM did not answer (a fault the test asked for)",
                                                        provider="fake", endpoint="apply")

    def fail_after_creates(self, creates: int) -> None:
        """``creates`` more tasks are created, then the ``apply`` making the next one fails with
        those already made left in place (a connection dropped half-way through a batch)."""
        self._creates_left = creates

    def lose_next_response(self) -> None:
        """The next ``apply`` writes everything, then its answer is lost on the way back."""
        self._lose_next_response = True

    def begin_apply(self) -> bool:
        """Called as an ``apply`` reaches the CRM: raises if it is to fail, else tells whether
        its answer is to be lost (``end_apply``)."""
        error, self._fail_next_apply = self._fail_next_apply, None
        if error is not None:
            raise error
        lose, self._lose_next_response = self._lose_next_response, False
        return lose

    def before_create(self) -> None:
        if self._creates_left is None:
            return
        if self._creates_left == 0:
            self._creates_left = None
            raise RetriableError("the connection dropped during a batch (a fault the test asked for)",
                                 provider="fake", endpoint="create_tasks")
        self._creates_left -= 1

    @staticmethod
    def end_apply(lose: bool) -> None:
        if lose:
            raise RetriableError("the CRM's answer was lost after it wrote (a fault the test asked for)",
                                 provider="fake", endpoint="apply")


class FakeStore:
    """One CRM's records. Every method takes the store's lock: the deal stream reads ahead and
    writes in the background, so adapters use it from several threads at once.

    ``fieldmap`` sets up the schema: every field it maps exists (with its type and options)
    except those named in ``lacking`` (canonical names, or ``"task_key_field"``).
    ``clock`` stamps every change; stamps only ever move forward, so a clock that stands still
    still gives each change its own later stamp. Without one, each change is stamped a second
    after the newest stamp in the CRM (deterministic, and after every record loaded).
    """

    def __init__(self, fieldmap: FieldMap, *, lacking: Iterable[str] = (),
                 clock: Callable[[], dt.datetime] | None = None):
        self.lock = threading.RLock()
        lacking = set(lacking)
        self.schema: dict[tuple[RecordKind, str], FakeField] = {
            (spec.record, spec.canonical): FakeField(type=spec.type, options=spec.options)
            for spec in fieldmap.fields.values() if spec.canonical not in lacking
        }
        self.has_task_key = TASK_KEY not in lacking
        self.owners: dict[str, Owner] = {}
        self.companies: dict[str, FakeCompany] = {}
        self.contacts: dict[str, FakeContact] = {}
        self.deals: dict[str, FakeDeal] = {}
        self.tasks: dict[str, FakeTask] = {}
        """Tasks that exist; a deleted task is gone from here (``deleted`` keeps its id)."""
        self.deleted: set[str] = set()
        self._task_by_key: dict[str, str] = {}
        self.demo_ids: dict[str, dict[int, str]] = {"owners": {}, "companies": {}, "contacts": {}, "deals": {}}
        self.faults = Faults()
        self._calls: collections.Counter[str] = collections.Counter()
        self._clock = clock
        self._newest: dt.datetime | None = None
        self._ids: collections.Counter[str] = collections.Counter()

    # -- bookkeeping -------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The stamp of a change made now: later than every stamp handed out before."""
        with self.lock:
            newest = self._newest
            if self._clock is None:
                stamp = newest + dt.timedelta(seconds=1) if newest else EMPTY_CRM_EPOCH
            else:
                stamp = self._clock()
                if newest is not None and stamp <= newest:
                    stamp = newest + dt.timedelta(milliseconds=1)
            self._newest = stamp
            return stamp

    def new_id(self, kind: str) -> str:
        with self.lock:
            self._ids[kind] += 1
            return f"{kind}-{self._ids[kind]}"

    def count(self, endpoint: str, calls: int = 1) -> None:
        with self.lock:
            self._calls[endpoint] += calls

    def calls(self) -> dict[str, int]:
        """Calls answered so far, per endpoint, by every adapter of this CRM."""
        with self.lock:
            return dict(self._calls)

    def total_calls(self) -> int:
        return sum(self.calls().values())

    def write_calls(self) -> int:
        return sum(n for endpoint, n in self.calls().items() if endpoint in WRITE_ENDPOINTS)

    def has_field(self, record: RecordKind, canonical: str) -> bool:
        return (record, canonical) in self.schema

    # -- loading -----------------------------------------------------------------------------

    def load(self, dataset) -> dict[str, dict[int, str]]:
        """Insert a ``connector.sandbox.demo.DemoDataset``; returns (and keeps in ``demo_ids``)
        the CRM id of each demo record by its key."""
        with self.lock:
            ids = self.demo_ids
            for o in dataset.owners:
                ids["owners"][o.key] = owner_id = self.new_id("owner")
                self.owners[owner_id] = Owner(id=owner_id, email=o.email, name=f"{o.first_name} {o.last_name}",
                                              active=o.active)
            for c in dataset.companies:
                ids["companies"][c.key] = company_id = self.new_id("company")
                self.companies[company_id] = FakeCompany(id=company_id, name=c.name)
            for p in dataset.contacts:
                ids["contacts"][p.key] = contact_id = self.new_id("contact")
                self.contacts[contact_id] = FakeContact(id=contact_id, email=p.email,
                                                        name=f"{p.first_name} {p.last_name}",
                                                        company_id=ids["companies"][p.company])
            for d in dataset.deals:
                ids["deals"][d.key] = deal_id = self.new_id("deal")
                self.deals[deal_id] = FakeDeal(
                    id=deal_id, name=d.name, stage=d.stage, close_date=d.close_date, amount=_amount(d.amount),
                    owner_id=ids["owners"].get(d.owner),
                    company_id=None if d.company is None else ids["companies"][d.company],
                    contacts=tuple(ContactLink(contact_id=ids["contacts"][r.contact], role=r.role, primary=r.primary)
                                   for r in d.contacts),
                    # A field the CRM lacks cannot hold a value (as a sandbox seeded without it).
                    fields={k: _text(v) for k, v in d.fields.items() if self.has_field(RecordKind.DEAL, k)},
                    modified=d.modified_at,
                )
                self._newest = max(self._newest or d.modified_at, d.modified_at)
            return ids

    # -- what a person does in the CRM's UI (each change bumps the deal's modified stamp) ---------

    def set_field(self, deal_id: str, canonical: str, value: str | None) -> None:
        with self.lock:
            if not self.has_field(RecordKind.DEAL, canonical):
                raise KeyError(f"deal field {canonical!r}: not in this CRM's schema")
            deal = self.deals[deal_id]
            deal.fields[canonical] = _text(value)
            deal.modified = self.now()

    def set_company_field(self, company_id: str, canonical: str, value: str | None) -> None:
        with self.lock:
            if not self.has_field(RecordKind.COMPANY, canonical):
                raise KeyError(f"company field {canonical!r}: not in this CRM's schema")
            self.companies[company_id].fields[canonical] = _text(value)

    def set_stage(self, deal_id: str, stage: str) -> None:
        if stage not in (WON, OPEN, LOST):
            raise ValueError(f"stage {stage!r}: expected {WON}, {OPEN} or {LOST}")
        with self.lock:
            deal = self.deals[deal_id]
            deal.stage = stage
            deal.modified = self.now()

    def set_contact_email(self, contact_id: str, email: str | None) -> None:
        with self.lock:
            self.contacts[contact_id].email = email

    def deactivate_owner(self, owner_id: str) -> None:
        with self.lock:
            owner = self.owners[owner_id]
            self.owners[owner_id] = Owner(id=owner.id, email=owner.email, name=owner.name, active=False)

    def complete_task(self, task_id: str) -> None:
        with self.lock:
            self.tasks[task_id].status = TaskStatus.COMPLETED

    def delete_task(self, task_id: str) -> None:
        with self.lock:
            task = self.tasks.pop(task_id)
            self._task_by_key.pop(task.key, None)
            self.deleted.add(task_id)

    def remove_field(self, record: RecordKind, canonical: str) -> None:
        """An admin deletes a field (its values go with it); ``"task_key_field"`` removes the
        task key field."""
        with self.lock:
            if canonical == TASK_KEY:
                self.has_task_key = False
                return
            del self.schema[(record, canonical)]
            holders = {RecordKind.DEAL: self.deals, RecordKind.COMPANY: self.companies,
                       RecordKind.CONTACT: self.contacts}[record]
            for item in holders.values():
                item.fields.pop(canonical, None)

    # -- tasks by key (the CRM's unique key field) --------------------------------------------

    def add_task(self, task: FakeTask) -> None:
        with self.lock:
            self.tasks[task.id] = task
            self._task_by_key[task.key] = task.id

    def add_deal(self, deal: FakeDeal) -> None:
        with self.lock:
            self.deals[deal.id] = deal

    def deal_by_renewal_key(self, key: str) -> FakeDeal | None:
        with self.lock:
            return next((d for d in self.deals.values() if d.fields.get(RENEWAL_DEAL_KEY) == key), None)

    def deal_target_problems(self, targets: Iterable[tuple[str | None, str]]) -> list[str]:
        """This CRM has one pipeline, ``default``, and one open stage, ``open``: where a deal can be created."""
        problems = []
        for pipeline, stage in dict.fromkeys(targets):
            if pipeline not in (None, "default"):
                problems.append(f"no deal pipeline {pipeline!r} (this CRM has: default)")
            elif stage != OPEN:
                problems.append(f"no open deal stage {stage!r} (this CRM has: {OPEN})")
        return problems

    def task_by_key(self, key: str) -> FakeTask | None:
        with self.lock:
            task_id = self._task_by_key.get(key)
            return None if task_id is None else self.tasks[task_id]


def _text(value: object) -> FieldValue:
    if value is None or value == "":
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _amount(value: float | None) -> FieldValue:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)
