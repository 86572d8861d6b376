"""``SalesforceAdapter``: the ``connector.port.CrmAdapter`` for Salesforce, on simple-salesforce.

Reads are SOQL through ``sf.query``/``sf.query_more``; writes are sObject Collections through
``sf.restful``; schema is ``sf.restful('sobjects/X/describe')``. ``SFType`` helpers
(``sf.Task.upsert`` ...) are deliberately unused (facts §0.6). The call budget per run is
written down in docs/salesforce-adapter.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from connector.actions import (
    Action,
    ActionResult,
    CloseTask,
    CreateDeal,
    CreateTask,
    Outcome,
    Skip,
    UpdateRecord,
    UpdateTask,
    WriteAction,
)
from connector.errors import ConfigError, CrmError, FatalCrmError
from connector.mapping import FieldMap
from connector.mapping.compat import CrmField
from connector.model import Cursor, Deal, DealStamp, Provider, RecordKind, TaskRef
from connector.port import CallStats, NpsAccount, NpsContact, SchemaProblem, StreamTuning
from connector.retry import RetrySettings
from connector.salesforce import deal_creates, nps, schema, soql, writes
from connector.salesforce.client import SalesforceClient
from connector.salesforce.ids import record_id
from connector.salesforce.paging import QueryPaginator
from connector.salesforce.pull import stamp_of, stream_deals
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


TUNING = StreamTuning(scan_pages_ahead=0, enrich_batch=None)
"""A query batch (up to 2,000 deals) already holds everything AfterClose reads, so a scan page
is an enriched page: the deal stream's own read-ahead of one page is all the overlap it needs."""


