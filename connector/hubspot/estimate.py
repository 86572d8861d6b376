"""How many write calls ``Writer.apply`` (connector/hubspot/writes.py) will make for a plan.

``afterclose plan`` prints this next to the read calls it spent, so an admin knows what a run
costs against the portal's shared limit before running it. The arithmetic mirrors ``Writer.apply``
call for call:

- task creates: one ``batch/create`` per 100 inputs;
- reschedules and closes: one ``tasks/batch/update`` per 100 inputs and per round (a task written
  twice in one apply goes in a second round, because HubSpot refuses one id twice in a batch);
  closes address the task by its key property (``idProperty``), so no lookup call is needed;
- record write-backs: per object type and round, one ``batch/update`` per 100 inputs; a write to
  a field the mapping does not have is refused before any call;
- deal write-backs bump ``hs_lastmodifieddate`` (facts §3), so the deal stream walks past them once
  more before it ends (connector/hubspot/pull.py, ``OwnWrites``): one search per 200 deals written,
  the last page short. A read, but one the writes cause, so it is counted here.

Not predictable, so not counted: the batch read that resolves a create HubSpot refuses (a task
with that key already exists, or an invalid owner) and the halving of a batch refused as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from connector.actions import CloseTask, CreateDeal, CreateTask, UpdateRecord, UpdateTask, WriteAction
from connector.hubspot.search import PAGE_SIZE
from connector.hubspot.writes import WRITE_MAX, _rounds
from connector.mapping import FieldMap
from connector.model import RecordKind


def estimate_write_calls(actions: Sequence[WriteAction], fieldmap: FieldMap) -> int:
    creates = [a for a in actions if isinstance(a, CreateTask)]
    task_updates = [a for a in actions if isinstance(a, UpdateTask | CloseTask)]
    records = [a for a in actions if isinstance(a, UpdateRecord) and _mapped(a, fieldmap)]
    calls = _batches(len(creates)) + _batches(sum(isinstance(a, CreateDeal) for a in actions))
    calls += sum(_batches(len(r)) for r in _rounds(task_updates, lambda a: a.crm_id or a.key))
    by_kind: dict[str, list[UpdateRecord]] = {}
    for action in records:
        by_kind.setdefault(action.update.kind.value, []).append(action)
    for same_kind in by_kind.values():
        calls += sum(_batches(len(r)) for r in _rounds(same_kind, lambda a: a.update.record_id))
    deals_written = {a.update.record_id for a in records if a.update.kind is RecordKind.DEAL}
    if deals_written:
        calls += len(deals_written) // PAGE_SIZE + 1
    return calls


def _mapped(action: UpdateRecord, fieldmap: FieldMap) -> bool:
    specs = [fieldmap.fields.get(name) for name in action.update.values]
    return all(spec is not None and spec.record is action.update.kind for spec in specs)


def _batches(count: int) -> int:
    return math.ceil(count / WRITE_MAX)
