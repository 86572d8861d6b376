"""``POST /crm/v3/objects/{type}/search``
[DOC: https://developers.hubspot.com/docs/api-reference/search/guide.md; facts §3].

- filters in a group AND, groups OR; at most 5 groups, 6 filters per group, 18 filters in all
  (the guide's numbers: the stricter of the guide and the 2024 changelog's 5/10/25);
- one sort rule; default order is creation order ascending;
- ``limit`` default 10, at most 200; ``after`` is an offset as a string; ``paging`` absent on the
  last page; ``total`` counts every match;
- a page that reaches past result 10,000 answers 400 (facts §3 "paging beyond -> 400"; the
  sandbox refuses when ``after + limit > 10000``: the stricter reading);
- datetime values in epoch ms (ISO accepted), compared as numbers like number properties;
- enumeration values compare case-sensitively; IN on string properties needs lower-case values
  (facts §3); EQ on a string property ignores case;
- archived records are never found, and writes become visible only after ``search_lag``.

Ties in the sort order are broken by a fixed scramble of the record id, not by id: HubSpot
does not promise an order among equal values, so an adapter must break ties itself
(facts §6, estuary/connectors#2121).
"""

from __future__ import annotations

import bisect
import collections
import fnmatch
import json
import re
from collections.abc import Callable

from connector.sandbox.hubspot import timefmt
from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.errors import validation_error
from connector.sandbox.hubspot.schema import ObjectType, PropertyDef
from connector.sandbox.hubspot.shapes import view_json, wanted_properties
from connector.sandbox.hubspot.store import View, scramble

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_LIMIT, DEFAULT_LIMIT, RESULT_CAP, MAX_QUERY_CHARS = 200, 10, 10_000, 3_000
OPERATORS = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
                       "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"})
Predicate = Callable[[View], bool]
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


class SearchCache:
    """Sorted matches per (query, index version): paging a query costs one scan, not one per page."""

    def __init__(self, size: int = 64):
        self._entries: collections.OrderedDict[tuple, list[int]] = collections.OrderedDict()
        self._size = size

    def get(self, key: tuple, compute: Callable[[], list[int]]) -> list[int]:
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        value = self._entries[key] = compute()
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value


def search(b: Backend, cache: SearchCache, kind: ObjectType, body: object) -> tuple[int, dict]:
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: the search request must be an object")
    schema = b.store.schema[kind.name]
    limit, after = _paging(body)
    predicate = _compile_groups(body.get("filterGroups") or [], schema)
    sort = _sort_rule(body.get("sorts") or [], schema)
    text = _query(body.get("query"))
    names = wanted_properties(kind, body.get("properties") or None, schema)
    b.store.catch_up_search()
    version = b.store.types[kind.name].search_version
    key = (kind.name, version, json.dumps([body.get("filterGroups"), body.get("sorts"), text], sort_keys=True))
    floor = _modified_floor(body.get("filterGroups") or [], schema, kind) if not text else None
    ids = cache.get(key, lambda: _matches(b, kind, predicate, sort, text, floor))
    records = b.store.types[kind.name].records
    page = [records[i] for i in ids[after:after + limit]]
    out: dict = {"total": len(ids), "results": [view_json(kind, r, r.view, names) for r in page]}
    if after + limit < len(ids):
        out["paging"] = {"next": {"after": str(after + limit)}}
    return 200, out


def _paging(body: dict) -> tuple[int, int]:
    limit = body.get("limit", DEFAULT_LIMIT)
    if limit is None:
        limit = DEFAULT_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_LIMIT:
        raise validation_error(f"limit must be an integer between 0 and {MAX_LIMIT}, got {limit!r}")
    raw_after = body.get("after") or "0"
    if not str(raw_after).isdigit():
        raise validation_error(f"after {raw_after!r} is not a valid paging cursor (an offset as a string)")
    after = int(raw_after)
    if after + limit > RESULT_CAP:
        raise validation_error(
            f"The search API returns at most {RESULT_CAP} results per query; after={after} with limit={limit} "
            "reaches past it. Narrow the query (e.g. by hs_lastmodifieddate) and start again.")
    return limit, after


def _query(raw: object) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, str) or len(raw) > MAX_QUERY_CHARS:
        raise validation_error(f"query must be a string of at most {MAX_QUERY_CHARS} characters")
    return [t.lower() for t in _TOKEN.findall(raw)]


