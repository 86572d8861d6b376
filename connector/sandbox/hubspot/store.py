"""The sandbox's in-memory CRM: records per object type, the unique-value index, associations,
each property's history of values, and what search can see (the search index lags behind writes,
index_lag.py; association reads may lag too, assoc_store.py).

Writes are copy-on-write (a record's ``props`` dict is replaced, never mutated), so the search
view of a record can share the dict it was written with. Every method expects ``Store.lock``
to be held by the caller; handlers take it once per request.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from connector.sandbox.hubspot.assoc_store import Associations, AssocKey, Links
from connector.sandbox.hubspot.index_lag import IndexLag
from connector.sandbox.hubspot.schema import OBJECT_TYPES, PropertyDef, Stored, ValueProblem
from connector.sandbox.hubspot.timefmt import iso_from_ms

HistoryEntry = tuple[str, int, str]
"""(value, epoch ms, source type) of one change to a property; a cleared value is ""."""


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
    view_seq: int = 0
    """Which write ``view`` shows: an older write reaching search later never replaces it."""
    inserted_ms: int = 0
    inserted_source: str = "IMPORT"
    history: dict[str, list[HistoryEntry]] | None = None
    """Changes after the insert, oldest first, per property; kept only once a record is updated
    (the insert's values are its history until then: no cost for the 50,000 seeded deals)."""

    def history_of(self, name: str) -> list[HistoryEntry]:
        """Every value ``name`` had, newest first."""
        if self.history is not None and name in self.history:
            return self.history[name][::-1]
        if name in self.props:
            return [(self.props[name], self.inserted_ms, self.inserted_source)]
        return []


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


def _converted(props: dict[str, str], nums: dict[str, float], name: str,
               convert: Callable[[str], Stored | None]) -> tuple[dict[str, str], dict[str, float]]:
    """Copies of ``props``/``nums`` with ``name`` converted (copy-on-write: views share dicts)."""
    if name not in props:
        return props, nums
    stored = convert(props[name])
    props = {k: v for k, v in props.items() if k != name}
    nums = {k: v for k, v in nums.items() if k != name}
    if stored is not None:
        props[name] = stored.text
        if stored.number is not None:
            nums[name] = stored.number
    return props, nums


def scramble(record_id: int) -> int:
    """A fixed shuffle of record ids: search breaks ties in its sort order by it, not by id, because
    HubSpot does not promise an order among equal values (search.py)."""
    return (record_id * 2_654_435_761) & 0xFFFF_FFFF


IMPLIED_UNIQUE = frozenset({("contacts", "email")})
"""Unique without saying so in the property definition (see Store.__init__)."""
_ID_BASES = {"companies": 2_001, "contacts": 3_001, "deals": 5_001, "tasks": 8_001}


class Store:
    def __init__(self, *, schema: dict[str, dict[str, PropertyDef]], search_lag: float,
                 clock: Callable[[], float], search_lag_max: float | None = None, association_read_lag: float = 0.0,
                 seed: int = 0):
        self.lock = threading.RLock()
        self.schema = schema
        self.index_lag = IndexLag(lag=search_lag, lag_max=search_lag_max, seed=seed)
        self.links = Associations(read_lag=association_read_lag, clock=clock)
        self.clock = clock
        self.types = {name: TypeStore(next_id=_ID_BASES[name]) for name in OBJECT_TYPES}
        for name, props in schema.items():
            self.types[name].unique = {p.name: {} for p in props.values() if p.has_unique_value}
        # A contact's email is unique although the property does not say so: HubSpot answers a
        # second contact with the same email 409 CONFLICT "Contact already exists. Existing ID: N"
        # [2ND: https://github.com/HubSpot/hubspot-api-python/issues/51].
        for type_name, name in IMPLIED_UNIQUE:
            self.types[type_name].unique[name] = {}
        self._pending: list[tuple[float, int, str, Record, View | None]] = []
        """Writes on their way to search: a heap on (when due, write sequence)."""
        self._seq = 0

    @property
    def search_lag(self) -> float:
        return self.index_lag.lag

    @search_lag.setter
    def search_lag(self, seconds: float) -> None:
        self.index_lag.lag = seconds

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
               modified_ms: int | None = None, source: str = "API") -> Record:
        store = self.types[type_name]
        record_id = store.next_id
        store.next_id += 1
        written = modified_ms or created_ms
        rec = Record(id=record_id, props={}, nums={}, created_ms=created_ms, updated_ms=created_ms,
                     inserted_ms=written, inserted_source=source)
        store.records[record_id] = rec
        self._write(type_name, rec, values, written, system_created=True, source=source)
        return rec

    def update(self, type_name: str, rec: Record, values: dict[str, Stored | None], *, now_ms: int,
               source: str = "API") -> None:
        # A write always moves the modified stamp forward, even inside the same millisecond,
        # so "modified after my cursor" never misses a change (facts §3: bumps on any write).
        self._write(type_name, rec, values, max(now_ms, rec.updated_ms + 1), system_created=False, source=source)

    def archive(self, type_name: str, rec: Record, *, now_ms: int) -> None:
        rec.archived = True
        rec.archived_ms = now_ms
        for prop, index in self.types[type_name].unique.items():
            if index.get(rec.props.get(prop, "")) == rec.id:
                del index[rec.props[prop]]
        self._publish(type_name, rec, None)

    def _write(self, type_name: str, rec: Record, values: dict[str, Stored | None], modified_ms: int,
               *, system_created: bool, source: str) -> None:
        kind = OBJECT_TYPES[type_name]
        if not system_created:
            self._remember(rec, values, kind.modified_prop, modified_ms, source)
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

    @staticmethod
    def _remember(rec: Record, values: dict[str, Stored | None], modified: str, at_ms: int, source: str) -> None:
        """Add this update's changes to the record's property history (HistoryEntry)."""
        if rec.history is None:
            rec.history = {}
        changes = {name: ("" if stored is None else stored.text) for name, stored in values.items()}
        changes[modified] = iso_from_ms(at_ms)
        for name, text in changes.items():
            if rec.props.get(name, "") == text:
                continue  # an unchanged value is no new version
            entries = rec.history.setdefault(name, [])
            if not entries and name in rec.props:
                entries.append((rec.props[name], rec.inserted_ms, rec.inserted_source))
            entries.append((text, at_ms, source))

    def rewrite_values(self, type_name: str, name: str, convert: Callable[[str], Stored | None]) -> None:
        """An admin changed a property's type: every stored value of ``name`` (records and what
        search sees of them) becomes ``convert(text)``. ``convert`` raises ValueProblem for a value
        the new type cannot hold; then nothing changes and the problem names the record."""
        changed = []
        for rec in self.types[type_name].records.values():
            try:
                props, nums = _converted(rec.props, rec.nums, name, convert)
                view = rec.view
                if view is not None and name in view.props:
                    view = View(*_converted(view.props, view.nums, name, convert), view.created_ms, view.updated_ms)
            except ValueProblem as why:
                raise ValueProblem(why.code, f"{type_name} {rec.id} holds a value that does not fit: {why.message}") \
                    from None
            changed.append((rec, props, nums, view))
        for rec, props, nums, view in changed:
            rec.props, rec.nums = props, nums
            if view is not rec.view:
                self._show(type_name, rec, view, rec.view_seq)

    # --- what search sees ----------------------------------------------------------------------

    def _publish(self, type_name: str, rec: Record, view: View | None) -> None:
        """Make ``view`` visible to search now, or once its lag has passed (facts §3: "new writes
        appear with delay"; facts §6: the lag breaks search-then-create; index_lag.py)."""
        self._seq += 1
        seconds = self.index_lag.seconds_for(type_name, rec.id)
        if seconds <= 0:
            self._show(type_name, rec, view, self._seq)
        else:
            heapq.heappush(self._pending, (self.clock() + seconds, self._seq, type_name, rec, view))

    def delay_search(self, type_name: str, record_id: int, seconds: float) -> None:
        self.index_lag.delay_next(type_name, record_id, seconds)

    @contextlib.contextmanager
    def indexed_at_once(self) -> Iterator[None]:
        """Data that was already in the portal (the seed) is indexed, and its associations
        readable, before anyone searches or reads."""
        self.index_lag.at_once = self.links.at_once = True
        try:
            yield
        finally:
            self.index_lag.at_once = self.links.at_once = False

    def catch_up_search(self) -> None:
        now = self.clock()
        while self._pending and self._pending[0][0] <= now:
            _, seq, type_name, rec, view = heapq.heappop(self._pending)
            self._show(type_name, rec, view, seq)

    def _show(self, type_name: str, rec: Record, view: View | None, seq: int) -> None:
        if seq < rec.view_seq:
            return  # a later write of this record is indexed already; an index keeps the newest
        rec.view_seq = seq
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

    # --- associations ----------------------------------------------------------------------

    def associate(self, from_type: str, from_id: int, to_type: str, to_id: int, key: AssocKey,
                  inverse: AssocKey) -> None:
        self.links.add(from_type, from_id, to_type, to_id, key, inverse)

    def dissociate(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        self.links.remove(from_type, from_id, to_type, to_id)

    def associations(self, from_type: str, from_id: int, to_type: str, *, as_read: bool = False) -> Links:
        """to id -> association types, skipping archived targets (HubSpot hides them).
        ``as_read``: what an API read sees, which may lag behind writes (assoc_store.py)."""
        links = self.links.as_read if as_read else self.links.current
        targets = self.types[to_type].records
        return {to_id: keys for to_id, keys in links(from_type, from_id, to_type).items()
                if keys and to_id in targets and not targets[to_id].archived}
