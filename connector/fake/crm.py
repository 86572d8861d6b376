"""``FakeCrm``: the ``CrmAdapter`` port (and setup, estimates, NPS reads) over a ``FakeStore``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

from connector.actions import Action, ActionResult, Skip, UpdateRecord, WriteAction
from connector.fake.store import TASK_KEY, WON, FakeDeal, FakeField, FakeStore
from connector.fake.writes import Writes, write_calls
from connector.mapping import FieldMap, FieldSpec
from connector.model import Company, Contact, Cursor, Deal, DealStamp, Owner, RecordKind, TaskRef
from connector.port import CallStats, NpsAccount, NpsContact, SchemaProblem, StreamTuning

PAGE_SIZE = 100
READ_BATCH = 100
"""Ids, keys or emails per read call."""
TUNING = StreamTuning(scan_pages_ahead=1, enrich_batch=None)
"""A scan page carries whole deals (enrichment is free), and one page is read ahead, so the deal
stream's reads, decisions and background writes overlap as they do against a real CRM."""


class FakeCrm:
    """One adapter (one run's view) of an in-memory CRM. ``store`` is the CRM; without one, an
    empty CRM whose schema has every field ``fieldmap`` maps is made. ``connect`` gives another
    adapter on the same CRM (the next run, or another mapping)."""

    def __init__(self, fieldmap: FieldMap, store: FakeStore | None = None, *, page_size: int = PAGE_SIZE,
                 tuning: StreamTuning = TUNING):
        self.fieldmap = fieldmap
        self.provider = fieldmap.provider
        """Only the key prefix and the deals' provider: the fake itself is no vendor."""
        self.store = store if store is not None else FakeStore(fieldmap)
        self.tuning = tuning
        self.page_size = page_size
        self._calls: dict[str, int] = {}
        self._writes = Writes(self.store, fieldmap, self._count)

    def connect(self, fieldmap: FieldMap | None = None) -> FakeCrm:
        return FakeCrm(fieldmap or self.fieldmap, self.store, page_size=self.page_size, tuning=self.tuning)

    def _count(self, endpoint: str, calls: int = 1) -> None:
        if calls <= 0:
            return
        with self.store.lock:
            self._calls[endpoint] = self._calls.get(endpoint, 0) + calls
            self.store.count(endpoint, calls)

    # -- schema ------------------------------------------------------------------------------

    def check_schema(self) -> list[SchemaProblem]:
        self._count("read_schema")
        problems = []
        with self.store.lock:
            for spec in self.fieldmap.fields.values():
                problem = self._field_problem(spec)
                if problem:
                    where = f"{spec.record}.{spec.crm_name}"
                    problems.append(SchemaProblem(mapping_key=spec.canonical, crm_field=where, problem=problem))
            if not self.store.has_task_key:
                problems.append(SchemaProblem(mapping_key=TASK_KEY, crm_field=f"task.{self.fieldmap.task_key_field}",
                                              problem="task key field does not exist (run `afterclose setup`)"))
        return problems

    def _field_problem(self, spec: FieldSpec) -> str | None:
        field = self.store.schema.get((spec.record, spec.canonical))
        if field is None:
            return "field does not exist in the CRM" + (" (run `afterclose setup`)" if spec.afterclose_owned else "")
        if field.type is not spec.type:
            return f"mapped as {spec.type} but the field is a {field.type}"
        missing = sorted(set(spec.options) - set(field.options)) if spec.write else []
        return f"lacks options AfterClose writes: {', '.join(missing)}" if missing else None

    def setup(self) -> list[str]:
        """Create AfterClose's own fields (and the task key field) where missing; say what an
        admin must create for the others."""
        lines = []
        with self.store.lock:
            for spec in self.fieldmap.fields.values():
                name = f"{spec.record}.{spec.crm_name}"
                if self.store.has_field(spec.record, spec.canonical):
                    lines.append(f"exists {name}")
                elif spec.afterclose_owned:
                    self._count("create_fields")
                    self.store.schema[(spec.record, spec.canonical)] = FakeField(type=spec.type, options=spec.options)
                    lines.append(f"created {name}")
                else:
                    lines.append(f"missing {name}: create it as a {spec.type} field, then run `afterclose check`")
            if not self.store.has_task_key:
                self._count("create_fields")
                self.store.has_task_key = True
                lines.append(f"created task.{self.fieldmap.task_key_field}")
        return lines

    # -- reads -------------------------------------------------------------------------------

    def scan(self, since: Cursor | None) -> Iterator[list[DealStamp]]:
        """Keyset pages over the live records: each page starts after the last deal of the one
        before, so a deal changed meanwhile (a write-back, a rep's edit) is met again later in
        the same walk, as on a CRM whose search is re-run from the newest stamp."""
        position = (since.modified, since.deal_id) if since else None
        while True:
            self._count("scan")
            with self.store.lock:
                after = sorted((d for d in self._streamed() if position is None or (d.modified, d.id) > position),
                               key=lambda d: (d.modified, d.id))
                page = [self._stamp(d) for d in after[: self.page_size]]
            if page:
                yield page
            if len(page) < self.page_size:
                return
            position = (page[-1].modified, page[-1].id)

    def _streamed(self) -> Iterator[FakeDeal]:
        """Won deals, and deals AfterClose handled before (handoff status set) that no longer are."""
        handoff = self.fieldmap.fields.get("handoff_status")
        for deal in self.store.deals.values():
            handled = handoff is not None and handoff.record is RecordKind.DEAL and deal.fields.get("handoff_status")
            if deal.stage == WON or handled:
                yield deal

    def scan_ids(self, deal_ids: Sequence[str]) -> Iterator[list[DealStamp]]:
        wanted = list(dict.fromkeys(deal_ids))
        for start in range(0, len(wanted), self.page_size):
            self._count("read_deals")
            with self.store.lock:
                page = [self._stamp(self.store.deals[i]) for i in wanted[start:start + self.page_size]
                        if i in self.store.deals]
            if page:
                yield page

    def enrich(self, stamps: Sequence[DealStamp]) -> list[Deal]:
        """Free: the scan read each deal whole (the stamp carries it)."""
        deals = [s.payload for s in stamps if isinstance(s.payload, Deal)]
        if len(deals) != len(stamps):
            raise ValueError("a deal stamp this fake CRM did not make reached enrichment")
        return deals

    def _stamp(self, record: FakeDeal) -> DealStamp:
        deal = self._deal(record)
        other = (deal.name, deal.stage, deal.is_won, deal.close_date, deal.amount, deal.owner, deal.company,
                 deal.contacts)
        return DealStamp(id=deal.id, modified=deal.last_modified, fields=deal.fields, other=other, payload=deal)

    def _deal(self, record: FakeDeal) -> Deal:
        store = self.store
        company = store.companies.get(record.company_id) if record.company_id else None
        contacts = []
        for link in record.contacts:
            person = store.contacts.get(link.contact_id)
            if person is not None:
                contacts.append(Contact(id=person.id, email=person.email, name=person.name, role=link.role,
                                        is_primary=link.primary))
        return Deal(
            provider=self.provider, id=record.id, name=record.name, stage=record.stage, is_won=record.stage == WON,
            close_date=record.close_date, last_modified=record.modified, amount=record.amount,
            owner=self._owner(record.owner_id),
            company=None if company is None else Company(id=company.id, name=company.name),
            contacts=tuple(contacts),
            fields={s.canonical: record.fields.get(s.canonical) for s in self.fieldmap.for_record(RecordKind.DEAL)},
        )

    def _owner(self, owner_id: str | None) -> Owner | None:
        if owner_id is None:
            return None
        return self.store.owners.get(owner_id) or Owner(id=owner_id, active=False)

    def find_tasks(self, keys: Iterable[str]) -> dict[str, TaskRef]:
        wanted = [k for k in dict.fromkeys(keys) if k]
        self._count("find_tasks", math.ceil(len(wanted) / READ_BATCH))
        found = {}
        with self.store.lock:
            for key in wanted:
                task = self.store.task_by_key(key)
                if task is not None:
                    found[key] = TaskRef(key=key, crm_id=task.id, deal_id=task.deal_id, due_at=task.due_at,
                                         status=task.status, owner_id=task.owner_id)
        return found

    def any_tasks(self) -> bool:
        self._count("any_tasks")
        with self.store.lock:
            return bool(self.store.tasks)

    # -- writes ------------------------------------------------------------------------------

    def apply(self, actions: Sequence[WriteAction]) -> list[ActionResult]:
        return self._writes.apply(actions)

    def deal_target_problems(self, targets: Sequence[tuple[str | None, str]]) -> list[str]:
        """connector.port.SupportsDealCreation: the (pipeline, stage) pairs this CRM lacks."""
        self._count("read_schema")
        return self.store.deal_target_problems(targets)

    def find_deals(self, keys: Iterable[str]) -> dict[str, str]:
        """connector.port.SupportsDealCreation: renewal deal key -> deal id, for the keys that exist."""
        wanted = [k for k in dict.fromkeys(keys) if k]
        self._count("read_deals", math.ceil(len(wanted) / READ_BATCH))
        with self.store.lock:
            return {k: deal.id for k in wanted if (deal := self.store.deal_by_renewal_key(k)) is not None}

    def estimate_write_calls(self, actions: Sequence[Action]) -> int:
        """The write calls ``apply`` makes, plus the scan pages that meet the written deals again."""
        writes = [a for a in actions if not isinstance(a, Skip)]
        written_deals = {a.update.record_id for a in writes
                         if isinstance(a, UpdateRecord) and a.update.kind is RecordKind.DEAL}
        return write_calls(writes) + math.ceil(len(written_deals) / self.page_size)

    # -- NPS reads (connector.port.SupportsNps) ----------------------------------------------

    def nps_contacts_by_email(self, emails: Sequence[str]) -> list[NpsContact]:
        wanted = {e.strip().lower() for e in emails if e and e.strip()}
        self._count("read_contacts", math.ceil(len(wanted) / READ_BATCH))
        with self.store.lock:
            return [self._nps_contact(c.id) for c in sorted(self.store.contacts.values(), key=lambda c: c.id)
                    if c.email and c.email.lower() in wanted]

    def nps_contacts_by_id(self, contact_ids: Sequence[str]) -> list[NpsContact]:
        wanted = list(dict.fromkeys(contact_ids))
        self._count("read_contacts", math.ceil(len(wanted) / READ_BATCH))
        with self.store.lock:
            return [self._nps_contact(i) for i in sorted(wanted) if i in self.store.contacts]

    def _nps_contact(self, contact_id: str) -> NpsContact:
        c = self.store.contacts[contact_id]
        return NpsContact(id=c.id, email=c.email, company_id=c.company_id, name=c.name)

    def nps_accounts(self, account_ids: Sequence[str]) -> dict[str, NpsAccount]:
        wanted = [i for i in dict.fromkeys(account_ids) if i]
        self._count("read_companies", math.ceil(len(wanted) / READ_BATCH))
        out = {}
        with self.store.lock:
            won = sorted((d for d in self.store.deals.values() if d.stage == WON), key=lambda d: d.id)
            for company_id in wanted:
                company = self.store.companies.get(company_id)
                if company is None:
                    continue
                owner = self._owner(company.owner_id)
                out[company_id] = NpsAccount(
                    id=company.id, name=company.name, owner_id=owner.id if owner and owner.active else None,
                    fields={s.canonical: company.fields.get(s.canonical)
                            for s in self.fieldmap.for_record(RecordKind.COMPANY)},
                    won_deals=tuple(self._deal(d) for d in won if d.company_id == company_id),
                )
        return out

    def nps_referred_deals(self, referrer_field: str) -> list[Deal]:
        spec = self.fieldmap.fields.get(referrer_field)
        if spec is None or spec.record is not RecordKind.DEAL:
            return []
        self._count("read_deals")
        with self.store.lock:
            return [self._deal(d) for d in sorted(self.store.deals.values(), key=lambda d: d.id)
                    if d.stage == WON and d.fields.get(referrer_field)]

    # -- bookkeeping -------------------------------------------------------------------------

    def call_stats(self) -> CallStats:
        with self.store.lock:
            return CallStats(by_endpoint=dict(self._calls))

    def close(self) -> None:
        """Nothing to release: the CRM (the store) outlives its adapters."""

    def __enter__(self) -> FakeCrm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

