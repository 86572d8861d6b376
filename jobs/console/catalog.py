"""Which CRM fields a mapping key may take: the picker's list and the verdict on one pick.

This is the console's one seam to the CRM's field list. ``field_catalog`` chooses how it is
answered:

- ``LiveFieldCatalog`` (when the adapter can list its fields, ``connector.port.SupportsFieldList``):
  the picker lists the live CRM fields of the key's record that can hold the key's type, by the
  one compatibility table `check` uses (connector/mapping/compat.py), with their labels and types;
- ``SchemaCheckCatalog`` (otherwise, for the task key, or when the CRM cannot be asked): the
  fields the mappings name (this file's and the built-in one's, for the key's record).

Any other internal name may be typed, and the verdict on a pick is always the whole
`afterclose check` path run on the mapping with that pick (mapping_check.py), narrowed to the
key. Pages ask ``choices`` and ``verdict`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from connector.errors import AfterCloseError
from connector.mapping import builtin_mapping, compat, load_mapping
from connector.model import RecordKind
from connector.port import SupportsFieldList
from jobs import logs
from jobs.cli.runtime import Runtime
from jobs.console.mapping_check import TASK_KEY, check_mapping, with_picks

log = logs.get_logger("afterclose.console")


@dataclass(frozen=True, kw_only=True, slots=True)
class MappingKey:
    """One row of the mapping page: a key of the file and the CRM field it names now."""

    key: str
    """``fields.<canonical>`` or ``task.key_field``."""
    label: str
    record: str
    type: str
    """The canonical type AfterClose reads or writes (``text``, ``date`` ...), ``key`` for the task key."""
    crm: str
    write: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class CrmField:
    name: str
    """The internal (API) name the mapping file holds."""
    label: str
    type: str | None
    """The CRM's own type name; None when the catalog cannot know it without a check."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    fits: bool
    note: str
    """The compatibility note, or the refusal, in `check`'s words."""


class FieldCatalog(Protocol):
    def choices(self, key: MappingKey) -> list[CrmField]:
        """The fields the picker offers for ``key`` (only compatible ones, when types are known)."""
        ...

    def verdict(self, key: MappingKey, crm_name: str) -> Verdict:
        """What `check` would say of ``key`` pointing at ``crm_name``; raises
        ``CrmUnavailable`` when the CRM cannot be asked."""
        ...


def mapping_keys(runtime: Runtime) -> list[MappingKey]:
    fieldmap = runtime.fieldmap
    keys = [MappingKey(key=f"fields.{spec.canonical}", label=fieldmap.label(spec.canonical), record=spec.record.value,
                       type=spec.type.value, crm=spec.crm_name, write=spec.write) for spec in fieldmap.fields.values()]
    return keys + [MappingKey(key=TASK_KEY, label="Task key (AfterClose's idempotency key)", record="task",
                              type="key", crm=fieldmap.task_key_field, write=True)]


def field_catalog(runtime: Runtime, mapping_path: Path) -> FieldCatalog:
    """The seam: how the console learns which CRM fields a key may take."""
    return LiveFieldCatalog(fallback=SchemaCheckCatalog(runtime=runtime, mapping_path=mapping_path))


@dataclass(kw_only=True)
class LiveFieldCatalog:
    fallback: SchemaCheckCatalog
    _live: dict[RecordKind, list[compat.CrmField]] | None = None
    """The live fields per record, read once per catalog (one page)."""

    def choices(self, key: MappingKey) -> list[CrmField]:
        spec = self.fallback.runtime.fieldmap.fields.get(key.key.removeprefix("fields."))
        live = self._fields().get(RecordKind(key.record)) if spec is not None else None
        if spec is None or live is None:
            return self.fallback.choices(key)
        values = compat.writes_values(spec.type, spec.options)
        return [CrmField(name=f.name, label=f.label, type=f.type) for f in live
                if compat.verdict(spec.type, values, f, write=spec.write).fits and (f.writable or not spec.write)]

    def verdict(self, key: MappingKey, crm_name: str) -> Verdict:
        return self.fallback.verdict(key, crm_name)

    def _fields(self) -> dict[RecordKind, list[compat.CrmField]]:
        if self._live is None:
            records = {spec.record for spec in self.fallback.runtime.fieldmap.fields.values()}
            try:
                with self.fallback.runtime.crm() as session:
                    adapter = session.adapter
                    self._live = ({record: adapter.crm_fields(record) for record in records}
                                  if isinstance(adapter, SupportsFieldList) else {})
            except AfterCloseError as exc:
                # The page still offers the mapped names; the verdict says the CRM is unreachable.
                log.warning("field_list_unavailable", error=logs.redact(str(exc)))
                self._live = {}
        return self._live


@dataclass(frozen=True, kw_only=True)
class SchemaCheckCatalog:
    runtime: Runtime
    mapping_path: Path

    def choices(self, key: MappingKey) -> list[CrmField]:
        known: dict[str, CrmField] = {}
        for fieldmap in (self.runtime.fieldmap, load_mapping(builtin_mapping(self.runtime.provider))):
            if key.key == TASK_KEY:
                known.setdefault(fieldmap.task_key_field, CrmField(name=fieldmap.task_key_field, label="Task key",
                                                                   type=None))
                continue
            for spec in fieldmap.fields.values():
                if spec.record is RecordKind(key.record):
                    known.setdefault(spec.crm_name, CrmField(name=spec.crm_name, label=fieldmap.label(spec.canonical),
                                                             type=None))
        return sorted(known.values(), key=lambda field: field.name.lower())

    def verdict(self, key: MappingKey, crm_name: str) -> Verdict:
        text = self.mapping_path.read_text(encoding="utf-8")
        checked = check_mapping(self.runtime, self.mapping_path, with_picks(text, {key.key: crm_name}))
        problems = checked.about(key.key)
        if problems:
            return Verdict(fits=False, note="; ".join(p.problem for p in problems))
        notes = checked.notes_about(key.key)
        if notes:
            return Verdict(fits=True, note=f"fits: {'; '.join(p.problem for p in notes)}")
        kind = "AfterClose writes it" if key.write else "AfterClose reads it"
        return Verdict(fits=True, note=f"fits: {crm_name} exists in the live CRM and can hold this {key.type} value "
                                       f"({kind})")