def _compile_groups(groups: object, schema: dict[str, PropertyDef]) -> Predicate | None:
    if not isinstance(groups, list):
        raise validation_error("filterGroups must be a list")
    if len(groups) > MAX_GROUPS:
        raise validation_error(f"Too many filter groups: {len(groups)} (at most {MAX_GROUPS})")
    compiled, total = [], 0
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or not filters:
            raise validation_error("each filter group needs a non-empty filters list")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(f"Too many filters in a group: {len(filters)} (at most {MAX_FILTERS_PER_GROUP})")
        total += len(filters)
        compiled.append([_compile_filter(f, schema) for f in filters])
    if total > MAX_FILTERS:
        raise validation_error(f"Too many filters: {total} in all (at most {MAX_FILTERS})")
    if not compiled:
        return None
    return lambda view: any(all(p(view) for p in group) for group in compiled)


def _compile_filter(spec: object, schema: dict[str, PropertyDef]) -> Predicate:
    if not isinstance(spec, dict):
        raise validation_error("each filter must be an object")
    name, operator = spec.get("propertyName"), spec.get("operator")
    if isinstance(name, str) and name.lower().startswith("associations."):
        # HubSpot's search takes ``associations.{type}`` pseudo-properties (records associated with
        # a given record); the sandbox does not, and says so rather than "property does not exist"
        # (docs/hubspot-api-notes.md, "Not modelled").
        raise validation_error(f"filtering on associations ({name}) is not supported by this sandbox; "
                               "read the associations with the v4 association batch read instead",
                               propertyName=[name])
    prop = schema.get(name) if isinstance(name, str) else None
    if prop is None or prop.archived:
        raise validation_error(f"There was a problem with the request: property {name!r} does not exist",
                               propertyName=[str(name)])
    if operator not in OPERATORS:
        raise validation_error(f"{operator!r} is not a valid filter operator; one of {sorted(OPERATORS)}")
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        has = operator == "HAS_PROPERTY"
        return lambda view: (name in view.props) == has
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        return _token_filter(name, _required(spec, "value"), operator == "CONTAINS_TOKEN")
    return (_numeric_filter if prop.numeric else _text_filter)(prop, operator, spec)


def _required(spec: dict, key: str):
    value = spec.get(key)
    if value is None or value == "" or value == []:
        raise validation_error(f"filter on {spec.get('propertyName')} with {spec.get('operator')} needs {key}")
    return value


def _number(prop: PropertyDef, raw: object) -> float:
    try:
        if prop.type == "datetime":
            return float(timefmt.parse_datetime_ms(raw))
        if prop.type == "date":
            text = str(raw)
            return float(int(text)) if text.isdigit() else float(timefmt.ms_from_date(timefmt.parse_date(text)))
        return float(raw)
    except (TypeError, ValueError) as exc:
        raise validation_error(f"{raw!r} is not a valid value for {prop.type} property {prop.name}: {exc}",
                               propertyName=[prop.name]) from None


def _numeric_filter(prop: PropertyDef, operator: str, spec: dict) -> Predicate:
    name = prop.name
    if operator in ("IN", "NOT_IN"):
        values = _required(spec, "values")
        wanted = {_number(prop, v) for v in values}
        inside = operator == "IN"
        return lambda view: (view.nums.get(name) in wanted) == inside
    low = _number(prop, _required(spec, "value"))
    if operator == "BETWEEN":
        high = _number(prop, _required(spec, "highValue"))
        return lambda view: name in view.nums and low <= view.nums[name] <= high
    compare = _COMPARE[operator]
    if operator == "NEQ":
        return lambda view: view.nums.get(name) != low
    return lambda view: name in view.nums and compare(view.nums[name], low)


def _text_filter(prop: PropertyDef, operator: str, spec: dict) -> Predicate:
    name = prop.name
    fold = prop.type == "string"  # free text compares without case; enumerations exactly
    if operator in ("IN", "NOT_IN"):
        values = {str(v) for v in _required(spec, "values")}
        inside = operator == "IN"
        if fold:
            # Stored text is matched lower-cased against the values as given: "IN on strings needs
            # lowercase" (facts §3), so an upper-case value never matches.
            return lambda view: (view.props.get(name, "").lower() in values if name in view.props else False) == inside
        return lambda view: (view.props.get(name) in values) == inside
    raw = str(_required(spec, "value"))
    low = raw.lower() if fold else raw
    high = None
    if operator == "BETWEEN":
        high = str(_required(spec, "highValue"))
        high = high.lower() if fold else high

    def value_of(view: View) -> str | None:
        value = view.props.get(name)
        return value.lower() if fold and value is not None else value

    if operator == "NEQ":
        return lambda view: value_of(view) != low
    if operator == "BETWEEN":
        return lambda view: (v := value_of(view)) is not None and low <= v <= high
    compare = _COMPARE[operator]
    return lambda view: (v := value_of(view)) is not None and compare(v, low)


