"""``/crm/v3/objects/{type}``: single-record routes, list, and batch read/create/update/upsert/archive.

Status codes are the ones the SDK deserializes (facts §2 table; spec
HubSpot/HubSpot-public-api-spec-collection PublicApiSpecs/CRM/Tasks/Rollouts/424/v3/tasks.json):
create 201, batch create 201|207, read/update/upsert 200|207, archive 204.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connector.sandbox.hubspot import association_types as at
from connector.sandbox.hubspot import batch, timefmt
from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.errors import ApiError, InputError, detail, not_found, standard_error, validation_error
from connector.sandbox.hubspot.schema import ObjectType, Stored, object_type
from connector.sandbox.hubspot.shapes import query_bool, query_list, record_json, wanted_properties
from connector.sandbox.hubspot.store import Record
from connector.sandbox.hubspot.validation import check_properties, reserve

LIST_LIMIT_MAX = 100  # GET /crm/v3/objects/{type}: "The maximum number of results to display per page."


@dataclass
class CreatePlan:
    values: dict[str, Stored | None]
    links: list[tuple[str, int, at.AssocType]]
    trace_id: str | None


@dataclass
class UpdatePlan:
    record: Record
    values: dict[str, Stored | None]
    trace_id: str | None


# --- helpers ----------------------------------------------------------------------------------

def _refuse_rejected(b: Backend, type_name: str, record_id: int) -> None:
    message = b.rejected.get((type_name, record_id))
    if message:
        raise InputError(message, errors=[detail(message, "RECORD_REJECTED", id=[str(record_id)])])


def _inline_associations(b: Backend, kind: ObjectType, raw: object) -> list[tuple[str, int, at.AssocType]]:
    """``associations: [{to: {id}, types: [{associationCategory, associationTypeId}]}]`` on create."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError("associations must be a list")
    links = []
    for entry in raw:
        to_id = (entry.get("to") or {}).get("id") if isinstance(entry, dict) else None
        types = entry.get("types") if isinstance(entry, dict) else None
        if to_id is None or not isinstance(types, list) or not types:
            raise InputError("each association needs to.id and a non-empty types list")
        for spec in types:
            links.append(_resolve_link(b, kind.name, str(to_id), spec))
    return links


def _resolve_link(b: Backend, from_type: str, to_id: str, spec: object) -> tuple[str, int, at.AssocType]:
    spec = spec if isinstance(spec, dict) else {}
    category, type_id = spec.get("associationCategory"), spec.get("associationTypeId")
    for (src, dst), kinds in at.TYPES.items():
        if src == from_type and (str(category), _int(type_id)) in kinds:
            target = b.store.get(dst, to_id)
            if target is None:
                raise InputError(f"{dst[:-1]} {to_id} does not exist; cannot associate to it",
                                 errors=[detail(f"{dst} {to_id} not found", "INVALID_ASSOCIATION_TARGET",
                                                toObjectId=[to_id])])
            _refuse_rejected(b, dst, target.id)
            return dst, target.id, kinds[(str(category), _int(type_id))]
    raise InputError(f"{category} association type {type_id} is not valid from {from_type}",
                     errors=[detail("invalid association type", "INVALID_ASSOCIATION_TYPE",
                                    associationTypeId=[str(type_id)])])


def _int(value: object) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def link(b: Backend, from_type: str, from_id: int, to_type: str, to_id: int, kind: at.AssocType) -> None:
    """Associate, adding the unlabeled default alongside a label as HubSpot does."""
    b.store.associate(from_type, from_id, to_type, to_id, kind.key, (kind.category, kind.inverse))
    default = at.DEFAULT_TYPE[(from_type, to_type)]
    if kind.key != default.key:
        b.store.associate(from_type, from_id, to_type, to_id, default.key, (default.category, default.inverse))


def _apply_create(b: Backend, kind: ObjectType, plan: CreatePlan) -> Record:
    rec = b.store.insert(kind.name, plan.values, created_ms=timefmt.now_ms())
    for to_type, to_id, assoc_kind in plan.links:
        link(b, kind.name, rec.id, to_type, to_id, assoc_kind)
    return rec


