"""Create AfterClose's HubSpot tasks exactly once, whether or not the portal enforces unique keys.

Every create is ``POST /crm/v3/objects/tasks/batch/create`` (<= 100 inputs), each input carrying
the key in the task key property, its links (deal 216, company 192, main contact 204) inline and a
unique ``objectWriteTraceId`` (so refusals come back per input, in a 207). Before each attempt
reaches the network its keys are noted in the create journal (``CreateJournal``: the state store's
write-ahead record, durable when the call is made); the job clears them in the transaction that
records their results. What happens when HubSpot's answer is lost depends on the key mode
(taskprops.py):

**Unique** (the portal enforces unique values): a repeated create is refused per input, so the
client may retry blind. Refused inputs are looked up by ``idProperty`` and the task found is
*adopted*: compared with the plan and updated where its due date or text differ.

**Non-unique**: a create is never repeated blind. Only a rate-limit answer is retried by the
client (HubSpot refuses those before doing anything). Any other failure that may have happened
after the request arrived (a timeout, a dropped connection, a 5xx) leaves its keys *in doubt*, as
does a crash (the journal still holds them at the next run). Keys in doubt are reconciled first:
once ``settle_seconds`` have passed since they were sent, the tasks of their deals are read
(reconcile.py); a key found is that task (adopted, as above); only a key not found is sent again.
When the settle delay would keep the run waiting longer than ``settle_max_wait_seconds``, the key
is reported ``DEFERRED``: nothing is recorded for it, the cursor stays before its deal, and the
next run looks it up. docs/hubspot-adapter.md says why each step is safe.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputForCreate, SimplePublicObjectBatchInputForCreate

from connector.actions import ActionResult, CreateTask, Outcome, UpdateTask, WriteAction
from connector.errors import FatalCrmError, RateLimitedError, RetriableError
from connector.hubspot.batch import Failure, Input, match
from connector.hubspot.client import Attempts, HubSpotClient, sdk_model
from connector.hubspot.related import chunks
from connector.hubspot.taskprops import KeyMode, task_associations, task_properties
from connector.model import TaskRef, TaskStatus
from connector.port import CreateJournal, SentCreate

log = logging.getLogger("afterclose.hubspot")
WRITE_MAX = 100
CREATE_LABEL = "POST /crm/v3/objects/tasks/batch/create"

Item = tuple[int, CreateTask]
Results = list[tuple[int, ActionResult]]


class MemoryJournal:
    """The journal an adapter uses until a job hands it the state store's. It never forgets a key
    (no job records results here), so it guards this process only: a crash loses it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._sent: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def sending(self, creates: Mapping[str, str]) -> None:
        with self._lock:
            now = self._clock()
            self._sent.update((key, (deal_id, now)) for key, deal_id in creates.items())

    def in_doubt(self, keys: Iterable[str]) -> dict[str, SentCreate]:
        with self._lock:
            now = self._clock()
            return {k: SentCreate(key=k, deal_id=self._sent[k][0], age_seconds=now - self._sent[k][1])
                    for k in keys if k in self._sent}


