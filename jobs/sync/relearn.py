"""What a state store that lost its memory learns back from the CRM, and what AfterClose
reads before it closes tasks. The CRM is the truth for which tasks exist, their ids, due dates and
status; the plan decides their text.

- A store that never finished a page (new, deleted, its first run crashed) asks the CRM once
  whether AfterClose's tasks exist (``enter_if_state_was_lost``); while ``RELEARN`` is set, each
  page's planned tasks are looked up by key before anything is created (``relearn``), and their
  text is judged against the plan made once they are known (``adopt_unchanged_text``): only a
  real difference is rewritten, never AfterClose's own update note.
- Creates an earlier run left in doubt and this run did not plan again are settled on their
  deals (``settle_orphan_creates``).
- Before a task the plan no longer wants is noted or closed, it is read: one a rep completed is
  learnt as completed and left alone (``learn_completed``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from connector.actions import CreateTask, Skip, UpdateTask
from connector.errors import ReadsNotSettled
from connector.model import TaskRef, TaskStatus
from connector.port import CrmAdapter, SupportsTasksOnDeals
from jobs import logs
from jobs.core import planner
from jobs.core.task_specs import without_update_note
from jobs.state import StateStore

log = logs.get_logger("afterclose.sync")

RELEARN = "relearn"
"""Scope flag: the store was lost (or is new) while the CRM already holds AfterClose's tasks.
Until one full pass has completed, every deal without ledger entries is looked up in the CRM by
key before anything is written, so nothing is rewritten and no finished task is reopened."""
RELEARN_SINCE = "relearn_since"
"""Scope flag: when re-learning began (wall clock, ISO). No create was sent for this scope
between the state store's loss and then, so reads by deal are settled that long after it."""


@dataclass(frozen=True, slots=True)
class CrmStore:
    """The CRM account and the state store of one run, as re-learning uses them."""

    adapter: CrmAdapter
    store: StateStore
    scope: str


def wall_clock() -> dt.datetime:
    """Real time, for how long ago something happened (a job's clock is the planning clock)."""
    return dt.datetime.now(dt.UTC)


def enter_if_state_was_lost(crm: CrmStore, job: str) -> None:
    """A store that never finished a page (new, deleted, or its first run crashed) asks the CRM
    once whether AfterClose's tasks exist there already."""
    new_store = crm.store.get_cursor(crm.scope, job) is None and crm.store.get_flag(crm.scope, RELEARN) is None
    if new_store and crm.adapter.any_tasks():
        log.warning("relearn_mode", scope=crm.scope,
                    detail="the CRM holds AfterClose tasks this state store does not know; re-learning them")
        crm.store.set_flag(crm.scope, RELEARN, "until-full-pass")
        crm.store.set_flag(crm.scope, RELEARN_SINCE, wall_clock().isoformat())


def settle_orphan_creates(crm: CrmStore, run_id: int, now: dt.datetime) -> None:
    """Creates left in doubt by an earlier run whose keys this run did not plan again (the deal
    was lost, or its touch point is now past catching up): look them up on their deals; a task
    found enters the ledger and its deal is read again next run (so it is closed, or updated, as
    an uninterrupted run would have), a key not found is no longer in doubt. Reads that are not
    settled yet leave them for the next run."""
    run = crm.store.run_summary(crm.scope, run_id)
    leftover = {key: (deal_id, sent_at) for key, (deal_id, sent_at) in crm.store.creates_in_doubt(crm.scope).items()
                if run is not None and sent_at < run.started_at}
    if not leftover or not isinstance(crm.adapter, SupportsTasksOnDeals):
        return
    newest = max(sent_at for _, sent_at in leftover.values())
    try:
        found = crm.adapter.find_tasks_on_deals({k: deal for k, (deal, _) in leftover.items()},
                                                quiet_seconds=(wall_clock() - newest).total_seconds())
    except ReadsNotSettled:
        return
    log.info("orphan_creates_settled", found=len(found), absent=len(leftover) - len(found))
    crm.store.learn(crm.scope, [dataclasses.replace(ref, deal_id=leftover[k][0]) for k, ref in found.items()])
    crm.store.forget_creates(crm.scope, [k for k in leftover if k not in found])
    crm.store.set_revisits(crm.scope, {leftover[k][0]: now for k in found})


