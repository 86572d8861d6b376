"""The playbooks the config asks for: ``[playbook]`` (and a playbook file) as the pure core's values.

Where they come from, first match wins:

1. ``[playbook] file = "..."``: a playbook file with ``touch_points`` and ``playbooks``;
2. ``[[playbook.playbooks]]`` in the config (touch points from ``[[playbook.touch_points]]`` and
   the built-in ones);
3. ``[[playbook.touch_points]]`` alone: one playbook, every deal gets those (as before playbooks
   could be chosen);
4. the built-in set shipped next to the mappings (``mappings/<crm>.playbooks.toml``): new business,
   expansion and renewal deal, chosen by deal type; or, with ``builtin_segments = false``, its new
   business playbook for every deal.

Everything is checked before any CRM call, and every problem names the file, the playbook and the
key: an unknown touch point, a condition on a field the mapping does not declare, two playbooks
with one id, a default playbook that is not last, a repeat with no end and no horizon.
"""

from __future__ import annotations

import functools
import importlib.resources
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from connector.errors import ConfigError
from connector.mapping import FieldMap
from connector.mapping.rules import suggest
from connector.model import Provider, RecordKind
from connector.settings import Section
from jobs.config import Settings, SettingsError
from jobs.config_messages import describe
from jobs.config_playbook import PlaybookEntrySection, PlaybookSection, TouchPointSection
from jobs.core.conditions import ALWAYS, BUILT_IN_FACTS, field_names
from jobs.core.playbook import DEFAULT_PLAYBOOK, Playbook, Repeat, TouchPointRule
from jobs.core.playbook_set import PlaybookSet, Segment
from jobs.core.renewal_deals import RenewalDealRule
from jobs.playbooks.conditions import ConditionProblem, parse_condition
from jobs.playbooks.renewal_deal import check_renewal_deals, renewal_deal_rule


@dataclass(frozen=True, kw_only=True)
class Playbooks:
    """The playbook set, where it came from, and what an admin should know about it."""

    set: PlaybookSet
    source: str
    """The file (or config) the playbooks were read from, for messages."""
    notes: tuple[str, ...] = ()


class PlaybookFile(Section):
    """A playbook file: the same keys as ``[playbook]``'s ``touch_points`` and ``playbooks``."""

    touch_points: list[TouchPointSection] | None = Field(None, description="Touch points the playbooks use.")
    playbooks: list[PlaybookEntrySection] | None = Field(None, min_length=1, description="The playbooks, in order.")


def builtin_playbooks_file(provider: Provider | str) -> Path:
    """The built-in playbook file for ``provider`` (package data of ``mappings``)."""
    resource = importlib.resources.files("mappings").joinpath(f"{Provider(provider).value}.playbooks.toml")
    return Path(str(resource))


def build_playbook(settings: Settings) -> Playbook:
    """The calendar every playbook shares, with the built-in touch points (the NPS job's tasks
    fall due in it)."""
    try:
        return _calendar(settings.playbook, DEFAULT_PLAYBOOK.touch_points, "default", "Default")
    except ValueError as exc:
        raise ConfigError(str(exc), source=settings.source, key="playbook") from exc


def build_playbooks(settings: Settings, fieldmap: FieldMap) -> Playbooks:
    section = _with_crm_ids(settings.playbook, fieldmap.provider)
    config = settings.source or "the config"
    builtin_path = builtin_playbooks_file(fieldmap.provider)
    builtin = _read_file(builtin_path)
    if section.file is not None:
        return _from_entries(section, _read_file(Path(section.file)), builtin, str(section.file), "", fieldmap,
                             strict=True)
    if section.playbooks:
        own = PlaybookFile(touch_points=section.touch_points, playbooks=section.playbooks)
        return _from_entries(section, own, builtin, config, "playbook.", fieldmap, strict=True)
    if section.touch_points:
        rules = tuple(_rule(tp, config, f"playbook.touch_points[{i}]") for i, tp in enumerate(section.touch_points))
        single = _guarded(lambda: _calendar(section, rules, "default", "Default"), config, "playbook")
        library = tuple(_rule(tp, str(builtin_path), "touch_points") for tp in builtin.touch_points or ())
        return Playbooks(set=PlaybookSet.of(single, library), source=config)
    chosen = builtin
    if not section.builtin_segments:
        default = [entry for entry in builtin.playbooks or () if entry.when is None]
        chosen = PlaybookFile(touch_points=builtin.touch_points, playbooks=default)
    return _from_entries(section, chosen, builtin, str(builtin_path), "", fieldmap, strict=False)


# --- reading ---------------------------------------------------------------------------------------


def playbooks_from_text(settings: Settings, fieldmap: FieldMap, text: str, source: str) -> Playbooks:
    """What ``build_playbooks`` makes of a playbook file (``[playbook] file``) holding ``text``:
    the admin console checks an edited file this way before it writes it."""
    builtin = _read_file(builtin_playbooks_file(fieldmap.provider))
    return _from_entries(_with_crm_ids(settings.playbook, fieldmap.provider), _parse_file(text, source), builtin,
                         source, "", fieldmap, strict=True)


def _with_crm_ids(section: PlaybookSection, provider: Provider) -> PlaybookSection:
    """``fallback_owner`` in the form the CRM answers with (a Salesforce user id typed with 15
    characters as its 18), so the owner of a task read back compares equal to it."""
    if not section.fallback_owner:
        return section
    from jobs.wiring import wiring  # the one place in jobs/ that names the CRMs

    return section.model_copy(update={"fallback_owner": wiring(provider).record_id(section.fallback_owner)})