@dataclass(kw_only=True)
class Creator:
    client: HubSpotClient
    key_property: str
    mode: Callable[[], KeyMode]
    journal: Callable[[], CreateJournal]
    reconcile: Callable[[Mapping[str, str]], dict[str, TaskRef]]
    """Task key -> deal id in, tasks found by key out (reconcile.tasks_on_deals)."""
    read_by_key: Callable[[Sequence[str]], dict[str, TaskRef]]
    """Unique mode only: tasks by ``idProperty`` on the key property."""
    update: Callable[[list[tuple[int, UpdateTask]]], Results]
    settle_seconds: float
    max_wait_seconds: float
    rounds: int
    sleep: Callable[[float], None] = time.sleep

    # -- entry point -------------------------------------------------------------------------

    def jobs(self, creates: list[Item]) -> list[Callable[[], Results]]:
        """The create batches to run in parallel. In the non-unique mode, keys left in doubt by an
        earlier run are settled first, all at once (one read per 1,000 deals, not per batch)."""
        if not creates:
            return []
        if self.mode() is KeyMode.UNIQUE:
            return [functools.partial(self._create_unique, batch) for batch in chunks(creates, WRITE_MAX)]
        settled: Results = []
        doubt = self.journal().in_doubt(a.key for _, a in creates)
        if doubt:
            creates, settled = self._settle(creates, doubt, by_us=False)
        jobs: list[Callable[[], Results]] = [functools.partial(self._create_checked, batch, checked=True)
                                             for batch in chunks(creates, WRITE_MAX)]
        return [(lambda: settled), *jobs] if settled else jobs

    # -- unique mode: HubSpot refuses a repeated key ------------------------------------------

    def _create_unique(self, batch: list[Item]) -> Results:
        inputs, body = self._body(batch)
        attempts = Attempts()
        try:
            reply = self.client.call(CREATE_LABEL, "crm.objects.batch_api", "create", raw=True, object_type="tasks",
                                     batch_input_simple_public_object_batch_input_for_create=body, attempts=attempts,
                                     before_attempt=self._noting(batch))
        except FatalCrmError as refused:
            return self._unique_batch_refused(batch, refused, attempts)
        matched = match(inputs, reply, refs_of=self._refs)
        out = [(inp.item[0], _created(inp.item[1], str(r.id))) for inp, r in matched.succeeded]
        failed = [(inp.item, f) for inp, f in matched.failed]
        if not failed:
            return out
        existing = self.read_by_key([a.key for (_, a), _ in failed])
        out += self._adopt([(i, a, existing[a.key]) for (i, a), _ in failed if a.key in existing],
                           by_us=attempts.count > 1)
        return out + [(i, _rejected(a, f, None)) for (i, a), f in failed if a.key not in existing]

    def _unique_batch_refused(self, batch: list[Item], refused: FatalCrmError, attempts: Attempts) -> Results:
        """A 4xx for the whole batch: settle the inputs whose task exists, retry the rest apart."""
        existing = self.read_by_key([a.key for _, a in batch])
        out = self._adopt([(i, a, existing[a.key]) for i, a in batch if a.key in existing], by_us=attempts.count > 1)
        rest = [(i, a) for i, a in batch if a.key not in existing]
        if len(rest) == 1:
            i, a = rest[0]
            return out + [(i, _rejected(a, Failure(message=str(refused), code=refused.error_code),
                                        refused.correlation_id))]
        if len(rest) == len(batch):
            half = len(rest) // 2
            return out + self._create_unique(rest[:half]) + self._create_unique(rest[half:])
        return out + (self._create_unique(rest) if rest else [])

    # -- non-unique mode: never sent blind ----------------------------------------------------

    def _create_checked(self, batch: list[Item], *, checked: bool = False) -> Results:
        """Create ``batch``; ``checked``: its keys are known not to be in doubt right now."""
        out: Results = []
        pending = batch
        error: RetriableError | None = None
        for round_ in range(self.rounds):
            if not checked:
                doubt = self.journal().in_doubt(a.key for _, a in pending)
                if doubt:
                    pending, settled = self._settle(pending, doubt, by_us=round_ > 0)
                    out += settled
            checked = False
            if not pending:
                return out
            try:
                sent, pending = self._send_once(pending)
            except RetriableError as lost:  # may have been carried out: look before sending again
                error = lost
                continue
            out += sent
            if not pending:
                return out
        if error is not None:
            raise error  # the journal keeps the keys: the next run looks them up first
        return out + [(i, ActionResult(action=a, outcome=Outcome.DEFERRED, error_code="NO_ANSWER",
                                       message="HubSpot answered without a result for this input; looked up by "
                                               "the next run")) for i, a in pending]

    def _send_once(self, batch: list[Item]) -> tuple[Results, list[Item]]:
        """One create call; returns the results and the inputs whose fate HubSpot did not say."""
        inputs, body = self._body(batch)
        try:
            reply = self.client.call(CREATE_LABEL, "crm.objects.batch_api", "create", raw=True, object_type="tasks",
                                     batch_input_simple_public_object_batch_input_for_create=body,
                                     before_attempt=self._noting(batch),
                                     retry_if=lambda exc: isinstance(exc, RateLimitedError))
        except FatalCrmError as refused:
            # Refused whole (400): nothing was created. Split until the bad input is alone.
            if len(batch) == 1:
                i, a = batch[0]
                failure = Failure(message=str(refused), code=refused.error_code)
                return [(i, _rejected(a, failure, refused.correlation_id))], []
            half = len(batch) // 2
            return (self._create_checked(batch[:half], checked=True)
                    + self._create_checked(batch[half:], checked=True)), []
        matched = match(inputs, reply, refs_of=self._refs)
        out = [(inp.item[0], _created(inp.item[1], str(r.id))) for inp, r in matched.succeeded]
        unknown = [inp.item for inp, f in matched.failed if f.code == "MISSING_RESULT"]
        out += [(inp.item[0], _rejected(inp.item[1], f, None)) for inp, f in matched.failed
                if f.code != "MISSING_RESULT"]
        return out, unknown

    def _settle(self, pending: list[Item], doubt: Mapping[str, SentCreate], *, by_us: bool) -> tuple[list[Item],
                                                                                                     Results]:
        """Look up the keys in doubt once their creates are old enough to show in reads; keys
        found are adopted, the rest go back to ``pending``; keys too young are deferred."""
        wait = max(self.settle_seconds - sent.age_seconds for sent in doubt.values())
        if wait > self.max_wait_seconds:
            deferred = [(i, _deferred(a, doubt[a.key], self.settle_seconds, self.max_wait_seconds))
                        for i, a in pending if a.key in doubt]
            return [item for item in pending if item[1].key not in doubt], deferred
        if wait > 0:
            log.info("%d task create(s) sent without an answer: looking them up in %.1f s "
                     "(hubspot.settle_seconds), never sending them blind", len(doubt), wait)
            self.sleep(wait)
        found = self.reconcile({a.key: a.deal_id for _, a in pending if a.key in doubt})
        adopted = self._adopt([(i, a, found[a.key]) for i, a in pending if a.key in found], by_us=by_us)
        return [item for item in pending if item[1].key not in found], adopted

    # -- adoption: a task that exists is compared with the plan -------------------------------

    def _adopt(self, found: list[tuple[int, CreateTask, TaskRef]], *, by_us: bool) -> Results:
        """Existing tasks for these creates. One that differs from the plan in due date or text
        is updated (by id); one a rep completed is left as it is (never reopened)."""
        out: Results = []
        updates: list[tuple[int, UpdateTask]] = []
        for i, action, task in found:
            changes = () if task.status is TaskStatus.COMPLETED else task.differences(action.spec)
            if changes:
                updates.append((i, UpdateTask(spec=action.spec, crm_id=task.crm_id, changes=changes,
                                              reason=f"{action.reason}; found in HubSpot differing from the plan")))
            elif by_us:
                out.append((i, ActionResult(action=action, outcome=Outcome.CREATED, crm_id=task.crm_id,
                                            message="created by an earlier attempt whose answer was lost")))
            else:
                out.append((i, ActionResult(action=action, outcome=Outcome.UNCHANGED, crm_id=task.crm_id,
                                            message=f"a task with this key already exists in HubSpot "
                                                    f"({self.key_property}) and matches the plan")))
        if updates:
            creates = {i: (action, task) for i, action, task in found}
            for i, result in self.update(updates):
                action, task = creates[i]
                if result.outcome is Outcome.UPDATED:
                    out.append((i, ActionResult(action=action, outcome=Outcome.UPDATED, crm_id=task.crm_id,
                                                message="existed in HubSpot already; its due date or text was "
                                                        "updated to the plan")))
                else:  # keeps the task id: the journal keeps the key, the next run looks again
                    out.append((i, ActionResult(action=action, outcome=Outcome.REJECTED, crm_id=task.crm_id,
                                                message=result.message, error_code=result.error_code,
                                                correlation_id=result.correlation_id)))
        return out

    # -- shared --------------------------------------------------------------------------------

    def _body(self, batch: list[Item]) -> tuple[list[Input], BatchInputSimplePublicObjectBatchInputForCreate]:
        inputs = [Input(trace=f"afterclose-{i}", ref=a.spec.key, item=(i, a)) for i, a in batch]
        body = sdk_model(BatchInputSimplePublicObjectBatchInputForCreate, inputs=[
            sdk_model(SimplePublicObjectBatchInputForCreate,
                properties=task_properties(a.spec, self.key_property), associations=task_associations(a.spec),
                object_write_trace_id=inp.trace,
            ) for inp, (_, a) in zip(inputs, batch, strict=True)
        ])
        return inputs, body

    def _noting(self, batch: list[Item]) -> Callable[[], None]:
        creates = {a.key: a.deal_id for _, a in batch}
        return lambda: self.journal().sending(creates)

    def _refs(self, result) -> list[str]:
        properties = result.properties or {}
        return [str(result.id), *([properties[self.key_property]] if self.key_property in properties else [])]


def _created(action: CreateTask, crm_id: str) -> ActionResult:
    return ActionResult(action=action, outcome=Outcome.CREATED, crm_id=crm_id)


def _deferred(action: CreateTask, sent: SentCreate, settle: float, max_wait: float) -> ActionResult:
    return ActionResult(
        action=action, outcome=Outcome.DEFERRED, error_code="AWAITING_SETTLE",
        message=(f"sent {sent.age_seconds:.0f} s ago without an answer; HubSpot's reads are trusted "
                 f"{settle:g} s after a create (hubspot.settle_seconds) and a run waits at most {max_wait:g} s "
                 "(hubspot.settle_max_wait_seconds): looked up by the next run"))


def _rejected(action: WriteAction, failure: Failure, correlation_id: str | None) -> ActionResult:
    return ActionResult(action=action, outcome=Outcome.REJECTED, message=failure.message,
                        error_code=failure.code, correlation_id=correlation_id)
