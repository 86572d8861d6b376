"""The sandbox's in-memory CRM: records per object type, the unique-value index, associations,
and what search can see (the search index lags behind writes).

Writes are copy-on-write (a record's ``props`` dict is replaced, never mutated), so the search
view of a record can share the dict it was written with. Every method expects ``Store.lock``
to be held by the caller; handlers take it once per request.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from connector.sandbox.hubspot.schema import OBJECT_TYPES, PropertyDef, Stored
from connector.sandbox.hubspot.timefmt import iso_from_ms


@dataclass(slots=True, frozen=True)
class View:
    """A record as search sees it (possibly an older state of it)."""

    props: dict[str, str]
    nums: dict[str, float]
    created_ms: int
    updated_ms: int


@dataclass(slots=True)
class Record:
    id: int
    props: dict[str, str]
    nums: dict[str, float]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None
    view: View | None = None


@dataclass
class TypeStore:
    records: dict[int, Record] = field(default_factory=dict)
    next_id: int = 1
    unique: dict[str, dict[str, int]] = field(default_factory=dict)
    """unique property -> value -> id of the live (not archived) record holding it."""
    search_version: int = 0
    """Bumped whenever what search sees changes; search caches key on it."""
    by_modified: list[tuple[float, int, int]] = field(default_factory=list)
    """(modified stamp, tie scramble, id) of every record search sees, sorted: a search that
    pages by modified date reads from its lower bound on instead of scanning and sorting every
    record after each write (HubSpot indexes search; see search.py)."""


def scramble(record_id: int) -> int:
    """A fixed shuffle of record ids: search breaks ties in its sort order by it, not by id, because
    HubSpot does not promise an order among equal values (search.py)."""
    return (record_id * 2_654_435_761) & 0xFFFF_FFFF


AssocKey = tuple[str, int]           # (association category, type id)
_ID_BASES = {"companies": 2_001, "contacts": 3_001, "deals": 5_001, "tasks": 8_001}


class Store:
    def __init__(self, *, schema: dict[str, dict[str, PropertyDef]], search_lag: float,
                 clock: Callable[[], float]):
        self.lock = threading.RLock()
        self.schema = schema
        self.search_lag = search_lag
        self.clock = clock
        self.types = {name: TypeStore(next_id=_ID_BASES[name]) for name in OBJECT_TYPES}
        for name, props in schema.items():
            self.types[name].unique = {p.name: {} for p in props.values() if p.has_unique_value}
        # A contact's email is unique although the property does not say so: HubSpot answers a
        # second contact with the same email 409 CONFLICT "Contact already exists. Existing ID: N"
        # [2ND: https://github.com/HubSpot/hubspot-api-python/issues/51].
        self.types["contacts"].unique["email"] = {}
        self.assoc: dict[tuple[str, int], dict[str, dict[int, dict[AssocKey, None]]]] = {}
        self._pending: collections.deque[tuple[float, str, Record, View | None]] = collections.deque()

    # --- records -------------------------------------------------------------------------------

    def get(self, type_name: str, record_id: str | int, *, archived: bool = False) -> Record | None:
        try:
            rec = self.types[type_name].records.get(int(record_id))
        except (TypeError, ValueError):
            return None
        if rec is None or rec.archived != archived:
            return None
        return rec

    def by_unique(self, type_name: str, prop: str, value: str) -> Record | None:
        record_id = self.types[type_name].unique.get(prop, {}).get(value)
        return self.types[type_name].records.get(record_id) if record_id is not None else None

    def insert(self, type_name: str, values: dict[str, Stored | None], *, created_ms: int,
               modified_ms: int | None = None) -> Record:
        store = self.types[type_name]
        record_id = store.next_id
        store.next_id += 1
        rec = Record(id=record_id, props={}, nums={}, created_ms=created_ms, updated_ms=created_ms)
        store.records[record_id] = rec
        self._write(type_name, rec, values, modified_ms or created_ms, system_created=True)
        return rec

    def update(self, type_name: str, rec: Record, values: dict[str, Stored | None], *, now_ms: int) -> None:
        # A write always moves the modified stamp forward, even inside the same millisecond,
        # so "modified after my cursor" never misses a change (facts §3: bumps on any write).
        self._write(type_name, rec, values, max(now_ms, rec.updated_ms + 1), system_created=False)

    def archive(self, type_name: str, rec: Record, *, now_ms: int) -> None:
        rec.archived = True
        rec.archived_ms = now_ms
        for prop, index in self.types[type_name].unique.items():
            if index.get(rec.props.get(prop, "")) == rec.id:
                del index[rec.props[prop]]
        self._publish(type_name, rec, None)

    def _write(self, type_name: str, rec: Record, values: dict[str, Stored | None], modified_ms: int,
               *, system_created: bool) -> None:
        kind = OBJECT_TYPES[type_name]
        props, nums = dict(rec.props), dict(rec.nums)
        unique = self.types[type_name].unique
        for name, stored in values.items():
            old = props.get(name)
            if name in unique and old is not None and unique[name].get(old) == rec.id:
                del unique[name][old]
            if stored is None:
                props.pop(name, None)
                nums.pop(name, None)
                continue
            props[name] = stored.text
            if stored.number is not None:
                nums[name] = stored.number
            if name in unique:
                unique[name][stored.text] = rec.id
        if system_created:
            props["hs_object_id"] = str(rec.id)
            nums["hs_object_id"] = float(rec.id)
            props[kind.created_prop] = iso_from_ms(rec.created_ms)
            nums[kind.created_prop] = float(rec.created_ms)
        rec.updated_ms = modified_ms
        props[kind.modified_prop] = iso_from_ms(modified_ms)
        nums[kind.modified_prop] = float(modified_ms)
        rec.props, rec.nums = props, nums
        self._publish(type_name, rec, View(props, nums, rec.created_ms, rec.updated_ms))

    # --- what search sees ----------------------------------------------------------------------

    def _publish(self, type_name: str, rec: Record, view: View | None) -> None:
        """Make ``view`` visible to search now, or after the lag (facts §3: "new writes appear
        with delay"; facts §6: the lag breaks search-then-create)."""
        if self.search_lag <= 0:
            self._show(type_name, rec, view)
        else:
            self._pending.append((self.clock() + self.search_lag, type_name, rec, view))

    @contextlib.contextmanager
    def indexed_at_once(self) -> Iterator[None]:
        """Data that was already in the portal (the seed) is indexed before anyone searches."""
        lag, self.search_lag = self.search_lag, 0.0
        try:
            yield
        finally:
            self.search_lag = lag

    def catch_up_search(self) -> None:
        now = self.clock()
        while self._pending and self._pending[0][0] <= now:
            _, type_name, rec, view = self._pending.popleft()
            self._show(type_name, rec, view)

    def _show(self, type_name: str, rec: Record, view: View | None) -> None:
        store = self.types[type_name]
        modified = OBJECT_TYPES[type_name].modified_prop
        if rec.view is not None:
            old = (rec.view.nums[modified], scramble(rec.id), rec.id)
            at = bisect.bisect_left(store.by_modified, old)
            if at < len(store.by_modified) and store.by_modified[at] == old:
                del store.by_modified[at]
        if view is not None:
            bisect.insort(store.by_modified, (view.nums[modified], scramble(rec.id), rec.id))
        rec.view = view
        store.search_version += 1

    def searchable(self, type_name: str) -> Iterator[Record]:
        self.catch_up_search()
        return (r for r in self.types[type_name].records.values() if r.view is not None)

    # --- associations --------------------------------------------------------------------------

    def associate(self, from_type: str, from_id: int, to_type: str, to_id: int, key: AssocKey,
                  inverse: AssocKey) -> None:
        self.assoc.setdefault((from_type, from_id), {}).setdefault(to_type, {}).setdefault(to_id, {})[key] = None
        self.assoc.setdefault((to_type, to_id), {}).setdefault(from_type, {}).setdefault(from_id, {})[inverse] = None

    def dissociate(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        self.assoc.get((from_type, from_id), {}).get(to_type, {}).pop(to_id, None)
        self.assoc.get((to_type, to_id), {}).get(from_type, {}).pop(from_id, None)

    def associations(self, from_type: str, from_id: int, to_type: str) -> dict[int, dict[AssocKey, None]]:
        """to id -> association types, skipping archived targets (HubSpot hides them)."""
        found = self.assoc.get((from_type, from_id), {}).get(to_type, {})
        targets = self.types[to_type].records
        return {to_id: keys for to_id, keys in found.items()
                if keys and to_id in targets and not targets[to_id].archived}
