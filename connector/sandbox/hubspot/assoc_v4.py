"""``/crm/v4/associations/{from}/{to}/batch/...``: read (<= 1000 inputs, per-input paging), create,
default associate, archive.

- batch read: "may not exceed 1000 IDs per request body", each input ``{id, after}``
  [DOC: https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api];
  reply ``results[{from: {id}, to: [{toObjectId, associationTypes: [{category, typeId, label}]}], paging}]``
  (SDK ``PublicAssociationMultiWithLabel``); 200, or 207 with errors for ids that have none. With
  ``association_read_lag`` a read does not show associations younger than the lag (assoc_store.py).
- batch create -> 201 ``LabelsBetweenObjectPair`` (207 with errors); default -> 200 (SDK response map).
"""

from __future__ import annotations

import base64

from connector.sandbox.hubspot import association_types as at
from connector.sandbox.hubspot import batch, timefmt
from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.errors import InputError, standard_error, validation_error
from connector.sandbox.hubspot.objects import link
from connector.sandbox.hubspot.schema import ObjectType

READ_LIMIT = 1_000
PAGE_SIZE = 500
"""Targets per input per page [UNVERIFIED size; HubSpot pages long association lists with ``after``]."""


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"sandbox-{offset}".encode()).decode()


def _offset(after: object) -> int:
    if after in (None, ""):
        return 0
    try:
        text = base64.urlsafe_b64decode(str(after).encode()).decode()
        return int(text.removeprefix("sandbox-"))
    except (ValueError, UnicodeDecodeError):
        raise validation_error(f"after {after!r} is not a paging cursor this API returned") from None


def _require_pair(from_kind: ObjectType, to_kind: ObjectType) -> None:
    if (from_kind.name, to_kind.name) not in at.TYPES:
        raise validation_error(f"{from_kind.name} cannot be associated with {to_kind.name} in this portal")


def read(b: Backend, from_kind: ObjectType, to_kind: ObjectType, body: object) -> tuple[int, dict]:
    _require_pair(from_kind, to_kind)
    inputs = batch.inputs_of(body, limit=READ_LIMIT)
    results, errors = [], []
    for item in inputs:
        from_id = str(item.get("id"))
        rec = b.store.get(from_kind.name, from_id)
        # Reads see associations as they were association_read_lag seconds ago (assoc_store.py).
        found = b.store.associations(from_kind.name, rec.id, to_kind.name, as_read=True) if rec else {}
        if not found:
            # [UNVERIFIED shape] HubSpot reports an id without associations as a per-input error.
            errors.append(standard_error(f"No {to_kind.singular} is associated with {from_kind.singular} {from_id}.",
                                         "OBJECT_NOT_FOUND", context={"fromObjectId": [from_id]},
                                         sub_category="crm.associations.NO_ASSOCIATIONS_FOUND"))
            continue
        start = _offset(item.get("after"))
        targets = list(found.items())
        page = targets[start:start + PAGE_SIZE]
        result = {"from": {"id": from_id},
                  "to": [{"toObjectId": to_id,  # a JSON number, as HubSpot sends it; the SDK types it str
                          "associationTypes": [at.describe(from_kind.name, to_kind.name, k) for k in keys]}
                         for to_id, keys in page]}
        if start + PAGE_SIZE < len(targets):
            # ``link`` is optional in ``NextPage`` [SPEC]: leave it out rather than send null.
            result["paging"] = {"next": {"after": _cursor(start + PAGE_SIZE)}}
        results.append(result)
    out = batch.completed(results, timefmt.now_ms())
    if errors:
        out["numErrors"], out["errors"] = len(errors), errors
        return 207, out
    return 200, out


def _endpoints(b: Backend, from_kind: ObjectType, to_kind: ObjectType, item: dict) -> tuple[int, int]:
    from_id, to_id = (item.get("from") or {}).get("id"), (item.get("to") or {}).get("id")
    src, dst = b.store.get(from_kind.name, str(from_id)), b.store.get(to_kind.name, str(to_id))
    if src is None or dst is None:
        missing = f"{from_kind.singular} {from_id}" if src is None else f"{to_kind.singular} {to_id}"
        raise InputError(f"{missing} does not exist", category="OBJECT_NOT_FOUND",
                         context={"fromObjectId": [str(from_id)], "toObjectId": [str(to_id)]})
    for type_name, rec in ((from_kind.name, src), (to_kind.name, dst)):
        message = b.rejected.get((type_name, rec.id))
        if message:
            raise InputError(message, context={"id": [str(rec.id)]})
    return src.id, dst.id


def create(b: Backend, from_kind: ObjectType, to_kind: ObjectType, body: object) -> tuple[int, dict]:
    _require_pair(from_kind, to_kind)
    inputs = batch.inputs_of(body)

    def prepare(_: int, item: dict):
        src, dst = _endpoints(b, from_kind, to_kind, item)
        specs = item.get("types")
        if not isinstance(specs, list) or not specs:
            raise InputError("types must be a non-empty list of {associationCategory, associationTypeId}")
        kinds = [at.lookup(from_kind.name, to_kind.name, s.get("associationCategory"), s.get("associationTypeId"))
                 if isinstance(s, dict) else None for s in specs]
        if None in kinds:
            raise InputError(f"invalid association type for {from_kind.name} -> {to_kind.name}: {specs}",
                             context={"types": [str(specs)]})
        return src, dst, kinds

    def apply(plan) -> dict:
        src, dst, kinds = plan
        for kind in kinds:
            link(b, from_kind.name, src, to_kind.name, dst, kind)
        labels = [at.describe(from_kind.name, to_kind.name, key)["label"]
                  for key in b.store.associations(from_kind.name, src, to_kind.name).get(dst, {})]
        return {"fromObjectTypeId": from_kind.type_id, "fromObjectId": src, "toObjectTypeId": to_kind.type_id,
                "toObjectId": dst, "labels": [label for label in labels if label]}

    return batch.run(inputs, prepare, apply, ok_status=201, partial=True)


def create_default(b: Backend, from_kind: ObjectType, to_kind: ObjectType, body: object) -> tuple[int, dict]:
    _require_pair(from_kind, to_kind)
    default = at.DEFAULT_TYPE[(from_kind.name, to_kind.name)]

    def prepare(_: int, item: dict):
        return _endpoints(b, from_kind, to_kind, item)

    def apply(plan) -> dict:
        src, dst = plan
        link(b, from_kind.name, src, to_kind.name, dst, default)
        return {"from": {"id": str(src)}, "to": {"id": str(dst)},
                "associationSpec": {"associationCategory": default.category,
                                    "associationTypeId": default.type_id}}

    _, out = batch.run(batch.inputs_of(body), prepare, apply, ok_status=200, partial=True)
    return 200, out  # the SDK only deserializes 200 here; errors ride in the body


def archive(b: Backend, from_kind: ObjectType, to_kind: ObjectType, body: object) -> tuple[int, None]:
    _require_pair(from_kind, to_kind)
    for item in batch.inputs_of(body):
        from_id = (item.get("from") or {}).get("id")
        for target in item.get("to") or []:
            try:
                b.store.dissociate(from_kind.name, int(from_id), to_kind.name, int(target.get("id")))
            except (TypeError, ValueError, AttributeError):
                raise validation_error("archive inputs need from.id and to[].id") from None
    return 204, None
