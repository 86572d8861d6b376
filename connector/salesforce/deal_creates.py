"""Renewal Opportunities: created once per key, with the main contact's contact role.

1. Which keys exist already: one query per 200 keys on the key field (the mapping's
   ``renewal_deal_key``, a Text(255) External ID, Unique). An Opportunity found is taken as it
   is: a rep may have moved its stage or amount since, and AfterClose does not overwrite it.
2. The missing ones are **upserted by that key**: PATCH ``composite/sobjects/Opportunity/<Key>``,
   <= 200 records, ``allOrNone: false``
   [DOC: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html].
   Salesforce matches the External ID, so a create whose answer was lost and is sent again (or
   replayed after a crash) updates the Opportunity it made with the same values: never a second.
   ``Type`` (or whatever ``deal_type`` maps to) makes it a renewal deal once won.
3. The main contact becomes its primary ``OpportunityContactRole`` (the link Salesforce has
   between an Opportunity and a contact; facts §4), unless the Opportunity already has a role for
   that contact: checked by query first, so a replay after a crash between 2 and 3 adds the role
   that is missing and nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simple_salesforce import format_soql

from connector.actions import ActionResult, CreateDeal, Outcome
from connector.mapping import FieldMap, FieldSpec, FieldType
from connector.model import RENEWAL_DEAL_KEY, DealSpec, RecordKind
from connector.salesforce import soql, writes
from connector.salesforce.client import SalesforceClient
from connector.salesforce.writes import Refused

Item = tuple[int, CreateDeal]
Results = list[tuple[int, ActionResult]]


def key_field(fieldmap: FieldMap) -> str:
    spec = fieldmap.fields.get(RENEWAL_DEAL_KEY)
    if spec is None:
        raise Refused("UNMAPPED_FIELD", f"creating renewal deals needs [fields.{RENEWAL_DEAL_KEY}] in "
                                        f"{fieldmap.source} (an Opportunity External ID text field)")
    return soql.api_name(spec.crm_name, key=f"fields.{RENEWAL_DEAL_KEY}", source=fieldmap.source)


def find(client: SalesforceClient, fieldmap: FieldMap, keys: Sequence[str]) -> dict[str, str]:
    """Key -> Opportunity id, for the keys an Opportunity carries."""
    field = key_field(fieldmap)
    found: dict[str, str] = {}
    for chunk in soql.in_list_chunks(list(dict.fromkeys(keys))):
        query = f"SELECT Id, {field} FROM Opportunity WHERE {format_soql(field + ' IN {}', chunk)} ORDER BY Id"
        for record in _all(client, query):
            found.setdefault(record[field], record["Id"])
    return found


def create(client: SalesforceClient, fieldmap: FieldMap, items: list[Item]) -> Results:
    if not items:
        return []
    try:
        field = key_field(fieldmap)
    except Refused as refused:
        return [(i, _refused(a, refused)) for i, a in items]
    existing = find(client, fieldmap, [a.key for _, a in items])
    out: Results = []
    pending: list[tuple[int, CreateDeal, dict[str, Any]]] = []
    for i, action in items:
        if action.key in existing:
            continue
        try:
            pending.append((i, action, _record(action.spec, fieldmap, field)))
        except Refused as refused:
            out.append((i, _refused(action, refused)))
    made: dict[int, ActionResult] = {}
    for chunk in writes.chunks(pending, lambda p: p[2][field]):
        body = {"allOrNone": False, "records": [record for _, _, record in chunk]}
        path = f"composite/sobjects/Opportunity/{field}"
        reply = client.restful("composite/sobjects:upsert", path, method="PATCH", json=body)
        for (index, action, _), answer in zip(chunk, writes.check_reply(reply, len(chunk), path), strict=True):
            made[index] = _outcome(action, answer)
    ids = {a.key: existing[a.key] for _, a in items if a.key in existing}
    ids |= {r.action.key: r.crm_id for r in made.values() if r.crm_id and not r.rejected}
    roles = _add_contact_roles(client, [a.spec for _, a in items if a.key in ids], ids)
    for i, action in items:
        if i in made:
            out.append((i, _with_role(made[i], roles.get(action.key))))
        elif action.key in existing:
            result = ActionResult(action=action, outcome=Outcome.UNCHANGED, crm_id=existing[action.key],
                                  message="an Opportunity with this key already exists")
            out.append((i, _with_role(result, roles.get(action.key))))
    return out


def _record(spec: DealSpec, fieldmap: FieldMap, field: str) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": {"type": "Opportunity"}, field: spec.key, "Name": spec.name,
                              "StageName": spec.stage, "CloseDate": spec.close_date.isoformat()}
    if spec.pipeline is not None:
        raise Refused("NO_PIPELINES", "Salesforce Opportunities have no pipeline: remove `pipeline` from "
                                      "create_renewal_deal")
    if spec.company_id:
        record["AccountId"] = spec.company_id
    if spec.owner_id:
        record["OwnerId"] = spec.owner_id  # absent: Salesforce assigns the integration user
    if spec.amount:
        record["Amount"] = writes.typed_value(_AMOUNT, spec.amount)
    for canonical, value in spec.fields.items():
        mapped = fieldmap.fields.get(canonical)
        if mapped is None:
            raise Refused("UNMAPPED_FIELD", f"fields.{canonical} is not in the mapping ({fieldmap.source})")
        record[mapped.crm_name] = writes.typed_value(mapped, value)
    return record


def _add_contact_roles(client: SalesforceClient, specs: list[DealSpec], ids: dict[str, str]) -> dict[str, str]:
    """Key -> a problem, for the Opportunities whose contact role could not be added."""
    wanted = {ids[s.key]: (s.key, s.contact_id) for s in specs if s.contact_id}
    if not wanted:
        return {}
    have: set[tuple[str, str]] = set()
    for chunk in soql.in_list_chunks(sorted(wanted)):
        query = ("SELECT OpportunityId, ContactId FROM OpportunityContactRole WHERE "
                 f"{format_soql('OpportunityId IN {}', chunk)}")
        have |= {(r["OpportunityId"], r["ContactId"]) for r in _all(client, query)}
    missing = [(opp, key, contact) for opp, (key, contact) in sorted(wanted.items())
               if contact and (opp, contact) not in have]
    problems: dict[str, str] = {}
    for start in range(0, len(missing), writes.COLLECTION_MAX):
        roles = missing[start:start + writes.COLLECTION_MAX]
        records = [{"attributes": {"type": "OpportunityContactRole"}, "OpportunityId": opp, "ContactId": contact,
                    "IsPrimary": True} for opp, _, contact in roles]
        reply = client.restful("composite/sobjects:create", "composite/sobjects", method="POST",
                               json={"allOrNone": False, "records": records})
        for (_, key, contact), result in zip(roles, writes.check_reply(reply, len(roles), "composite/sobjects"),
                                             strict=True):
            if not result.get("success"):
                errors = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in result.get("errors") or [])
                problems[key] = f"its contact role for contact {contact} was refused ({errors}); tried again next run"
    return problems


def _with_role(result: ActionResult, problem: str | None) -> ActionResult:
    """A refused contact role leaves the Opportunity made but the action rejected (with its id):
    the ledger records nothing, so the next run finds the Opportunity by key and adds the role."""
    if problem is None:
        return result
    return ActionResult(action=result.action, outcome=Outcome.REJECTED, crm_id=result.crm_id,
                        message=f"the Opportunity was made, but {problem}", error_code="CONTACT_ROLE_REFUSED")


def _outcome(action: CreateDeal, result: Mapping[str, Any]) -> ActionResult:
    if not result.get("success"):
        return writes.outcome_of(writes.Pending(0, action, {}), result)
    if result.get("created") is False:
        return ActionResult(action=action, outcome=Outcome.CREATED, crm_id=result.get("id"),
                            message="made by an earlier attempt whose answer was lost")
    return ActionResult(action=action, outcome=Outcome.CREATED, crm_id=result.get("id"))


def _refused(action: CreateDeal, refused: Refused) -> ActionResult:
    return ActionResult(action=action, outcome=Outcome.REJECTED, message=str(refused), error_code=refused.code)


def _all(client: SalesforceClient, query: str) -> list[dict[str, Any]]:
    page = client.query(query)
    records = list(page.get("records") or [])
    while not page.get("done", True) and page.get("nextRecordsUrl"):
        page = client.query_more(page["nextRecordsUrl"])
        records += page.get("records") or []
    return records


def target_problems(client: SalesforceClient, targets: Sequence[tuple[str | None, str]]) -> list[str]:
    """Stage names a renewal Opportunity cannot be created in (inactive, unknown or closed), and
    any pipeline (Salesforce has none)."""
    stages = {r["MasterLabel"]: r for r in _all(client, "SELECT MasterLabel, IsActive, IsClosed FROM OpportunityStage")}
    problems = []
    for pipeline, stage in dict.fromkeys(targets):
        row = stages.get(stage)
        if pipeline is not None:
            problems.append(f"pipeline {pipeline!r}: Salesforce Opportunities have no pipeline; remove it")
        elif row is None or not row.get("IsActive"):
            active = ", ".join(name for name, r in stages.items() if r.get("IsActive") and not r.get("IsClosed"))
            problems.append(f"no active Opportunity stage {stage!r} (open stages: {active})")
        elif row.get("IsClosed"):
            problems.append(f"stage {stage!r} is a closed stage: a renewal Opportunity is created open")
    return problems


_AMOUNT = FieldSpec(canonical="amount", record=RecordKind.DEAL, crm_name="Amount", type=FieldType.NUMBER)
"""Opportunity.Amount, a currency: written as a JSON number."""
