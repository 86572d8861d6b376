"""How many write calls ``SalesforceAdapter.apply`` will make for a plan (for ``afterclose plan``).

The arithmetic mirrors ``apply`` call for call (connector/salesforce/adapter.py, writes.py):

- creates and reschedules: one ``composite/sobjects/Task/<key field>`` upsert per 200 records,
  a new collection whenever a key repeats (Salesforce refuses a duplicate inside one collection);
- closes known only by key: one SOQL query per IN list of keys (``soql.in_list_chunks``) to find
  the task ids, counted as if every task is found (a task a rep deleted makes the real run
  one update cheaper, never dearer);
- closes by id and record write-backs: one ``composite/sobjects`` update per 200 records, sorted
  by sObject type, a new collection whenever an id repeats;
- records AfterClose cannot express (an unmapped field, an unparsable value) are refused before
  any call;
- deal write-backs bump ``SystemModstamp``, so the deal walk passes over them once more before it
  ends (connector/salesforce/pull.py, ``OwnWrites``): one query batch per 2,000 deals written, the
  last one short. A read, but one the writes cause, so it is counted here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from connector.actions import CloseTask, CreateDeal, CreateTask, UpdateRecord, UpdateTask, WriteAction
from connector.mapping import FieldMap
from connector.model import RecordKind
from connector.salesforce import soql, writes

QUERY_BATCH = 2_000
"""Salesforce's largest query batch (facts §4); a smaller org batch size makes the pass dearer."""


def estimate_write_calls(actions: Sequence[WriteAction], fieldmap: FieldMap) -> int:
    upserts: list[str] = []
    updates: list[tuple[str, str]] = []  # (sObject type, id) in the order apply sends them
    closes_by_key: list[str] = []
    for action in actions:
        if isinstance(action, CreateTask | UpdateTask):
            if _expressible(writes.task_record, action.spec, fieldmap):
                upserts.append(action.key)
        elif isinstance(action, CloseTask) and action.crm_id:
            updates.append(("Task", action.crm_id))
        elif isinstance(action, CloseTask):
            closes_by_key.append(action.key)
        elif isinstance(action, UpdateRecord) and _expressible(writes.record_update, action, fieldmap):
            updates.append((writes.SOBJECT[action.update.kind], action.update.record_id))
    lookups = sum(1 for _ in soql.in_list_chunks(closes_by_key))
    updates += [("Task", f"key:{key}") for key in dict.fromkeys(closes_by_key)]
    updates.sort(key=lambda item: item[0])
    deals_written = {record_id for kind, record_id in updates if kind == writes.SOBJECT[RecordKind.DEAL]}
    own_write_pass = len(deals_written) // QUERY_BATCH + 1 if deals_written else 0
    # Renewal deals (deal_creates.py): the key query, the upsert, the contact role query and create.
    renewal_deals = 4 * -(-sum(isinstance(a, CreateDeal) for a in actions) // writes.COLLECTION_MAX)
    return (len(writes.chunks(upserts, lambda key: key)) + lookups
            + len(writes.chunks(updates, lambda item: item[1])) + own_write_pass + renewal_deals)


def _expressible(build: Callable[..., object], *args: object) -> bool:
    try:
        build(*args)
    except writes.Refused:
        return False
    return True
