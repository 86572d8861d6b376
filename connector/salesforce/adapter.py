"""``SalesforceAdapter``: the ``connector.port.CrmAdapter`` for Salesforce, on simple-salesforce.

Reads are SOQL through ``sf.query``/``sf.query_more``; writes are sObject Collections through
``sf.restful``; schema is ``sf.restful('sobjects/X/describe')``. ``SFType`` helpers
(``sf.Task.upsert`` ...) are deliberately unused (facts §0.6). The call budget per run is
written down in docs/salesforce-adapter.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from connector.actions import (Action, ActionResult, CloseTask, CreateTask, Outcome, Skip, UpdateRecord, UpdateTask,
                               WriteAction)
from connector.mapping import FieldMap
from connector.model import Cursor, Deal, DealPage, Provider, RecordKind, TaskRef
from connector.pipeline import BackgroundWrites, read_ahead
from connector.port import CallStats, NpsAccount, NpsContact, SchemaProblem
from connector.retry import RetrySettings
from connector.salesforce import nps, schema, soql, writes
from connector.salesforce.client import SalesforceClient
from connector.salesforce.paging import QueryPaginator
from connector.salesforce.pull import drop_own, new_own_writes, stream_deals
from connector.salesforce.settings import SalesforceSettings
from connector.salesforce.writes import Pending, Refused


@dataclass(frozen=True)
class Collections:
    """One kind of write collection: its records, the sObject Collections call and path that
    take them, and what identifies a record (a record must not be in two collections at once)."""

    pending: list[Pending]
    label: str
    path: str
    identity: Callable[[Pending], str]


QUERY_BATCHES_AHEAD = 1
"""Query batches (2,000 deals) fetched ahead of the one being decided and written."""


class SalesforceAdapter:
    provider = Provider.SALESFORCE

    def __init__(self, *, settings: SalesforceSettings, fieldmap: FieldMap,
                 retry: RetrySettings | None = None, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.fieldmap = fieldmap
        soql.deal_columns(fieldmap)  # refuse a mapping with non-API field names before any call
        soql.api_name(fieldmap.task_key_field, key="task_key_field", source=fieldmap.source)
        writes.check_extras(fieldmap)
        self._client = SalesforceClient(settings, retry or RetrySettings(), sleep=sleep)
        self._described: dict[str, schema.Describe] | None = None
        self._own_writes = new_own_writes()
        self._background_writes = BackgroundWrites(lambda actions: self.apply(actions), name="salesforce-writes")

    # -- schema ----------------------------------------------------------------------------------
    def _describe(self) -> dict[str, schema.Describe]:
        """One describe per sObject per run (cached on the adapter)."""
        if self._described is None:
            self._described = {
                name: schema.fields_by_name(self._client.restful("describe", f"sobjects/{name}/describe"))
                for name in schema.objects_to_describe(self.fieldmap)
            }
        return self._described

    def check_schema(self) -> list[SchemaProblem]:
        return schema.problems(self.fieldmap, self._describe())

    def setup(self) -> list[str]:
        """Custom fields need the Metadata API, so this only says what an admin must create."""
        return schema.setup_instructions(self.fieldmap, self._describe())

    # -- reads -----------------------------------------------------------------------------------
    def closed_won_deals(self, since: Cursor | None) -> Iterator[DealPage]:
        """Passes until one makes no write-back: the query is a snapshot taken before this run's
        writes, and the cursor must end past them (``OwnWrites``, connector/pipeline.py)."""
        try:
            cursor, wrote = since, True
            while wrote:
                written_before = self._own_writes.written
                pages = stream_deals(self._client, soql.won_deals_since(self.fieldmap, cursor), self.fieldmap,
                                     after=cursor)
                # The next query batch is fetched while the sync decides and writes this one.
                for page in read_ahead(pages, QUERY_BATCHES_AHEAD, name="salesforce-query-ahead"):
                    page = drop_own(self._own_writes, page)
                    for deal in page.deals:
                        self._own_writes.read(deal.id, deal)
                    cursor = page.cursor or cursor
                    yield page
                self._background_writes.wait_idle()  # the sync may still be writing the last page
                wrote = self._own_writes.written > written_before
        finally:
            self._own_writes.clear()

    def deals_by_id(self, deal_ids: Sequence[str]) -> Iterator[DealPage]:
        # Anything that is not a 15/18-character id cannot name a record; sending it would only
        # earn a 400 (a fatal error) for the whole batch.
        ids = [i for i in deal_ids if soql.is_record_id(i)]
        for chunk in soql.in_list_chunks(ids):
            yield from stream_deals(self._client, soql.deals_by_ids(self.fieldmap, chunk), self.fieldmap,
                                    with_cursor=False)

    def find_tasks(self, keys: Iterable[str]) -> dict[str, TaskRef]:
        key_field = self.fieldmap.task_key_field
        found: dict[str, TaskRef] = {}
        for chunk in soql.in_list_chunks(k for k in keys if k):
            paginator = QueryPaginator("task query")
            page = self._client.query(soql.tasks_by_keys(key_field, chunk))
            while True:
                for record in paginator.records(page):
                    found[record[key_field]] = writes.task_ref(record, key_field)
                next_url = paginator.next_url(page)
                if next_url is None:
                    break
                page = self._client.query_more(next_url)
        return found

    def any_tasks(self) -> bool:
        page = self._client.query(soql.any_keyed_task(self.fieldmap.task_key_field))
        return bool(page.get("records"))

    # -- NPS (connector.port.SupportsNps; the queries live in connector/salesforce/nps.py) ------
    def nps_contacts_by_email(self, emails: Sequence[str]) -> list[NpsContact]:
        return nps.contacts_by_email(self._client, emails)

    def nps_contacts_by_id(self, contact_ids: Sequence[str]) -> list[NpsContact]:
        return nps.contacts_by_id(self._client, contact_ids)

    def nps_accounts(self, account_ids: Sequence[str]) -> dict[str, NpsAccount]:
        return nps.accounts(self._client, self.fieldmap, account_ids)

    def nps_referred_deals(self, referrer_field: str) -> list[Deal]:
        return nps.referred_deals(self._client, self.fieldmap, referrer_field)

    # -- writes ----------------------------------------------------------------------------------
    def submit(self, actions: Sequence[WriteAction]) -> Future[list[ActionResult]]:
        return self._background_writes.submit(actions)

    def apply(self, actions: Sequence[WriteAction]) -> list[ActionResult]:
        results: list[ActionResult | None] = [None] * len(actions)
        upserts, updates, closes_by_key = self._sort_out(actions, results)
        updates += self._resolve_closes(closes_by_key, results)
        key_field = self.fieldmap.task_key_field
        updates.sort(key=lambda p: p.record["attributes"]["type"])  # one chunk per type (stable)
        self._send([
            Collections(upserts, "upsert", f"composite/sobjects/Task/{key_field}", lambda p: p.record[key_field]),
            Collections(updates, "update", "composite/sobjects", lambda p: p.record["Id"]),
        ], results)
        for result in results:
            if (result is not None and result.outcome is Outcome.UPDATED and isinstance(result.action, UpdateRecord)
                    and result.action.update.kind is RecordKind.DEAL):
                self._own_writes.wrote(result.action.update.record_id, result.action.update.values)
        missing = [i for i, r in enumerate(results) if r is None]
        assert not missing, f"no result for actions {missing}"  # every branch fills one
        return results  # type: ignore[return-value]

    def estimate_write_calls(self, actions: Sequence[Action]) -> int:
        """Write calls ``apply`` would make for these actions (skips cost nothing); no call is made."""
        from connector.salesforce.estimate import estimate_write_calls

        return estimate_write_calls([a for a in actions if not isinstance(a, Skip)], self.fieldmap)

    def _sort_out(self, actions: Sequence[WriteAction], results: list[ActionResult | None]
                  ) -> tuple[list[Pending], list[Pending], list[tuple[int, CloseTask]]]:
        """Upserts by key, updates by Id, closes still to be looked up; refusals go to ``results``."""
        upserts: list[Pending] = []
        updates: list[Pending] = []
        closes_by_key: list[tuple[int, CloseTask]] = []
        for index, action in enumerate(actions):
            try:
                if isinstance(action, CreateTask):
                    upserts.append(Pending(index, action, writes.task_record(action.spec, self.fieldmap)))
                elif isinstance(action, UpdateTask):
                    # Everything but the status: a task a rep completed meanwhile stays completed.
                    record = writes.task_record(action.spec, self.fieldmap)
                    del record["Status"]
                    upserts.append(Pending(index, action, record))
                elif isinstance(action, CloseTask) and not action.crm_id:
                    closes_by_key.append((index, action))
                elif isinstance(action, CloseTask):
                    updates.append(Pending(index, action, self._close_record(action.crm_id)))
                elif isinstance(action, UpdateRecord):
                    updates.append(Pending(index, action, writes.record_update(action, self.fieldmap)))
                else:
                    results[index] = ActionResult(action=action, outcome=Outcome.SKIPPED,
                                                  message="not a write action")
            except Refused as refused:
                results[index] = ActionResult(action=action, outcome=Outcome.REJECTED,
                                              message=str(refused), error_code=refused.code)
        return upserts, updates, closes_by_key

    def _resolve_closes(self, closes: list[tuple[int, CloseTask]],
                        results: list[ActionResult | None]) -> list[Pending]:
        """A close known only by key: find the task's id first (one query per 200 keys)."""
        if not closes:
            return []
        refs = self.find_tasks(action.key for _, action in closes)
        pending = []
        for index, action in closes:
            ref = refs.get(action.key)
            if ref is None:
                results[index] = ActionResult(action=action, outcome=Outcome.UNCHANGED,
                                              message="no task with this key in Salesforce; nothing to close")
            else:
                pending.append(Pending(index, action, self._close_record(ref.crm_id)))
        return pending

    def _send(self, kinds: list[Collections], results: list[ActionResult | None]) -> None:
        """Every collection of every kind, ``max_concurrency`` at a time: creates (upserts by key)
        and updates (by id) never name the same record, so no kind waits for another."""
        def send(work: tuple[Collections, list[Pending]]) -> None:
            kind, chunk = work
            body = {"allOrNone": False, "records": [p.record for p in chunk]}
            reply = self._client.restful(f"composite/sobjects:{kind.label}", kind.path, method="PATCH", json=body)
            for item, result in zip(chunk, writes.check_reply(reply, len(chunk), kind.path)):
                results[item.index] = writes.outcome_of(item, result)

        side_by_side: list[tuple[Collections, list[Pending]]] = []
        for kind in kinds:
            chunks = [(kind, chunk) for chunk in writes.chunks(kind.pending, kind.identity)]
            if len({kind.identity(p) for p in kind.pending}) == len(kind.pending):
                side_by_side += chunks  # no record in two collections: any order
            else:
                for work in chunks:  # a record written twice: its collections go in order
                    send(work)
        self._client.map_concurrent(send, side_by_side)

    def _close_record(self, crm_id: str) -> dict:
        completed = writes.task_values(self.fieldmap)["Status"]["completed"]
        return {"attributes": {"type": "Task"}, "Id": crm_id, "Status": completed}

    # -- bookkeeping ----------------------------------------------------------------------------
    def call_stats(self) -> CallStats:
        return self._client.stats()

    def close(self) -> None:
        self._background_writes.close()
        self._client.close()

    def __enter__(self) -> "SalesforceAdapter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