def _read_file(path: Path) -> PlaybookFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("playbook file not found", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the playbook file: {exc.strerror or exc}", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None
    return _parse_file(text, str(path))


def _parse_file(text: str, source: str) -> PlaybookFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from None
    try:
        return PlaybookFile(**data)
    except ValidationError as exc:
        raise SettingsError(describe(exc, PlaybookFile), source=source) from None
    except TypeError:
        raise ConfigError("a playbook file holds `touch_points` and `playbooks` tables", source=source) from None


def _from_entries(section: PlaybookSection, own: PlaybookFile, builtin: PlaybookFile, source: str, prefix: str,
                  fieldmap: FieldMap, *, strict: bool) -> Playbooks:
    """``own``'s playbooks; touch points are ``own``'s, then the built-in ones by id."""
    rules = {tp.id: _rule(tp, str(builtin_playbooks_file(fieldmap.provider)), "touch_points")
             for tp in builtin.touch_points or ()}
    rules |= {tp.id: _rule(tp, source, f"{prefix}touch_points[{index}]")
              for index, tp in enumerate(own.touch_points or ())}
    entries = own.playbooks or builtin.playbooks or ()
    facts = _facts(fieldmap)
    segments, notes = [], []
    for index, entry in enumerate(entries):
        where = f"{prefix}playbooks[{index}]"
        when, unmapped = _when(entry, where, source, facts, strict=strict)
        if unmapped:
            notes.append(f"{source}: playbook {entry.id!r}: {unmapped} is not mapped in {fieldmap.source}, so "
                         f"this playbook is never chosen (map it to tell these deals apart)")
        chosen = tuple(_touch_point(rules, name, f"{where}.touch_points[{n}]", entry, source)
                       for n, name in enumerate(entry.touch_points))
        renewal = renewal_deal_rule(entry, fieldmap, source, where)
        playbook = _guarded(functools.partial(_calendar, section, chosen, entry.id, entry.title, entry, renewal),
                            source, where)
        segments.append(Segment(playbook=playbook, when=when))
    built = _guarded(lambda: PlaybookSet(segments=tuple(segments), library=tuple(rules.values())), source,
                     f"{prefix}playbooks")
    check_renewal_deals(built, entries, fieldmap, source, prefix)
    return Playbooks(set=built, source=source, notes=tuple(notes))


def _when(entry: PlaybookEntrySection, where: str, source: str, facts: set[str], *, strict: bool):
    if entry.when is None:
        return ALWAYS, None
    try:
        condition = parse_condition(entry.when, "when")
    except ConditionProblem as problem:
        raise ConfigError(f"playbook {entry.id!r}: {problem}", source=source, key=f"{where}.{problem.key}") from None
    for key, name in field_names(condition):
        if name in facts:
            continue
        if not strict:
            return condition, name
        raise ConfigError(f"playbook {entry.id!r}: the condition tests {name!r}, which is neither a deal field in "
                          f"the mapping nor a built-in fact{suggest(name, facts)}; map it under [fields.{name}] "
                          f"(record = \"deal\") or use one of: {', '.join(sorted(facts))}",
                          source=source, key=f"{where}.{key}")
    return condition, None


def _facts(fieldmap: FieldMap) -> set[str]:
    return {spec.canonical for spec in fieldmap.for_record(RecordKind.DEAL)} | set(BUILT_IN_FACTS)


def _touch_point(rules: dict[str, TouchPointRule], name: str, key: str, entry: PlaybookEntrySection,
                 source: str) -> TouchPointRule:
    if name not in rules:
        raise ConfigError(f"playbook {entry.id!r}: no touch point {name!r}{suggest(name, rules)}; define it under "
                          f"touch_points or use one of: {', '.join(sorted(rules))}", source=source, key=key)
    return rules[name]


def _rule(tp: TouchPointSection, source: str, key: str) -> TouchPointRule:
    repeat = None
    if tp.repeat is not None:
        r = tp.repeat
        repeat = Repeat(every=r.every, unit=r.unit, until=r.until, until_offset_days=r.until_offset,
                        horizon_days=r.horizon_days)
    return _guarded(lambda: TouchPointRule(id=tp.id, title=tp.title, anchor=tp.anchor, offset_days=tp.offset,
                                           business_days=tp.business_days, type=tp.type, priority=tp.priority,
                                           purpose=tp.purpose, repeat=repeat), source, key)


def _calendar(section: PlaybookSection, rules: tuple[TouchPointRule, ...], ident: str, title: str,
              entry: PlaybookEntrySection | None = None, renewal: RenewalDealRule | None = None) -> Playbook:
    extra: dict[str, Any] = {}
    if entry is not None:
        extra = dict(handoff=entry.handoff_task, renewal_deal=entry.renewal_deal, roll_forward=entry.roll_forward,
                     create_renewal_deal=renewal)
    return Playbook(
        id=ident, title=title, touch_points=rules, timezone=section.timezone, workdays=frozenset(section.workdays),
        holidays=frozenset(section.holidays), due_hour=section.due_hour, catch_up_days=section.catch_up_days,
        contract_term_months=section.contract_term_months, owner_field=section.owner_field or None,
        fallback_owner=section.fallback_owner or None, **extra,
    )


def _guarded(make, source: str, key: str):
    """``make()``, with a core value's ValueError as a ConfigError naming the file and the key."""
    try:
        return make()
    except ValueError as exc:
        raise ConfigError(str(exc), source=source, key=key) from exc


__all__ = ["PlaybookFile", "Playbooks", "build_playbook", "build_playbooks", "builtin_playbooks_file",
           "playbooks_from_text"]
