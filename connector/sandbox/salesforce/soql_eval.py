"""Resolve a parsed SOQL query against the schema, then run it over the store.

Semantics taken from the SOQL reference and kept strict where a client could come to rely on
something Salesforce does not promise:
- names of objects and fields are case-insensitive; text comparisons (=, IN, LIKE) too;
- ``!=`` and ``NOT IN`` match nulls (unlike SQL); ``= null`` / ``!= null`` test for null;
- a filter value must have the field's type ("value of filter criterion for field 'X' must be of
  type date and should not be enclosed in quotes"); long text areas cannot be filtered or sorted;
- ORDER BY: ascending by default, nulls first by default, text sorted case-insensitively, and
  ties come back in an order Salesforce does not guarantee ("the order of results can vary if there
  are duplicate values", SOQL ORDER BY reference), so the sandbox shuffles ties with its seed;
- OFFSET at most 2,000; a child subquery with no rows renders as ``null``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zlib
from dataclasses import dataclass, field

from .errors import ApiError
from .ids import normalize_id
from .schema import ChildRelationship, FieldDef, ObjectDef, find_object
from .soql_lexer import soql_error
from .soql_parser import Comparison, Literal, Logical, Not, OrderItem, Path, Query, parse
from .store import Store
from .values import to_json

TEXT = frozenset({"string", "textarea", "email", "combobox", "picklist", "phone", "url"})
IDS = frozenset({"id", "reference"})
NUMBERS = frozenset({"double", "currency", "percent", "int"})
MAX_OFFSET = 2000
_PLAIN = frozenset({str, bool, int, float, type(None)})
_TYPE_NAMES = {"date": "date", "datetime": "dateTime", "boolean": "boolean"}


@dataclass
class Resolved:
    steps: list[FieldDef]
    """Reference fields walked from the queried object (empty for a plain field)."""
    leaf: FieldDef
    text: str


@dataclass
class Node:
    kind: str  # field | rel | child
    fd: FieldDef | None = None
    subtree: dict = field(default_factory=dict)
    child: "CompiledQuery | None" = None
    relationship: ChildRelationship | None = None


@dataclass
class CompiledQuery:
    odef: ObjectDef
    tree: dict
    where: object
    order: list
    limit: int | None
    offset: int | None
    count_only: bool


@dataclass(frozen=True)
class QueryResult:
    total_size: int
    records: list[dict]


class Engine:
    def __init__(self, store: Store, *, today, tie_seed: int = 0):
        self.store = store
        self.today = today
        self.tie_seed = tie_seed

    # --------------------------------------------------------------- public
    def run(self, text: str, *, include_deleted: bool, version: str) -> QueryResult:
        ast = parse(text)
        compiled = _Compiler(self.store.catalog, text, self.today(), self.store.lookup).compile(ast)
        with self.store.lock:
            rows = [r for r in self.store.tables[compiled.odef.name].values()
                    if include_deleted or not r["IsDeleted"]]
            rows = self._select(compiled, rows)
            if compiled.count_only:
                return QueryResult(len(rows), [])
            renderer = _Renderer(self.store, self, version, include_deleted)
            return QueryResult(len(rows), [renderer.render(r, compiled.tree, compiled.odef.name) for r in rows])

    def _select(self, compiled: CompiledQuery, rows: list[dict]) -> list[dict]:
        if compiled.where is not None:
            rows = [r for r in rows if compiled.where(r)]
        if compiled.order:
            rows = self._sort(rows, compiled.order)
        start = compiled.offset or 0
        end = None if compiled.limit is None else start + compiled.limit
        return rows[start:end] if (start or end is not None) else rows

    def _sort(self, rows: list[dict], order: list) -> list[dict]:
        seed = self.tie_seed
        rows = sorted(rows, key=lambda r: zlib.crc32(f"{seed}:{r['Id']}".encode()))
        for getter, item in reversed(order):
            keyed = [(getter(r), r) for r in rows]
            present = [(k, r) for k, r in keyed if k is not None]
            present.sort(key=lambda pair: pair[0], reverse=item.descending)
            nulls = [r for k, r in keyed if k is None]
            ordered = [r for _, r in present]
            rows = nulls + ordered if item.nulls_first else ordered + nulls
        return rows


class _Renderer:
    def __init__(self, store: Store, engine: Engine, version: str, include_deleted: bool):
        self.store = store
        self.engine = engine
        self.version = version
        self.include_deleted = include_deleted

    def attributes(self, obj: str, record_id: str) -> dict:
        return {"type": obj, "url": f"/services/data/v{self.version}/sobjects/{obj}/{record_id}"}

    def render(self, record: dict, tree: dict, obj: str) -> dict:
        out = {"attributes": {"type": obj, "url": f"/services/data/v{self.version}/sobjects/{obj}/{record['Id']}"}}
        for key, node in tree.items():
            kind = node.kind
            if kind == "field":
                value = record.get(key)
                out[key] = value if type(value) in _PLAIN else to_json(value)
            elif kind == "rel":
                parent = self.store.lookup(record.get(node.fd.name))
                out[key] = None if parent is None else self.render(
                    parent, node.subtree, self.store.object_of_id(parent["Id"]))
            else:
                out[key] = self.children(record, node)
        return out

    def children(self, record: dict, node: Node) -> dict | None:
        rel, sub = node.relationship, node.child
        rows = [r for r in self.store.children(rel.child_sobject, rel.field, record["Id"])
                if self.include_deleted or not r["IsDeleted"]]
        rows = self.engine._select(sub, rows)
        if not rows:
            return None  # a parent without children carries null, not an empty result
        return {"totalSize": len(rows), "done": True,
                "records": [self.render(r, sub.tree, rel.child_sobject) for r in rows]}


class _Compiler:
    def __init__(self, catalog: dict[str, ObjectDef], text: str, today: dt.date, lookup):
        self.catalog = catalog
        self.text = text
        self.today = today
        self.lookup = lookup

    def error(self, code: str, pos: int, detail: str) -> ApiError:
        return soql_error(code, self.text, pos, detail)

    def compile(self, ast: Query) -> CompiledQuery:
        odef = find_object(self.catalog, ast.sobject)
        if odef is None:
            raise self.error("INVALID_TYPE", ast.sobject_pos,
                             f"sObject type '{ast.sobject}' is not supported. If you are attempting to use a "
                             "custom object, be sure to append the '__c' after the entity name. Please reference "
                             "your WSDL or the describe call for the appropriate names.")
        return self.compile_for(odef, ast)

    def compile_for(self, odef: ObjectDef, ast: Query) -> CompiledQuery:
        if ast.offset is not None and ast.offset > MAX_OFFSET:
            raise self.error("NUMBER_OUTSIDE_VALID_RANGE", ast.sobject_pos,
                             f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        tree: dict = {}
        for item in ast.fields:
            if isinstance(item, Query):
                self.add_child(odef, tree, item)
            else:
                self.add_path(odef, tree, item)
        where = self.predicate(odef, ast.where) if ast.where is not None else None
        order = [(self.sort_getter(odef, o), o) for o in ast.order_by]
        return CompiledQuery(odef=odef, tree=tree, where=where, order=order, limit=ast.limit,
                             offset=ast.offset, count_only=ast.count_only)

    # -------------------------------------------------------------- fields
    def resolve(self, odef: ObjectDef, path: Path) -> Resolved:
        steps, targets = [], [odef]
        for part in path.parts[:-1]:
            ref = next((t.relationship(part) for t in targets if t.relationship(part)), None)
            if ref is None:
                raise self.error("INVALID_FIELD", path.pos,
                                 f"Didn't understand relationship '{part}' in field path. If you are attempting "
                                 "to use a custom relationship, be sure to append the '__r' after the custom "
                                 "relationship name. Please reference your WSDL or the describe call for the "
                                 "appropriate names.")
            steps.append(ref)
            targets = [self.catalog[name] for name in ref.reference_to]
        leaf_name = path.parts[-1]
        leaf = next((t.field(leaf_name) for t in targets if t.field(leaf_name)), None)
        if leaf is None:
            raise self.error("INVALID_FIELD", path.pos,
                             f"No such column '{leaf_name}' on entity '{targets[0].name}'. If you are attempting "
                             "to use a custom field, be sure to append the '__c' after the custom field name. "
                             "Please reference your WSDL or the describe call for the appropriate names.")
        return Resolved(steps, leaf, path.text)

    def add_path(self, odef: ObjectDef, tree: dict, path: Path) -> None:
        resolved = self.resolve(odef, path)
        node_tree = tree
        for ref in resolved.steps:
            node = node_tree.setdefault(ref.relationship_name, Node("rel", fd=ref))
            node_tree = node.subtree
        if resolved.leaf.name in node_tree:
            raise self.error("MALFORMED_QUERY", path.pos, f"duplicate field selected: {path.text}")
        node_tree[resolved.leaf.name] = Node("field", fd=resolved.leaf)

    def add_child(self, odef: ObjectDef, tree: dict, sub: Query) -> None:
        rel = odef.child(sub.sobject)
        if rel is None:
            raise self.error("INVALID_TYPE", sub.sobject_pos,
                             f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. If you "
                             "are attempting to use a custom relationship, be sure to append the '__r' after the "
                             "custom relationship name. Please reference your WSDL or the describe call for the "
                             "appropriate names.")
        compiled = self.compile_for(self.catalog[rel.child_sobject], sub)
        tree[rel.relationship_name] = Node("child", child=compiled, relationship=rel)

    def getter(self, resolved: Resolved):
        steps, name, lookup = [ref.name for ref in resolved.steps], resolved.leaf.name, self.lookup
        if not steps:
            return lambda record: record.get(name)

        def walk(record: dict):
            for step in steps:
                record = lookup(record.get(step))
                if record is None:
                    return None
            return record.get(name)

        return walk

    def sort_getter(self, odef: ObjectDef, item: OrderItem):
        resolved = self.resolve(odef, item.path)
        if not resolved.leaf.sortable:
            raise self.error("INVALID_FIELD", item.path.pos,
                             f"field '{resolved.leaf.name}' can not be sorted in a query call")
        get = self.getter(resolved)
        if resolved.leaf.type in TEXT:
            return lambda r: (lambda v: v.casefold() if v is not None else None)(get(r))
        return get

    # --------------------------------------------------------------- where
    def predicate(self, odef: ObjectDef, node):
        if isinstance(node, Logical):
            parts = [self.predicate(odef, item) for item in node.items]
            if node.op == "AND":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(node, Not):
            inner = self.predicate(odef, node.item)
            return lambda r: not inner(r)
        return self.comparison(odef, node)

    def comparison(self, odef: ObjectDef, node: Comparison):
        resolved = self.resolve(odef, node.path)
        fd = resolved.leaf
        if not fd.filterable:
            raise self.error("INVALID_FIELD", node.path.pos,
                             f"field '{fd.name}' can not be filtered in a query call")
        get = self.getter(resolved)
        literals = node.value if isinstance(node.value, tuple) else (node.value,)
        for literal in literals:
            self.check_type(fd, literal, node.op)
        norm = _normalizer(fd)
        op = node.op
        if op == "LIKE":
            if fd.type not in TEXT:
                raise self.error("INVALID_QUERY_FILTER_OPERATOR", node.path.pos,
                                 f"invalid operator on field '{fd.name}': LIKE")
            pattern = node.value.like
            return lambda r: (lambda v: v is not None and pattern.fullmatch(v) is not None)(get(r))
        if op in ("IN", "NOT_IN"):
            wanted = {norm(lit.value) for lit in literals if lit.kind != "null"}
            has_null = any(lit.kind == "null" for lit in literals)
            contains = lambda v: (v is None and has_null) or (v is not None and norm(v) in wanted)  # noqa: E731
            if op == "IN":
                return lambda r: contains(get(r))
            return lambda r: not contains(get(r))
        literal = node.value
        if literal.kind == "date_function":
            return self.date_range_predicate(fd, get, op, literal)
        if literal.kind == "null":
            if op not in ("=", "!="):
                raise self.error("MALFORMED_QUERY", literal.pos, "null can only be compared with = or !=")
            return (lambda r: get(r) is None) if op == "=" else (lambda r: get(r) is not None)
        if fd.type == "boolean" and op not in ("=", "!="):
            raise self.error("INVALID_QUERY_FILTER_OPERATOR", node.path.pos,
                             f"invalid operator on boolean field '{fd.name}': {op}")
        target = norm(literal.value)
        return _compare(op, get, norm, target)

    def check_type(self, fd: FieldDef, literal: Literal, op: str) -> None:
        if literal.kind == "null":
            return
        if fd.type in TEXT or fd.type in IDS:
            if literal.kind != "string":
                raise self.error("INVALID_FIELD", literal.pos,
                                 f"value of filter criterion for field '{fd.name}' must be of type "
                                 f"{'id' if fd.type in IDS else 'string'} and should be enclosed in quotes")
            if fd.type in IDS and op != "LIKE" and normalize_id(literal.value) is None:
                raise self.error("INVALID_QUERY_FILTER_OPERATOR", literal.pos, f"invalid ID field: {literal.value}")
            return
        allowed = {"number": {"number"}, "boolean": {"boolean"}, "date": {"date", "date_function"},
                   "datetime": {"datetime", "date_function"}}
        group = "number" if fd.type in NUMBERS else fd.type
        if literal.kind not in allowed.get(group, set()):
            type_name = "double" if group == "number" else _TYPE_NAMES.get(group, group)
            raise self.error("INVALID_FIELD", literal.pos,
                             f"value of filter criterion for field '{fd.name}' must be of type {type_name} "
                             "and should not be enclosed in quotes")

    def date_range_predicate(self, fd: FieldDef, get, op: str, literal: Literal):
        start, end = _date_range(literal, self.today)
        as_date = (lambda v: v.astimezone(dt.timezone.utc).date()) if fd.type == "datetime" else (lambda v: v)
        tests = {
            "=": lambda d: start <= d <= end, "!=": lambda d: not start <= d <= end,
            "<": lambda d: d < start, "<=": lambda d: d <= end, ">": lambda d: d > end, ">=": lambda d: d >= start,
        }
        test = tests[op]
        if op == "!=":
            return lambda r: (lambda v: v is None or test(as_date(v)))(get(r))
        return lambda r: (lambda v: v is not None and test(as_date(v)))(get(r))


def _normalizer(fd: FieldDef):
    if fd.type in TEXT:
        return lambda v: v.casefold()
    if fd.type in IDS:
        return lambda v: normalize_id(v) or v
    if fd.type in NUMBERS:
        return float
    return lambda v: v


def _compare(op: str, get, norm, target):
    if op == "=":
        return lambda r: (lambda v: v is not None and norm(v) == target)(get(r))
    if op == "!=":
        return lambda r: (lambda v: v is None or norm(v) != target)(get(r))
    compare = {"<": lambda a: a < target, "<=": lambda a: a <= target,
               ">": lambda a: a > target, ">=": lambda a: a >= target}[op]
    return lambda r: (lambda v: v is not None and compare(norm(v)))(get(r))


def _date_range(literal: Literal, today: dt.date) -> tuple[dt.date, dt.date]:
    """Date literals as inclusive day ranges in the org's time zone (the sandbox org runs in UTC)."""
    day = dt.timedelta(days=1)
    name, n = literal.value, literal.n or 0
    if name == "TODAY":
        return today, today
    if name == "YESTERDAY":
        return today - day, today - day
    if name == "TOMORROW":
        return today + day, today + day
    if name == "LAST_N_DAYS":
        return today - n * day, today
    if name == "NEXT_N_DAYS":
        return today + day, today + n * day
    if name == "N_DAYS_AGO":
        return today - n * day, today - n * day
    first = today.replace(day=1)
    if name == "LAST_MONTH":
        first = (first - day).replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first, last