class SalesforceAdapter:
    provider = Provider.SALESFORCE
    tuning = TUNING

    def __init__(self, *, settings: SalesforceSettings, fieldmap: FieldMap,
                 retry: RetrySettings | None = None, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.fieldmap = fieldmap
        for key, problem in settings.credential_problems():
            raise ConfigError(problem, source="salesforce settings", key=key)
        soql.deal_columns(fieldmap)  # refuse a mapping with non-API field names before any call
        soql.api_name(fieldmap.task_key_field, key="task_key_field", source=fieldmap.source)
        writes.check_extras(fieldmap)
        self._client = SalesforceClient(settings, retry or RetrySettings(), sleep=sleep)
        self._described: dict[str, schema.Describe] | None = None
        self._org_id: str | None = None

    # -- which org (connector.port.SupportsInstanceId) --------------------------------------------
    def instance_id(self) -> str:
        """The 18-character organization id (one call, read once per adapter)."""
        if self._org_id is None:
            from connector.salesforce.org import org_id

            self._org_id = org_id(self._client)
        return self._org_id

    # -- how creates stay exactly-once (connector.port.SupportsTaskKeyMode) ---------------------
    def task_key_mode(self) -> str:
        """Every task is upserted on the task key, a unique External ID field: a create sent again
        (after a lost answer, a crash) updates the task the first one made instead of adding one
        (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm)."""
        return (f"unique External ID Task.{self.fieldmap.task_key_field} (Salesforce upsert): a create sent again "
                "updates the task the first one made")

    # -- ids as users type them (connector.port.SupportsRecordIds) ------------------------------
    def record_id(self, typed: str) -> str:
        """A 15-character id (the UI's, a report's) in the 18-character form the API answers with."""
        return record_id(typed)

    # -- schema ----------------------------------------------------------------------------------
    def _described_length(self, sobject: str, field: str) -> int | None:
        """A field's length as the org's describe reports it (read by the preflight), None when
        not described in this run: text write-backs are cut to it (limits.py)."""
        length = ((self._described or {}).get(sobject) or {}).get(field, {}).get("length")
        return length if isinstance(length, int) and length > 0 else None

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

    def crm_fields(self, record: RecordKind) -> list[CrmField]:
        """The fields of ``record``'s sObject this user can see (``SupportsFieldList``)."""
        sobject = schema.SOBJECT[record]
        described = self._describe().get(sobject)
        if described is None:
            described = schema.fields_by_name(self._client.restful("describe", f"sobjects/{sobject}/describe"))
        own = {spec.crm_name for spec in self.fieldmap.for_record(record) if spec.afterclose_owned}
        return sorted((schema.crm_field(live, own=name in own) for name, live in described.items()),
                      key=lambda f: f.name)

    def setup(self) -> list[str]:
        """Create AfterClose's own fields through the Tooling API, grant the integration user every
        field AfterClose uses through the "AfterClose Integration" permission set and assign it
        (connector/salesforce/setup_org.py); what Salesforce refuses this user is said, with the
        way out (``write_setup_package``). The next ``check_schema`` describes the org again."""
        from connector.salesforce import setup_org
        from connector.salesforce.org import user_id

        self._described = None
        report = setup_org.run(self._client, self.fieldmap, self._describe(), user_id(self._client))
        self._described = None  # fields and grants changed: describe again
        return report.lines

    def write_setup_package(self, directory: Path) -> list[str]:
        """connector.port.SupportsSetupPackage: the same set-up as a deployable metadata package
        (connector/salesforce/setup_package.py) for an admin; reads only, writes nothing to the org."""
        from connector.salesforce import setup_design as design
        from connector.salesforce import setup_org, setup_package
        from connector.salesforce.org import user_id

        self._described = None
        described = self._describe()
        wanted, not_custom = design.own_fields(self.fieldmap)
        known = setup_org.known_fields(self._client, self.fieldmap, described)
        # A field neither describe nor the Tooling API shows is missing; deploying one that exists
        # after all (hidden, and CustomField unreadable for this user) only updates it.
        missing = [f for f in wanted if f"{f.sobject}.{f.name}".lower() not in known]
        mended = []  # own picklists that lack a value AfterClose writes: deployed with it added
        for item in wanted:
            live = described.get(item.sobject, {}).get(item.name)
            if live is not None and design.missing_values(item, live):
                mended.append(design.with_live_values(item, live))
        grants = setup_org.grants(self.fieldmap, described, known | {f"{f.sobject}.{f.name}".lower() for f in missing})
        username = self._username(user_id(self._client))
        package = setup_package.write(directory, [*missing, *mended], grants, self.settings.api_version, username)
        lines = [f"cannot create {line}" for line in not_custom]
        lines += [f"exists {f.sobject}.{f.name}" for f in wanted if f not in missing]
        lines += [f"in the package: {f.sobject}.{f.name} ({setup_org.describe_kind(f)})" for f in missing]
        lines += [f"in the package: {f.sobject}.{f.name} with the value(s) AfterClose writes added "
                  f"({setup_org.describe_kind(f)})" for f in mended]
        lines += [f"in the package: permission set {design.PERMISSION_SET_NAME} with {len(grants)} field "
                  "permission(s)",
                  f"wrote the package to {directory} (SFDX source format; nothing was changed in the org)",
                  "An admin deploys it with the Salesforce CLI:",
                  f"  {package.deploy_command()}",
                  "and assigns the permission set to AfterClose's integration user:",
                  f"  {package.assign_command(username)}"]
        return lines

    def _username(self, user: str) -> str:
        from simple_salesforce import format_soql

        try:
            records = self._client.query(format_soql("SELECT Username FROM User WHERE Id = {}", user))["records"]
        except CrmError:
            records = []
        return str(records[0]["Username"]) if records else "<integration user's username>"

    # -- reads -----------------------------------------------------------------------------------
    def scan(self, since: Cursor | None) -> Iterator[list[DealStamp]]:
        """One page per query batch; the query reads each deal whole, so its stamp carries it."""
        for page in stream_deals(self._client, soql.won_deals_since(self.fieldmap, since), self.fieldmap, after=since):
            yield [stamp_of(deal) for deal in page]

    def scan_ids(self, deal_ids: Sequence[str]) -> Iterator[list[DealStamp]]:
        # Anything that is not a 15/18-character id cannot name a record; sending it would only
        # earn a 400 (a fatal error) for the whole batch.
        ids = [i for i in deal_ids if soql.is_record_id(i)]
        for chunk in soql.in_list_chunks(ids):
            for page in stream_deals(self._client, soql.deals_by_ids(self.fieldmap, chunk), self.fieldmap):
                yield [stamp_of(deal) for deal in page]

    def enrich(self, stamps: Sequence[DealStamp]) -> list[Deal]:
        deals = [stamp.payload for stamp in stamps if isinstance(stamp.payload, Deal)]
        if len(deals) != len(stamps):
            raise FatalCrmError("a deal stamp without its Opportunity reached enrichment", provider="salesforce")
        return deals

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
    def apply(self, actions: Sequence[WriteAction]) -> list[ActionResult]:
        results: list[ActionResult | None] = [None] * len(actions)
        deals = [(i, a) for i, a in enumerate(actions) if isinstance(a, CreateDeal)]
        for index, result in deal_creates.create(self._client, self.fieldmap, deals):
            results[index] = result  # first: nothing else in a plan names the deals it makes
        upserts, updates, closes_by_key = self._sort_out(actions, results)
        updates += self._resolve_closes(closes_by_key, results)
        key_field = self.fieldmap.task_key_field
        updates.sort(key=lambda p: p.record["attributes"]["type"])  # one chunk per type (stable)
        self._send([
            Collections(upserts, "upsert", f"composite/sobjects/Task/{key_field}", lambda p: p.record[key_field]),
            Collections(updates, "update", "composite/sobjects", lambda p: p.record["Id"]),
        ], results)
        missing = [i for i, r in enumerate(results) if r is None]
        assert not missing, f"no result for actions {missing}"  # every branch fills one
        return results  # type: ignore[return-value]

    # -- renewal deals (connector.port.SupportsDealCreation; deal_creates.py) -----------------------
    def deal_target_problems(self, targets: Sequence[tuple[str | None, str]]) -> list[str]:
        return deal_creates.target_problems(self._client, targets)

    def find_deals(self, keys: Iterable[str]) -> dict[str, str]:
        return deal_creates.find(self._client, self.fieldmap, list(keys))

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
                elif isinstance(action, CloseTask) and action.crm_id:
                    updates.append(Pending(index, action, self._close_record(action.crm_id)))
                elif isinstance(action, CloseTask):
                    closes_by_key.append((index, action))
                elif isinstance(action, UpdateRecord):
                    updates.append(Pending(index, action, writes.record_update(action, self.fieldmap,
                                                                               self._described_length)))
                elif not isinstance(action, CreateDeal):
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
            for item, result in zip(chunk, writes.check_reply(reply, len(chunk), kind.path), strict=True):
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

    def missing_permissions(self) -> list[str]:
        """connector.port.SupportsPermissions: one describe per object the jobs touch."""
        from connector.salesforce.permissions import missing_permissions

        return missing_permissions(self._client, self.fieldmap)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SalesforceAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