# --- finding a record by id or by a unique property (idProperty) --------------------------------
# What each use may look a record up by:
# - any property with unique values (hasUniqueValue), for every use [SPEC idProperty: "The name of a
#   property whose values are unique for this object type"];
# - a contact's email, for reads and single updates: ``GET/PATCH /crm/v3/objects/contacts/{email}?idProperty=email``
#   [SPEC contacts PATCH: "identified by ID or email/unique property value"; 2ND
#   https://github.com/HubSpot/hubspot-api-nodejs/issues/182] and batch read [2ND
#   https://github.com/HubSpot/hubspot-api-python/issues/50], matched without case (emails are held
#   lower-cased). Batch update and upsert by email are refused: "Unable to perform update/upsert by
#   non-unique 0-1 property" [2ND https://github.com/HubSpot/hubspot-api-nodejs/issues/548];
# - anything else is refused with 400 VALIDATION_ERROR: HubSpot's message for update/upsert
#   [2ND https://github.com/segmentio/action-destinations/pull/3957]; for reads no source says what
#   HubSpot does, so the sandbox refuses too (stricter reading).
READ, UPDATE_ONE, BATCH_WRITE = "read", "single update", "batch update/upsert"
_EMAIL_USES = frozenset({READ, UPDATE_ONE})


def _find(b: Backend, kind: ObjectType, key: str, id_property: str | None, *, use: str,
          archived: bool = False) -> Record | None:
    if id_property:
        require_lookup(b, kind, id_property, use)
        rec = b.store.by_unique(kind.name, id_property, lookup_value(kind, id_property, key))
        return rec if rec is not None and rec.archived == archived else None
    return b.store.get(kind.name, key, archived=archived)


def lookup_value(kind: ObjectType, id_property: str, key: str) -> str:
    return key.lower() if _is_email(kind, id_property) else key


def _is_email(kind: ObjectType, id_property: str) -> bool:
    return kind.name == "contacts" and id_property == "email"


def require_lookup(b: Backend, kind: ObjectType, id_property: str, use: str) -> None:
    prop = b.store.schema[kind.name].get(id_property)
    if prop is not None and not prop.archived and prop.has_unique_value:
        return
    if _is_email(kind, id_property) and use in _EMAIL_USES:
        return
    if use == READ:
        raise validation_error(f"Unable to read by non-unique {kind.type_id} property {id_property}: idProperty must "
                               "name a property with unique values (hasUniqueValue)", propertyName=[id_property])
    raise validation_error(f"Unable to perform update/upsert by non-unique {kind.type_id} property {id_property} "
                           f"in portal ID {b.portal.portal_id}", propertyName=[id_property])


def _history_names(kind: ObjectType, b: Backend, asked: list[str] | None) -> list[str] | None:
    """``propertiesWithHistory``: the asked names that exist ("If any of the specified properties
    are not present ... they will be ignored" [SPEC])."""
    if not asked:
        return None
    schema = b.store.schema[kind.name]
    return [n for n in asked if n in schema and not schema[n].archived]


HISTORY_LIMIT = 50
"""Records per request when ``propertiesWithHistory`` is asked: the spec says only that it "will
reduce the maximum number" of records a request reads; 50 per page is what integrations use
[2ND https://github.com/dlt-hub/verified-sources/pull/206; a larger page was refused,
https://github.com/HubSpot/hubspot-api-python/issues/143]."""


# --- single-record routes ---------------------------------------------------------------------

def create_one(b: Backend, kind: ObjectType, body: dict) -> tuple[int, dict]:
    try:
        values = check_properties(b, kind, (body or {}).get("properties", {}), existing=None)
        plan = CreatePlan(values, _inline_associations(b, kind, (body or {}).get("associations")), None)
    except InputError as problem:
        raise problem.as_api_error() from None
    return 201, record_json(kind, _apply_create(b, kind, plan), None, everything=True)


def get_one(b: Backend, kind: ObjectType, key: str, query) -> tuple[int, dict]:
    rec = _find(b, kind, key, query.get("idProperty"), use=READ, archived=query_bool(query, "archived"))
    if rec is None:
        raise not_found("Object not found.  objectId are usually numeric.")
    names = wanted_properties(kind, query_list(query, "properties"), b.store.schema[kind.name])
    out = record_json(kind, rec, names, history=_history_names(kind, b, query_list(query, "propertiesWithHistory")))
    assoc_types = query_list(query, "associations")
    if assoc_types:
        out["associations"] = associations_block(b, kind, rec, assoc_types)
    return 200, out


def associations_block(b: Backend, kind: ObjectType, rec: Record, to_types: list[str]) -> dict:
    """v3 ``associations`` on a read: ``{contacts: {results: [{id, type}]}}``."""
    block = {}
    for segment in to_types:
        to_kind = object_type(segment)
        if to_kind is None:
            continue
        found = b.store.associations(kind.name, rec.id, to_kind.name, as_read=True)
        results = [{"id": str(to_id), "type": f"{kind.singular}_to_{to_kind.singular}"} for to_id in found]
        if results:
            block[to_kind.name] = {"results": results}
    return block


