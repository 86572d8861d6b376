"""Find AfterClose's tasks by reading the deals they hang off: the lookup that needs no unique key
and no search index.

Every task AfterClose creates is linked to its deal in the create call itself (inline association
216), so the task of key K, if it exists, is among the deal's tasks. Two reads, neither through
the search index (which lags writes by seconds, facts §3, and can therefore only narrow a lookup,
never prove that a task does not exist):

1. ``POST /crm/v4/associations/deals/tasks/batch/read``: the task ids of up to 1,000 deals a call
   (https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api),
   further targets of one deal by its ``after`` token;
2. ``POST /crm/v3/objects/tasks/batch/read`` by id, 100 a call: each task's key property and what
   is needed to compare it with the plan (taskprops.READ_PROPERTIES).

Batch read by id reads the record store, not the index. Whether v4 association reads lag is
undocumented (facts §7 [UNVERIFIED]); a lookup is only trusted for tasks created at least
``settle_seconds`` ago (creates.py, and the adapter's ``_settle_left``).

Two tasks with one key (made before AfterClose knew better, or by hand) are both seen; the one
with the lowest id is the task, and the others are reported in the log, never deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from connector.hubspot.client import HubSpotClient
from connector.hubspot.related import ASSOCIATION_READ_MAX, chunks, read_associations, read_objects
from connector.hubspot.taskprops import READ_PROPERTIES, task_ref
from connector.model import TaskRef

log = logging.getLogger("afterclose.hubspot")


def tasks_on_deals(client: HubSpotClient, key_property: str, wanted: Mapping[str, str]) -> dict[str, TaskRef]:
    """``wanted``: task key -> deal id. Returns the tasks found, by key, with their deal id."""
    deal_of_task: dict[str, str] = {}
    for batch in chunks(sorted(set(wanted.values())), ASSOCIATION_READ_MAX):
        for deal_id, links in read_associations(client, "deals", "tasks", batch).items():
            for link in links:
                deal_of_task.setdefault(link.to_id, deal_id)
    if not deal_of_task:
        return {}
    found: dict[str, TaskRef] = {}
    extra: dict[str, list[str]] = {}
    properties = [key_property, *READ_PROPERTIES]
    for task_id, values in sorted(read_objects(client, "tasks", list(deal_of_task), properties).items(),
                                  key=lambda item: _id_order(item[0])):
        ref = task_ref(task_id, values, key_property, deal_id=deal_of_task.get(task_id))
        if ref.key not in wanted or wanted[ref.key] != ref.deal_id:
            continue
        if ref.key in found:
            extra.setdefault(ref.key, []).append(ref.crm_id)
            continue
        found[ref.key] = ref
    for key, others in extra.items():
        log.warning("several HubSpot tasks carry the AfterClose key %s: AfterClose keeps task %s and leaves "
                    "task(s) %s alone; delete the extra one(s) if they are copies", key, found[key].crm_id,
                    ", ".join(others))
    return found


def _id_order(task_id: str) -> tuple[int, str]:
    return (int(task_id), "") if task_id.isdigit() else (0, task_id)
