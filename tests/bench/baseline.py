"""The per-record baseline: the same work done the way the SDKs' README examples do it.

One call per deal for each of its associations, one per contact and company read, one per task
created, one per association of each task, one per updated record, one after the other. The
decisions are AfterClose's own pure core (handoff check and planner, empty ledger), so both
implementations write the same tasks and fields and only the API usage differs.

HubSpot (hubspot-api-client README: ``basic_api.create`` / ``basic_api.update`` /
``basic_api.get_by_id``): the deal list is a search (pages of 100), associations are read with a
v4 batch read of ONE id and created with a v4 batch create of ONE association (the sandbox has no
single-association route; the call count is the same). The baseline paces itself to the same
share of the portal's ten-second limit as AfterClose, so neither meets a 429.

Salesforce (simple-salesforce README: ``sf.query``, ``sf.Task.create``, ``sf.Opportunity.update``):
one query for the won deals, one contact-role query per deal, one create per task, one update per
deal. WhatId/WhoId are fields on the task, so a task's links cost no extra call.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from dataclasses import dataclass, field

from connector.actions import CreateTask, UpdateRecord
from connector.mapping import FieldMap
from connector.model import Company, Contact, Deal, Owner, Provider, RecordKind
from jobs.core import handoff, planner
from jobs.core.playbook import DEFAULT_PLAYBOOK


@dataclass
class BaselineResult:
    deals: int = 0
    calls: collections.Counter = field(default_factory=collections.Counter)
    wall_seconds: float = 0.0
    tasks: int = 0
    updates: int = 0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


class Pace:
    """At most ``per_ten_seconds`` calls in any rolling ten seconds (sleeps until a slot frees)."""

    def __init__(self, per_ten_seconds: int | None):
        self.limit = per_ten_seconds
        self.stamps: collections.deque[float] = collections.deque()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.limit:
            return
        while True:
            now = time.monotonic()
            while self.stamps and now - self.stamps[0] >= 10.0:
                self.stamps.popleft()
            if len(self.stamps) < self.limit:
                self.stamps.append(now)
                return
            time.sleep(10.0 - (now - self.stamps[0]))


def decide(deals: list[Deal], fieldmap: FieldMap, now: dt.datetime) -> list:
    reports = {d.id: handoff.check(d, fieldmap) for d in deals}
    return list(planner.plan(deals, reports, {}, fieldmap, DEFAULT_PLAYBOOK, now).plan.writes())


# -- HubSpot ------------------------------------------------------------------------------------

def run_hubspot(base_url: str, token: str, fieldmap: FieldMap, now: dt.datetime, *, per_ten_seconds: int,
                search_per_second: float) -> BaselineResult:
    from hubspot import HubSpot

    client = HubSpot(access_token=token, host=base_url)
    out = BaselineResult()
    pace, search_gap = Pace(per_ten_seconds), 1.0 / search_per_second
    started = time.perf_counter()

    def call(label: str, fn, *args, search: bool = False, **kwargs):
        if search:
            time.sleep(search_gap)
        else:
            pace.wait()
        out.calls[label] += 1
        return fn(*args, **kwargs)

    owners = {str(o.id): o for o in call("owners", client.crm.owners.owners_api.get_page, limit=100).results}
    pipelines = call("pipelines", client.crm.pipelines.pipelines_api.get_all, object_type="deals").results
    won = sorted({s.id for p in pipelines for s in p.stages if (s.metadata or {}).get("probability") == "1.0"})
    for deal in _hubspot_won_deals(client, call, fieldmap, won, owners):
        out.deals += 1
        for action in decide([deal], fieldmap, now):
            _hubspot_write(client, call, fieldmap, action, out)
    out.wall_seconds = time.perf_counter() - started
    return out


def _hubspot_won_deals(client, call, fieldmap: FieldMap, won: list[str], owners: dict):
    from hubspot.crm.deals import Filter, FilterGroup, PublicObjectSearchRequest

    mapped = [s.crm_name for s in fieldmap.for_record(RecordKind.DEAL)]
    properties = ["dealname", "dealstage", "closedate", "amount", "hubspot_owner_id", "hs_lastmodifieddate", *mapped]
    after = None
    while True:
        request = PublicObjectSearchRequest(filter_groups=[FilterGroup(filters=[
            Filter(property_name="dealstage", operator="IN", values=won)])], properties=properties, limit=100,
            after=after)
        page = call("search deals", client.crm.deals.search_api.do_search, public_object_search_request=request,
                    search=True)
        for result in page.results:
            yield _hubspot_deal(client, call, fieldmap, result, owners)
        if not page.paging or not page.paging.next:
            return
        after = page.paging.next.after


def _hubspot_deal(client, call, fieldmap: FieldMap, result, owners: dict) -> Deal:
    from connector.hubspot.pull import field_value

    p = result.properties
    contacts = []
    for link in _hubspot_links(client, call, "contacts", result.id):
        c = call("get contact", client.crm.contacts.basic_api.get_by_id, link.to_object_id,
                 properties=["email", "firstname", "lastname"]).properties
        labels = [t.label for t in link.association_types or [] if t.label]
        contacts.append(Contact(id=str(link.to_object_id), email=c.get("email"),
                                name=f"{c.get('firstname')} {c.get('lastname')}",
                                role=next((x for x in labels if "primary" not in x.lower()), None),
                                is_primary=any("primary" in x.lower() for x in labels)))
    company = None
    companies = _hubspot_links(client, call, "companies", result.id)
    if companies:
        c = call("get company", client.crm.companies.basic_api.get_by_id, companies[0].to_object_id,
                 properties=["name"]).properties
        company = Company(id=str(companies[0].to_object_id), name=c.get("name"))
    owner = owners.get(p.get("hubspot_owner_id") or "")
    return Deal(
        provider=Provider.HUBSPOT, id=str(result.id), name=p.get("dealname") or "", stage=p.get("dealstage") or "",
        is_won=True, close_date=dt.date.fromisoformat(p["closedate"][:10]) if p.get("closedate") else None,
        last_modified=result.updated_at, amount=p.get("amount"),
        owner=Owner(id=str(owner.id), email=owner.email, active=not owner.archived) if owner else (
            Owner(id=p["hubspot_owner_id"], active=False) if p.get("hubspot_owner_id") else None),
        company=company, contacts=tuple(contacts),
        fields={s.canonical: field_value(s, p.get(s.crm_name)) for s in fieldmap.for_record(RecordKind.DEAL)},
    )


def _hubspot_links(client, call, to_type: str, deal_id: str):
    from hubspot.crm.associations.v4 import (
        BatchInputPublicFetchAssociationsBatchRequest,
        PublicFetchAssociationsBatchRequest,
    )

    body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id=deal_id)])
    reply = call(f"read {to_type} associations", client.crm.associations.v4.batch_api.get_page, "deals", to_type,
                 batch_input_public_fetch_associations_batch_request=body)
    return [t for r in reply.results or [] for t in r.to or []]


def _hubspot_write(client, call, fieldmap: FieldMap, action, out: BaselineResult) -> None:
    from hubspot.crm.associations.v4 import (
        AssociationSpec,
        BatchInputPublicAssociationMultiPost,
        PublicAssociationMultiPost,
        PublicObjectId,
    )
    from hubspot.crm.objects import SimplePublicObjectInput, SimplePublicObjectInputForCreate

    from connector.hubspot.taskprops import TASK_TO_COMPANY, TASK_TO_CONTACT, TASK_TO_DEAL, task_properties

    if isinstance(action, CreateTask):
        spec = action.spec
        task = call("create task", client.crm.objects.basic_api.create, "tasks",
                    simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
                        properties=task_properties(spec, fieldmap.task_key_field), associations=[]))
        out.tasks += 1
        for to_type, to_id, type_id in (("deals", spec.deal_id, TASK_TO_DEAL), ("companies", spec.company_id,
                                        TASK_TO_COMPANY), ("contacts", spec.contact_id, TASK_TO_CONTACT)):
            if to_id:
                body = BatchInputPublicAssociationMultiPost(inputs=[PublicAssociationMultiPost(
                    _from=PublicObjectId(id=task.id), to=PublicObjectId(id=to_id),
                    types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)])])
                call("associate task", client.crm.associations.v4.batch_api.create, "tasks", to_type,
                     batch_input_public_association_multi_post=body)
    elif isinstance(action, UpdateRecord):
        values = {fieldmap.spec(k).crm_name: v or "" for k, v in action.update.values.items()}
        call("update deal", client.crm.deals.basic_api.update, action.update.record_id,
             simple_public_object_input=SimplePublicObjectInput(properties=values))
        out.updates += 1


# -- Salesforce -----------------------------------------------------------------------------------

def run_salesforce(base_url: str, token: str, ca_path: str, fieldmap: FieldMap, now: dt.datetime) -> BaselineResult:
    from simple_salesforce import Salesforce

    from connector.salesforce import soql, writes
    from connector.salesforce.pull import to_deal
    from connector.sandbox.salesforce import sdk_session

    sf = Salesforce(instance_url=base_url, session_id=token, session=sdk_session(ca_path))
    out = BaselineResult()
    started = time.perf_counter()
    columns = ", ".join(soql.deal_columns(fieldmap))
    out.calls["query deals"] += 1
    records = sf.query_all(f"SELECT {columns} FROM Opportunity WHERE IsWon = true ORDER BY Id")["records"]
    out.calls["query deals"] += max(0, -(-len(records) // 2000) - 1)
    for record in records:
        out.calls["query contact roles"] += 1
        roles = sf.query("SELECT ContactId, Role, IsPrimary, Contact.Email, Contact.Name FROM "
                         f"OpportunityContactRole WHERE OpportunityId = '{record['Id']}'")
        deal = to_deal(None, record | {"OpportunityContactRoles": roles}, fieldmap)
        out.deals += 1
        for action in decide([deal], fieldmap, now):
            if isinstance(action, CreateTask):
                task = writes.task_record(action.spec, fieldmap)
                task.pop("attributes")
                out.calls["create task"] += 1
                sf.Task.create(task)
                out.tasks += 1
            elif isinstance(action, UpdateRecord):
                values = writes.record_update(action, fieldmap)
                values.pop("attributes")
                values.pop("Id")
                out.calls["update deal"] += 1
                sf.Opportunity.update(action.update.record_id, values)
                out.updates += 1
    out.wall_seconds = time.perf_counter() - started
    sf.session.close()
    return out