def update_one(b: Backend, kind: ObjectType, key: str, body: dict, query) -> tuple[int, dict]:
    rec = _find(b, kind, key, query.get("idProperty"), use=UPDATE_ONE)
    if rec is None:
        raise not_found("Object not found.  objectId are usually numeric.")
    try:
        _refuse_rejected(b, kind.name, rec.id)
        values = check_properties(b, kind, (body or {}).get("properties", {}), existing=rec)
    except InputError as problem:
        raise problem.as_api_error() from None
    b.store.update(kind.name, rec, values, now_ms=timefmt.now_ms())
    return 200, record_json(kind, rec, None, everything=True)


def archive_one(b: Backend, kind: ObjectType, key: str) -> tuple[int, None]:
    rec = b.store.get(kind.name, key)
    if rec is not None:
        b.store.archive(kind.name, rec, now_ms=timefmt.now_ms())
    return 204, None  # HubSpot answers 204 whether or not the id existed [UNVERIFIED; idempotent delete]


def list_page(b: Backend, kind: ObjectType, query) -> tuple[int, dict]:
    limit = _int(query.get("limit", "10"))
    if limit is None or not 1 <= limit <= LIST_LIMIT_MAX:
        raise validation_error(f"limit must be between 1 and {LIST_LIMIT_MAX}")
    after = _int(query.get("after", "0"))
    if after is None:
        raise validation_error(f"after {query.get('after')!r} is not a valid paging cursor")
    archived = query_bool(query, "archived")
    names = wanted_properties(kind, query_list(query, "properties"), b.store.schema[kind.name])
    history = _history_names(kind, b, query_list(query, "propertiesWithHistory"))
    if query_list(query, "propertiesWithHistory") and limit > HISTORY_LIMIT:
        raise validation_error(f"limit must be at most {HISTORY_LIMIT} when propertiesWithHistory is requested, "
                               f"got {limit}")
    assoc_types = query_list(query, "associations")
    # Records are kept in id order; ``after`` is the id to start from (an opaque cursor to clients).
    page, next_id = [], None
    for rec in b.store.types[kind.name].records.values():
        if rec.id < after or rec.archived != archived:
            continue
        if len(page) == limit:
            next_id = rec.id
            break
        page.append(rec)
    results = []
    for rec in page:
        item = record_json(kind, rec, names, history=history)
        if assoc_types:
            item["associations"] = associations_block(b, kind, rec, assoc_types)
        results.append(item)
    body: dict = {"results": results}
    if next_id is not None:
        body["paging"] = {"next": {"after": str(next_id), "link": f"?after={next_id}"}}
    return 200, body


# --- batch routes -----------------------------------------------------------------------------

def batch_create(b: Backend, kind: ObjectType, body: dict) -> tuple[int, dict]:
    inputs = batch.inputs_of(body)
    reserved: dict = {}

    def prepare(index: int, item: dict) -> CreatePlan:
        values = check_properties(b, kind, item.get("properties", {}), existing=None, reserved=reserved)
        links = _inline_associations(b, kind, item.get("associations"))
        reserve(values, b, kind, reserved, index)
        return CreatePlan(values, links, item.get("objectWriteTraceId"))

    def apply(plan: CreatePlan) -> dict:
        return record_json(kind, _apply_create(b, kind, plan), None, everything=True, trace_id=plan.trace_id)

    return batch.run(inputs, prepare, apply, ok_status=201)


def batch_update(b: Backend, kind: ObjectType, body: dict) -> tuple[int, dict]:
    inputs = batch.inputs_of(body)
    reserved: dict = {}
    seen: set[int] = set()

    def prepare(index: int, item: dict) -> UpdatePlan:
        rec = _find(b, kind, str(item.get("id")), item.get("idProperty"), use=BATCH_WRITE)
        if rec is None:
            raise InputError(f"Object {item.get('id')} not found", category="OBJECT_NOT_FOUND",
                             context={"ids": [str(item.get("id"))]})
        if rec.id in seen:
            raise InputError(f"Duplicate id {rec.id} in batch input", context={"ids": [str(rec.id)]})
        seen.add(rec.id)
        _refuse_rejected(b, kind.name, rec.id)
        values = check_properties(b, kind, item.get("properties", {}), existing=rec, reserved=reserved)
        reserve(values, b, kind, reserved, index)
        return UpdatePlan(rec, values, item.get("objectWriteTraceId"))

    def apply(plan: UpdatePlan) -> dict:
        b.store.update(kind.name, plan.record, plan.values, now_ms=timefmt.now_ms())
        return record_json(kind, plan.record, None, everything=True, trace_id=plan.trace_id)

    return batch.run(inputs, prepare, apply, ok_status=200)