def learn_completed(crm: CrmStore, keys: frozenset[str], deal_ids: Sequence[str]) -> int:
    """Before AfterClose notes or closes tasks its plan no longer wants, it reads them: one a rep
    has completed meanwhile is learnt as completed and left as it is (the ledger only learns of a
    rep's work this way, or after a lost store). Where the CRM reads tasks on their deals (HubSpot
    without unique task keys, whose search lags), they are read there."""
    if isinstance(crm.adapter, SupportsTasksOnDeals):
        deal_of = {entry.key: entry.deal_id for entries in crm.store.ledger_for_deals(crm.scope, deal_ids).values()
                   for entry in entries if entry.key in keys}
        found = crm.adapter.find_tasks_on_deals(deal_of, quiet_seconds=relearning_for(crm))
    else:
        found = crm.adapter.find_tasks(sorted(keys))
    done = [ref for ref in found.values() if ref.status is TaskStatus.COMPLETED]
    return crm.store.learn(crm.scope, done) if done else 0


def relearn(crm: CrmStore, result: planner.PlanResult) -> dict[str, TaskRef]:
    """Look up the tasks this plan would create (or skip); adopt those that exist (id, due date,
    status), and return them. Their text is judged by ``adopt_unchanged_text`` against the plan
    made once they are known: some text depends on what the ledger knows (the handoff task names
    the day its gap was first seen, read back from the task's due date)."""
    planned = {a.key: a for a in result.plan.actions if isinstance(a, CreateTask | Skip)}
    if not planned:
        return {}
    if isinstance(crm.adapter, SupportsTasksOnDeals):
        found = crm.adapter.find_tasks_on_deals({k: a.deal_id for k, a in planned.items()},
                                                quiet_seconds=relearning_for(crm))
    else:
        found = crm.adapter.find_tasks(list(planned))
    refs = [_as_planned(ref, planned[key]) for key, ref in found.items() if key in planned]
    crm.store.learn(crm.scope, refs)
    return {ref.key: ref for ref in refs}


def adopt_unchanged_text(crm: CrmStore, result: planner.PlanResult, found: dict[str, TaskRef]) -> int:
    """The plan made once the found tasks are known rewrites each of them, its fingerprint being
    unknown; a task whose text already reads as planned (or whose text the CRM does not tell) is
    taken as written, so only a real difference is rewritten (a different due date is still
    rescheduled). The note AfterClose appended to a task it rewrote does not count."""
    same = [action for action in result.plan.actions
            if isinstance(action, UpdateTask) and "content" in action.changes and action.key in found
            and not _as_written(found[action.key]).content_differs(
                dataclasses.replace(action.spec, body=without_update_note(action.spec.body) or ""))]
    fingerprints = {a.key: result.fingerprints[a.key] for a in same if a.key in result.fingerprints}
    if not fingerprints:
        return 0
    return crm.store.learn(crm.scope, [found[key] for key in fingerprints], fingerprints=fingerprints)


def _as_written(ref: TaskRef) -> TaskRef:
    """The task without the note AfterClose appended when it last rewrote it."""
    return dataclasses.replace(ref, body=without_update_note(ref.body))


def relearning_for(crm: CrmStore) -> float:
    """Seconds since re-learning began (0 when unknown)."""
    since = crm.store.get_flag(crm.scope, RELEARN_SINCE)
    try:
        return max(0.0, (wall_clock() - dt.datetime.fromisoformat(since)).total_seconds()) if since else 0.0
    except ValueError:
        return 0.0


def _as_planned(ref: TaskRef, action: CreateTask | Skip) -> TaskRef:
    """A CRM that keeps due *dates* (not times) reports the planned day at midnight: the same
    due day is the same due date, so re-learning does not reschedule every task."""
    due_at = ref.due_at
    if isinstance(action, CreateTask) and due_at is not None and due_at.date() == action.spec.due_date:
        due_at = action.spec.due_at
    return dataclasses.replace(ref, deal_id=ref.deal_id or action.deal_id, due_at=due_at)
