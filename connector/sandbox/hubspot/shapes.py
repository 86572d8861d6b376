"""How a record looks in a reply (SDK ``SimplePublicObject``: id, properties, createdAt, updatedAt,
archived; values always strings, ids strings, ISO ``Z`` times; facts §2)."""

from __future__ import annotations

from collections.abc import Iterable

from connector.sandbox.hubspot import timefmt
from connector.sandbox.hubspot.schema import ObjectType
from connector.sandbox.hubspot.store import Record, View


def wanted_properties(kind: ObjectType, asked: Iterable[str] | None, schema: dict) -> list[str] | None:
    """Properties to return: those asked for that exist, plus the three system ones; None = defaults."""
    if asked is None:
        return None
    names = [n for n in asked if n in schema]
    for system in ("hs_object_id", kind.created_prop, kind.modified_prop):
        if system not in names:
            names.append(system)
    return names


def pick(props: dict[str, str], names: list[str]) -> dict[str, str | None]:
    return {n: props.get(n) for n in names}


def record_json(kind: ObjectType, rec: Record, names: list[str] | None, *, everything: bool = False,
                trace_id: str | None = None, new: bool | None = None, history: list[str] | None = None) -> dict:
    if everything:
        props = dict(rec.props)
    else:
        props = pick(rec.props, names if names is not None else list(kind.defaults))
    out = {"id": str(rec.id), "properties": props, "createdAt": timefmt.iso_from_ms(rec.created_ms),
           "updatedAt": timefmt.iso_from_ms(rec.updated_ms), "archived": rec.archived}
    if rec.archived and rec.archived_ms is not None:
        out["archivedAt"] = timefmt.iso_from_ms(rec.archived_ms)
    if trace_id:
        out["objectWriteTraceId"] = trace_id
    if new is not None:
        out["new"] = new
    if history is not None:
        out["propertiesWithHistory"] = {name: [_version(entry) for entry in rec.history_of(name)] for name in history}
    return out


def _version(entry: tuple[str, int, str]) -> dict:
    """One ``ValueWithTimestamp``: value, timestamp and sourceType are required [SPEC]; source types
    API (a private app's write), CRM_UI (a user's edit), IMPORT (data already in the portal) as
    seen in replies [2ND https://github.com/HubSpot/hubspot-api-nodejs/issues/154; the Airbyte HubSpot
    source's property-history schema]. Newest first [UNVERIFIED order]."""
    value, at_ms, source = entry
    return {"value": value, "timestamp": timefmt.iso_from_ms(at_ms), "sourceType": source}


def view_json(kind: ObjectType, rec: Record, view: View, names: list[str] | None) -> dict:
    """A search hit shows the state search has indexed, which may be older than the record."""
    props = pick(view.props, names if names is not None else list(kind.defaults))
    return {"id": str(rec.id), "properties": props, "createdAt": timefmt.iso_from_ms(view.created_ms),
            "updatedAt": timefmt.iso_from_ms(view.updated_ms), "archived": False}


def query_list(query, name: str) -> list[str] | None:
    """``properties=a&properties=b`` (the SDK) or ``properties=a,b`` (the docs) -> [a, b]."""
    raw = query.getlist(name)
    if not raw:
        return None
    return [part.strip() for item in raw for part in item.split(",") if part.strip()]


def query_bool(query, name: str) -> bool:
    return str(query.get(name, "false")).lower() == "true"