def batch_upsert(b: Backend, kind: ObjectType, body: dict) -> tuple[int, dict]:
    """Create or update by a unique property: "Tasks that don't exist will be created, while existing
    tasks will be updated" [DOC: https://developers.hubspot.com/docs/api-reference/latest/crm/activities/tasks/batch/upsert-tasks].
    Each input needs ``idProperty`` naming a hasUniqueValue property and ``id`` = its value; two inputs
    for the same value fail the batch [2ND: https://github.com/segmentio/action-destinations/pull/3969].
    Replies carry ``new`` (SDK ``SimplePublicUpsertObject``)."""
    inputs = batch.inputs_of(body)
    keys = [(i.get("idProperty"), str(i.get("id"))) for i in inputs]
    if len(set(keys)) != len(keys):
        raise validation_error("Duplicate id values found in batch upsert inputs; each record may appear once")
    for id_property, _ in keys:
        if not id_property:
            raise validation_error("idProperty is required for batch upsert inputs")
        require_lookup(b, kind, id_property, BATCH_WRITE)

    def prepare(index: int, item: dict):
        id_property, key = item["idProperty"], str(item.get("id"))
        rec = b.store.by_unique(kind.name, id_property, key)
        raw = dict(item.get("properties") or {})
        if rec is None:
            raw[id_property] = key
            return CreatePlan(check_properties(b, kind, raw, existing=None), [], item.get("objectWriteTraceId"))
        _refuse_rejected(b, kind.name, rec.id)
        return UpdatePlan(rec, check_properties(b, kind, raw, existing=rec), item.get("objectWriteTraceId"))

    def apply(plan) -> dict:
        if isinstance(plan, CreatePlan):
            rec = _apply_create(b, kind, plan)
            return record_json(kind, rec, None, everything=True, trace_id=plan.trace_id, new=True)
        b.store.update(kind.name, plan.record, plan.values, now_ms=timefmt.now_ms())
        return record_json(kind, plan.record, None, everything=True, trace_id=plan.trace_id, new=False)

    return batch.run(inputs, prepare, apply, ok_status=200)


def batch_read(b: Backend, kind: ObjectType, body: dict, query) -> tuple[int, dict]:
    """Batch read sees writes at once (unlike search). Missing ids come back as a 207 error
    OBJECT_NOT_FOUND with ``context.ids`` (whatever the trace ids: reads have none)."""
    inputs = batch.inputs_of(body)
    id_property = body.get("idProperty") or None
    if id_property:
        require_lookup(b, kind, id_property, READ)
    archived = query_bool(query, "archived")
    names = wanted_properties(kind, body.get("properties") or None, b.store.schema[kind.name])
    history = _history_names(kind, b, body.get("propertiesWithHistory") or None)
    if body.get("propertiesWithHistory") and len(inputs) > HISTORY_LIMIT:
        raise validation_error(f"At most {HISTORY_LIMIT} inputs can be read with propertiesWithHistory, "
                               f"got {len(inputs)}")
    started = timefmt.now_ms()
    results, missing, returned = [], [], set()
    for item in inputs:
        rec = _find(b, kind, str(item.get("id")), id_property, use=READ, archived=archived)
        if rec is None:
            missing.append(str(item.get("id")))
        elif rec.id not in returned:
            returned.add(rec.id)
            results.append(record_json(kind, rec, names, history=history))
    out = batch.completed(results, started)
    if not missing:
        return 200, out
    out["numErrors"] = 1
    out["errors"] = [standard_error(f"Could not get some {kind.singular} objects, they may be deleted or not "
                                    "exist. Check that ids are valid.", "OBJECT_NOT_FOUND", context={"ids": missing})]
    return 207, out


def batch_archive(b: Backend, kind: ObjectType, body: dict) -> tuple[int, None]:
    for item in batch.inputs_of(body):
        rec = b.store.get(kind.name, str(item.get("id")))
        if rec is not None:
            b.store.archive(kind.name, rec, now_ms=timefmt.now_ms())
    return 204, None


# HubSpot object types the sandbox does not model (the CRM's standard objects beyond deals, contacts,
# companies and tasks; "2-N" is a custom object's id) [DOC https://developers.hubspot.com/docs/api/crm/
# understanding-the-crm, "Object type IDs"]. A path naming one says so instead of HubSpot's answer
# for a name that is no object type at all (docs/hubspot-api-notes.md, "Not modelled").
NOT_MODELLED_TYPES = frozenset({"tickets", "products", "line_items", "quotes", "notes", "calls", "emails",
                                "meetings", "communications", "leads", "invoices"})


def unknown_object_type(segment: str) -> ApiError:
    lowered = segment.lower()
    if lowered in NOT_MODELLED_TYPES or re.fullmatch(r"[02]-\d+", lowered):
        return ApiError(400, f"object type {segment} is not supported by this sandbox (it serves deals, contacts, "
                             "companies and tasks)", "VALIDATION_ERROR")
    return ApiError(400, f"Unable to infer object type from: {segment}", "VALIDATION_ERROR")
