"""The in-memory org: records per sObject, indexes, and the write rules the API enforces.

Thread-safe: the server thread writes while tests read (every public method takes ``lock``).
Records are replaced, never mutated in place, so a reference handed out stays a consistent
snapshot. Indexes: unique fields (external ids) and parent id -> children for each child
relationship, so child subqueries and derived fields never scan a table.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from . import setup_rules
from .errors import ApiError, RecordError, not_found
from .ids import IdFactory, normalize_id, prefix_of
from .schema import ACTIVITY_OBJECTS, CLOSED_TASK_STATUSES, STAGE_BY_NAME, FieldDef, ObjectDef
from .values import coerce_input, now_ms

SYSTEM_FIELDS = ("Id", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
                 "SystemModstamp", "IsDeleted")


class Store:
    def __init__(self, catalog: dict[str, ObjectDef], *, clock: Callable, ids: IdFactory | None = None):
        self.lock = threading.RLock()
        self.catalog = catalog
        self.clock = clock
        self.ids = ids or IdFactory()
        self.current_user_id: str | None = None
        self.tables: dict[str, dict[str, dict]] = {name: {} for name in catalog}
        self._by_prefix = {o.key_prefix: o.name for o in catalog.values()}
        self._unique: dict[tuple[str, str], dict[str, str]] = {
            (o.name, f.name): {} for o in catalog.values() for f in o.fields.values() if f.unique}
        self._child_fields: dict[str, list[str]] = {}
        for parent in catalog.values():
            for rel in parent.children:
                fields = self._child_fields.setdefault(rel.child_sobject, [])
                if rel.field not in fields:
                    fields.append(rel.field)
        self._children: dict[tuple[str, str], dict[str, dict[str, None]]] = {
            (child, f): {} for child, fields in self._child_fields.items() for f in fields}
        self._journal: list[tuple[str, str, dict | None]] | None = None

    # ----------------------------------------------------------------- reads
    def object_of_id(self, record_id: str) -> str | None:
        return self._by_prefix.get(prefix_of(record_id))

    def get(self, obj: str, record_id: str) -> dict | None:
        with self.lock:
            return self.tables[obj].get(record_id)

    def lookup(self, record_id: str | None) -> dict | None:
        """Any record by id, whatever its object (polymorphic WhatId and relationship paths)."""
        if not record_id:
            return None
        obj = self.object_of_id(record_id)
        return self.tables[obj].get(record_id) if obj else None

    def all(self, obj: str) -> list[dict]:
        with self.lock:
            return list(self.tables[obj].values())

    def children(self, child_obj: str, field: str, parent_id: str) -> list[dict]:
        table = self.tables[child_obj]
        return [table[i] for i in self._children[(child_obj, field)].get(parent_id, ())]

    def find_unique(self, obj: str, field: str, value: str) -> dict | None:
        with self.lock:
            record_id = self._unique[(obj, field)].get(self._unique_key(obj, field, value))
            return self.tables[obj].get(record_id) if record_id else None

    # ----------------------------------------------------------- transactions
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """Undo every write made inside the block if it raises (allOrNone, one-record atomicity)."""
        with self.lock:
            outer = self._journal
            self._journal = []
            try:
                yield self
            except BaseException:
                self._rollback()
                raise
            finally:
                journal, self._journal = self._journal, outer
                if outer is not None and journal:
                    outer.extend(journal)

    def _rollback(self) -> None:
        for obj, record_id, old in reversed(self._journal or []):
            current = self.tables[obj].get(record_id)
            self._reindex(obj, current, old)
            if old is None:
                self.tables[obj].pop(record_id, None)
            else:
                self.tables[obj][record_id] = old
        self._journal = []

    # ----------------------------------------------------------------- writes
    def insert_raw(self, obj: str, values: dict, *, at=None, record_id: str | None = None) -> str:
        """Seed a record as if it had always been there (no API checks; derivations still run)."""
        with self.lock:
            record_id = record_id or self.ids.next(self.catalog[obj].key_prefix)
            stamp = at or now_ms(self.clock)
            record = {f: None for f in self.catalog[obj].fields}
            for fd in self.catalog[obj].fields.values():
                if fd.type == "boolean" and not fd.calculated:
                    record[fd.name] = False
                if fd.default is not None and fd.default != "$current_user":
                    record[fd.name] = fd.default
            record["OwnerId"] = self.current_user_id if "OwnerId" in record else None
            if "OwnerId" not in self.catalog[obj].fields:
                record.pop("OwnerId")
            record.update(values)
            record.update(Id=record_id, IsDeleted=False, CreatedById=self.current_user_id,
                          LastModifiedById=self.current_user_id)
            record.setdefault("CreatedDate", stamp)
            record["CreatedDate"] = record["CreatedDate"] or stamp
            record["LastModifiedDate"] = record["LastModifiedDate"] or stamp
            record["SystemModstamp"] = record["SystemModstamp"] or stamp
            self._derive(obj, record, set(values))
            self._put(obj, record_id, None, record)
            return record_id

    def create(self, obj: str, payload: dict, *, access: ObjectDef | None = None) -> str:
        """``access``: the object as the calling user sees it (field-level security), for the
        fields the payload may name; the full definition otherwise."""
        with self.lock:
            odef = self.catalog[obj]
            if not odef.createable:
                raise RecordError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj} does not support create")
            values = self._coerce(access or odef, payload, creating=True)
            record = {f: None for f in odef.fields}
            for name, fd in odef.fields.items():
                if fd.type == "boolean" and not fd.calculated and fd.name != "IsDeleted":
                    record[name] = False
                if fd.default is not None:
                    record[name] = self.current_user_id if fd.default == "$current_user" else fd.default
            record.update(values)
            self._check_required(odef, record)
            self._check_rules(odef, record, set(values) | {"OwnerId"})
            record_id = self.ids.next(odef.key_prefix)
            stamp = now_ms(self.clock)
            record.update(Id=record_id, IsDeleted=False, CreatedDate=stamp, LastModifiedDate=stamp,
                          SystemModstamp=stamp, CreatedById=self.current_user_id,
                          LastModifiedById=self.current_user_id)
            self._derive(obj, record, set(values))
            self._check_unique(odef, record)
            self._put(obj, record_id, None, record)
            return record_id

    def update(self, obj: str, record_id: str, payload: dict, *, as_user: bool = False,
               access: ObjectDef | None = None) -> None:
        with self.lock:
            odef = self.catalog[obj]
            old = self._existing(obj, record_id)
            body = dict(payload)
            body_id = body.pop("Id", None) or body.pop("id", None)
            if body_id is not None and normalize_id(body_id) != old["Id"]:
                raise RecordError("INVALID_ID_FIELD", f"Id in the body ({body_id}) differs from the record's id",
                                  ["Id"])
            values = self._coerce(access or odef, body, creating=False, as_user=as_user)
            record = dict(old)
            record.update(values)
            self._check_required(odef, record)
            self._check_rules(odef, record, set(values))
            stamp = now_ms(self.clock)
            record.update(LastModifiedDate=stamp, SystemModstamp=stamp, LastModifiedById=self.current_user_id)
            self._derive(obj, record, set(values))
            self._check_unique(odef, record)
            self._put(obj, record_id, old, record)
            self._refresh_dependents(obj, record_id, set(values))

    def upsert(self, obj: str, field: str, value: str, payload: dict, *,
               access: ObjectDef | None = None) -> tuple[str, bool]:
        """Create or update by an external id; returns (id, created)."""
        with self.lock:
            existing = self.find_unique(obj, field, value)
            body = {k: v for k, v in payload.items() if k.lower() != field.lower()}
            sent = next((v for k, v in payload.items() if k.lower() == field.lower()), value)
            if sent != value:
                raise RecordError("INVALID_FIELD", f"{field}: value in the body differs from the URL", [field])
            if existing is not None and not existing["IsDeleted"]:
                self.update(obj, existing["Id"], body, access=access)
                return existing["Id"], False
            return self.create(obj, {**body, field: value}, access=access), True

    def add_field(self, obj: str, fd: FieldDef) -> None:
        """A field added by Setup (Tooling API): existing records read it as null."""
        with self.lock:
            self.catalog[obj] = self.catalog[obj].with_field(fd)
            if fd.unique:
                self._unique[(obj, fd.name)] = {}

    def put_raw(self, obj: str, record_id: str, values: dict) -> None:
        """Change a record as the platform does (no API checks): Setup rewriting its metadata rows."""
        with self.lock:
            old = self._existing(obj, record_id)
            stamp = now_ms(self.clock)
            self._put(obj, record_id, old, {**old, **values, "LastModifiedDate": stamp, "SystemModstamp": stamp})

    def replace_field(self, obj: str, fd: FieldDef) -> None:
        """A field's definition changed by Setup (same name and type): the records keep their values."""
        with self.lock:
            self.catalog[obj] = self.catalog[obj].with_field(fd)

    def delete(self, obj: str, record_id: str) -> None:
        """Moves the record to the recycle bin (IsDeleted, visible to queryAll), with cascades."""
        with self.lock:
            odef = self.catalog[obj]
            if not odef.deletable:
                raise RecordError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj} does not support delete")
            old = self._existing(obj, record_id)
            stamp = now_ms(self.clock)
            self._put(obj, record_id, old, {**old, "IsDeleted": True, "SystemModstamp": stamp,
                                             "LastModifiedDate": stamp})
            for rel in odef.children:
                if rel.cascade_delete:
                    for child in self.children(rel.child_sobject, rel.field, record_id):
                        if not child["IsDeleted"]:
                            self.delete(rel.child_sobject, child["Id"])

    # -------------------------------------------------------------- internals
    def _existing(self, obj: str, record_id: str) -> dict:
        normalized = normalize_id(record_id)
        record = self.tables[obj].get(normalized) if normalized else None
        if record is None:
            raise not_found()
        if record["IsDeleted"]:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return record

    def _coerce(self, odef: ObjectDef, payload: dict, *, creating: bool, as_user: bool = False) -> dict:
        values, locked = {}, []
        for key, raw in payload.items():
            if key == "attributes":
                continue
            fd = odef.field(key)
            if fd is None:
                raise RecordError("INVALID_FIELD", f"No such column '{key}' on sobject of type {odef.name}", [key])
            allowed = fd.createable if creating else fd.updateable
            if not allowed and not as_user:
                locked.append(fd.name)
                continue
            values[fd.name] = coerce_input(fd, raw)
        if locked:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security settings of "
                "this field and verify that it is read/write for your profile or permission set.", locked)
        return values

    def _check_required(self, odef: ObjectDef, record: dict) -> None:
        missing = [f.name for f in odef.fields.values()
                   if not f.nillable and (f.createable or f.updateable) and not f.calculated
                   and f.type != "boolean" and record.get(f.name) is None]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                              missing)

    def _check_rules(self, odef: ObjectDef, record: dict, changed: set[str]) -> None:
        if odef.name in setup_rules.SETUP_OBJECTS:
            setup_rules.check(self, odef, record)
        for name in changed:
            fd = odef.fields.get(name)
            if fd is not None and fd.type == "reference" and record.get(name):
                self._check_reference(odef, fd, record[name])
        owner = record.get("OwnerId")
        if "OwnerId" in changed and owner:
            user = self.tables["User"].get(owner)
            if user is not None and not user["IsActive"]:
                # [2ND: github.com/SalesforceLabs/Milestones-PM/issues/26 "INACTIVE_OWNER_OR_USER,
                # operation performed with inactive user"]
                raise RecordError("INACTIVE_OWNER_OR_USER",
                                  f"operation performed with inactive user [{owner}] as owner of "
                                  f"{odef.name.lower()}", ["OwnerId"])

    def _check_reference(self, odef: ObjectDef, fd: FieldDef, target_id: str) -> None:
        target_obj = self.object_of_id(target_id)
        if target_obj not in fd.reference_to:
            raise RecordError("FIELD_INTEGRITY_EXCEPTION",
                              f"{fd.label}: id value of incorrect type: {target_id}", [fd.name])
        target = self.tables[target_obj].get(target_id)
        if target is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fd.name])
        if target["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [fd.name])

    def _check_unique(self, odef: ObjectDef, record: dict) -> None:
        for fd in odef.fields.values():
            value = record.get(fd.name)
            if not fd.unique or value is None:
                continue
            holder = self._unique[(odef.name, fd.name)].get(self._unique_key(odef.name, fd.name, value))
            if holder is not None and holder != record["Id"]:
                # Unique text fields are case-insensitive unless set otherwise (the default).
                raise RecordError("DUPLICATE_VALUE",
                                  f"duplicate value found: {fd.name} duplicates value on record with id: {holder}",
                                  [fd.name])

    def _derive(self, obj: str, record: dict, changed: set[str]) -> None:
        """Fields Salesforce computes: formula-like names, stage flags, task status and account."""
        if obj in ("Contact", "User"):
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p) or None
        elif obj == "Opportunity":
            stage = STAGE_BY_NAME.get(record.get("StageName") or "")
            if stage is not None:
                record.update(IsClosed=stage.is_closed, IsWon=stage.is_won, ForecastCategory=stage.forecast)
                if "StageName" in changed and "Probability" not in changed:
                    record["Probability"] = float(stage.probability)
        elif obj == "Task":
            record["IsClosed"] = record.get("Status") in CLOSED_TASK_STATUSES
            record["AccountId"] = self._task_account(record)
        elif obj == "Event":
            record["AccountId"] = self._task_account(record)

    def _task_account(self, task: dict) -> str | None:
        what = self.lookup(task.get("WhatId"))
        if what is not None:
            return what["Id"] if what["Id"].startswith("001") else what.get("AccountId")
        who = self.lookup(task.get("WhoId"))
        return who.get("AccountId") if who is not None else None

    def _refresh_dependents(self, obj: str, record_id: str, changed: set[str]) -> None:
        """A moved Opportunity/Contact moves its tasks' AccountId (no timestamp bump: derived)."""
        if "AccountId" not in changed or obj not in ("Opportunity", "Contact"):
            return
        field = "WhatId" if obj == "Opportunity" else "WhoId"
        for activity in ACTIVITY_OBJECTS:
            for task in self.children(activity, field, record_id):
                new = {**task, "AccountId": self._task_account(task)}
                self._put(activity, task["Id"], task, new)

    def _unique_key(self, obj: str, field: str, value):
        """Unique text is compared case-insensitively unless the field is case-sensitive."""
        if not isinstance(value, str):
            return value
        fd = self.catalog[obj].fields.get(field)
        return value if fd is not None and fd.case_sensitive else value.casefold()

    def _put(self, obj: str, record_id: str, old: dict | None, new: dict) -> None:
        if self._journal is not None:
            self._journal.append((obj, record_id, old))
        self._reindex(obj, old, new)
        self.tables[obj][record_id] = new

    def _reindex(self, obj: str, old: dict | None, new: dict | None) -> None:
        for (index_obj, field), index in self._unique.items():
            if index_obj != obj:
                continue
            if old is not None and old.get(field) is not None:
                key = self._unique_key(obj, field, old[field])
                if index.get(key) == old["Id"]:
                    del index[key]
            if new is not None and new.get(field) is not None and not new["IsDeleted"]:
                index[self._unique_key(obj, field, new[field])] = new["Id"]
        for field in self._child_fields.get(obj, ()):
            index = self._children[(obj, field)]
            if old is not None and old.get(field):
                index.get(old[field], {}).pop(old["Id"], None)
            if new is not None and new.get(field):
                index.setdefault(new[field], {})[new["Id"]] = None
