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

import zlib
from dataclasses import dataclass, field

from . import soql_dates as dates
from .errors import ApiError
from .ids import normalize_id
from .schema import ChildRelationship, FieldDef, ObjectDef, find_object
from .soql_dates import DateContext
from .soql_lexer import soql_error
from .soql_parser import (
    LEVELS_BEFORE_V58,
    MAX_LEVELS,
    Comparison,
    DateFunction,
    Literal,
    Logical,
    Not,
    OrderItem,
    Path,
    Query,
    parse,
)
from .store import Store
from .values import to_json
from .versions import at_least

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
    child: CompiledQuery | None = None
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
    def __init__(self, store: Store, *, dates, tie_seed: int = 0):
        self.store = store
        self.dates = dates
        """() -> soql_dates.DateContext: "today", the user's time zone, week start, fiscal year."""
        self.tie_seed = tie_seed

    # --------------------------------------------------------------- public
    def run(self, text: str, *, include_deleted: bool, version: str,
            catalog: dict[str, ObjectDef] | None = None) -> QueryResult:
        """``catalog``: the objects and fields as the calling user sees them (field-level security)."""
        levels = MAX_LEVELS if at_least(version, 58) else LEVELS_BEFORE_V58
        ast = parse(text, max_levels=levels)
        compiled = _Compiler(self.store.catalog if catalog is None else catalog, text, self.dates(),
                             self.store.lookup).compile(ast)
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
    def __init__(self, catalog: dict[str, ObjectDef], text: str, ctx: DateContext, lookup):
        self.catalog = catalog
        self.text = text
        self.ctx = ctx
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
        if isinstance(node.path, DateFunction):
            return self.function_comparison(odef, node)
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
        """A date literal is a range of whole days; on a dateTime field the days run from local
        midnight to local midnight in the user's time zone."""
        start, end = dates.literal_range(literal.value, literal.n, self.ctx)
        if fd.type == "datetime":
            low, high = dates.local_bounds(start, end, self.ctx.zone)
            inside, before, after = (lambda v: low <= v < high), (lambda v: v < low), (lambda v: v >= high)
        else:
            inside, before, after = (lambda v: start <= v <= end), (lambda v: v < start), (lambda v: v > end)
        tests = {"=": inside, "!=": lambda v: not inside(v), "<": before, "<=": lambda v: not after(v),
                 ">": after, ">=": lambda v: not before(v)}
        test = tests[op]
        if op == "!=":
            return lambda r: (lambda v: v is None or test(v))(get(r))
        return lambda r: (lambda v: v is not None and test(v))(get(r))

    def function_comparison(self, odef: ObjectDef, node: Comparison):
        """``DAY_IN_WEEK(CreatedDate) = 2``, ``DAY_ONLY(convertTimezone(CreatedDate)) = TODAY``, ..."""
        function = node.path
        resolved = self.resolve(odef, function.path)
        fd = resolved.leaf
        if fd.type not in ("date", "datetime") or (function.name in dates.DATETIME_ONLY and fd.type != "datetime"):
            wanted = "dateTime" if function.name in dates.DATETIME_ONLY else "date or dateTime"
            raise self.error("INVALID_FIELD", function.pos,
                             f"{function.name}() needs a {wanted} field; '{fd.name}' is {fd.type}")
        if function.convert and fd.type != "datetime":
            raise self.error("INVALID_FIELD", function.pos,
                             f"convertTimezone() needs a dateTime field; '{fd.name}' is {fd.type}")
        get, ctx, is_datetime = self.getter(resolved), self.ctx, fd.type == "datetime"
        value = lambda r: dates.apply(function.name, get(r), ctx, is_datetime=is_datetime,  # noqa: E731
                                      convert=function.convert)
        literals = node.value if isinstance(node.value, tuple) else (node.value,)
        result_type = FieldDef(name=f"{function.name}({fd.name})",
                               type="date" if function.name == "DAY_ONLY" else "int")
        for literal in literals:
            if literal.kind == "null" or (result_type.type == "date" and literal.kind in ("date", "date_function")):
                continue
            if result_type.type == "int" and literal.kind == "number" and isinstance(literal.value, int):
                continue
            kind = "date" if result_type.type == "date" else "an integer"
            raise self.error("INVALID_FIELD", literal.pos,
                             f"value of filter criterion for {result_type.name} must be {kind}")
        if node.op == "LIKE":
            raise self.error("INVALID_QUERY_FILTER_OPERATOR", function.pos, "LIKE cannot compare a date function")
        if node.op in ("IN", "NOT_IN"):
            wanted = {lit.value for lit in literals}
            return (lambda r: value(r) in wanted) if node.op == "IN" else (lambda r: value(r) not in wanted)
        if node.value.kind == "date_function":
            return self.date_range_predicate(result_type, value, node.op, node.value)
        if node.value.kind == "null":
            return (lambda r: value(r) is None) if node.op == "=" else (lambda r: value(r) is not None)
        return _compare(node.op, value, lambda v: v, node.value.value)


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