def _token_filter(name: str, pattern: object, contains: bool) -> Predicate:
    wanted = str(pattern).lower()

    def has_token(view: View) -> bool:
        value = view.props.get(name)
        if value is None:
            return False
        tokens = _TOKEN.findall(value.lower())
        return any(fnmatch.fnmatchcase(t, wanted) for t in tokens) or fnmatch.fnmatchcase(value.lower(), wanted)

    return lambda view: has_token(view) == contains


_COMPARE = {"EQ": lambda a, b: a == b, "LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b,
            "GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b}


def _sort_rule(sorts: object, schema: dict[str, PropertyDef]) -> tuple[PropertyDef, bool] | None:
    if not isinstance(sorts, list):
        raise validation_error("sorts must be a list")
    if len(sorts) > 1:
        raise validation_error(f"Only one sort rule is supported, got {len(sorts)}")
    if not sorts:
        return None
    rule = sorts[0]
    if isinstance(rule, str):  # SDK type is list[str]: "prop" or "-prop"
        name, descending = rule.lstrip("-"), rule.startswith("-")
    elif isinstance(rule, dict):
        name = rule.get("propertyName")
        direction = rule.get("direction", "ASCENDING")
        if direction not in ("ASCENDING", "DESCENDING"):
            raise validation_error(f"sort direction must be ASCENDING or DESCENDING, got {direction!r}")
        descending = direction == "DESCENDING"
    else:
        raise validation_error("each sort must be a property name or {propertyName, direction}")
    prop = schema.get(name) if isinstance(name, str) else None
    if prop is None:
        raise validation_error(f"cannot sort by {name!r}: no such property", propertyName=[str(name)])
    return prop, descending


def _modified_floor(groups: list, schema: dict[str, PropertyDef], kind: ObjectType) -> float | None:
    """The lowest modified stamp any match can have, when every filter group bounds it from below
    (GT, GTE, EQ or BETWEEN on the modified date); else None. Groups were validated already."""
    floors = []
    for group in groups:
        bounds = [_number(schema[f["propertyName"]], f["value"]) for f in group["filters"]
                  if f.get("propertyName") == kind.modified_prop and f.get("operator") in ("GT", "GTE", "EQ",
                                                                                           "BETWEEN")]
        if not bounds:
            return None
        floors.append(max(bounds))
    return min(floors) if floors else None


def _matches(b: Backend, kind: ObjectType, predicate: Predicate | None, sort, text: list[str],
             floor: float | None = None) -> list[int]:
    if floor is not None and sort is not None and sort[0].name == kind.modified_prop and not sort[1]:
        return _matches_by_modified(b, kind, predicate, floor)
    hits = []
    for rec in b.store.searchable(kind.name):
        view = rec.view
        if predicate is not None and not predicate(view):
            continue
        if text and not _text_match(view, kind, text):
            continue
        hits.append(rec)
    if sort is None:
        return [r.id for r in hits]  # records are held in creation (id) order
    prop, descending = sort
    source = "nums" if prop.numeric else "props"

    def value(rec):
        return getattr(rec.view, source).get(prop.name)

    # Ties keep the id scramble order in either direction (Python's sort is stable, reverse too);
    # records without the value come last in either direction.
    with_value = sorted((r for r in hits if value(r) is not None), key=lambda r: scramble(r.id))
    with_value.sort(key=value, reverse=descending)
    without = sorted((r for r in hits if value(r) is None), key=lambda r: scramble(r.id))
    return [r.id for r in with_value + without]


def _matches_by_modified(b: Backend, kind: ObjectType, predicate: Predicate | None, floor: float) -> list[int]:
    """The same answer as ``_matches`` for a search sorted by modified date ascending with a lower
    bound on it, read from the store's index from that bound on: no scan of older records and
    no sort (every searchable record has a modified stamp, so none sorts last)."""
    store = b.store.types[kind.name]  # search() brought the index up to date (catch_up_search)
    start = bisect.bisect_left(store.by_modified, (floor,))
    records = store.records
    return [record_id for _, _, record_id in store.by_modified[start:]
            if predicate is None or predicate(records[record_id].view)]


def _text_match(view: View, kind: ObjectType, tokens: list[str]) -> bool:
    haystack = " ".join(view.props.get(p, "") for p in kind.search_text).lower()
    return all(t in haystack for t in tokens)
