"""Editing one touch point or one playbook of a playbook file (``[playbook] file``) with tomlkit,
so the file keeps its comments and order, and checking the result with the loader itself
(``jobs.playbooks.playbooks_from_text``): the same rules, the same messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from connector.errors import AfterCloseError
from jobs.cli.runtime import Runtime
from jobs.playbooks import playbooks_from_text

TOUCH_POINT_TEXT = ("title", "purpose")
TOUCH_POINT_CHOICES = {"anchor": ("close", "renewal"), "type": ("todo", "call", "email"),
                       "priority": ("normal", "high", "low")}
PLAYBOOK_FLAGS = (("handoff_task", True), ("renewal_deal", False), ("roll_forward", True))


class EditProblem(AfterCloseError):
    """The form cannot be turned into TOML (a `when` that is not a TOML inline table ...)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Item:
    kind: str
    """``touch_point`` or ``playbook``."""
    id: str

    @classmethod
    def parse(cls, value: str) -> Item | None:
        kind, _, ident = value.partition(":")
        return cls(kind=kind, id=ident) if kind in ("touch_point", "playbook") and ident else None

    @property
    def table(self) -> str:
        return "touch_points" if self.kind == "touch_point" else "playbooks"

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def item_values(text: str, item: Item) -> dict[str, Any] | None:
    """The item's keys as the file holds them (None when the file does not define it)."""
    for entry in tomlkit.parse(text).get(item.table, []):
        if entry.get("id") == item.id:
            values = entry.unwrap()
            if "when" in values:
                values["when_text"] = entry["when"].as_string().strip()
            return dict(values)
    return None


def with_edit(text: str, item: Item, form: dict[str, str], checked: set[str]) -> str:
    """The file's text with ``item`` changed as the form says."""
    doc = tomlkit.parse(text)
    entry = next((e for e in doc.get(item.table, []) if e.get("id") == item.id), None)
    if entry is None:
        raise EditProblem(f"the file defines no {item.kind.replace('_', ' ')} {item.id!r}")
    if item.kind == "touch_point":
        _touch_point(entry, form, checked)
    else:
        _playbook(entry, form, checked)
    return tomlkit.dumps(doc)


def _touch_point(entry: Any, form: dict[str, str], checked: set[str]) -> None:
    for name in TOUCH_POINT_TEXT:
        _set_or_drop(entry, name, form.get(name, "").strip(), keep_empty=name == "title")
    for name, allowed in TOUCH_POINT_CHOICES.items():
        value = form.get(name, allowed[0])
        if value not in allowed:
            raise EditProblem(f"{name} must be one of {', '.join(allowed)}")
        _set_or_drop(entry, name, value, default=allowed[0] if name != "anchor" else None)
    try:
        entry["offset"] = int(form.get("offset", "0"))
    except ValueError:
        raise EditProblem("offset must be a whole number of days (negative: before the anchor)") from None
    _set_or_drop(entry, "business_days", "business_days" in checked, default=False)


def _playbook(entry: Any, form: dict[str, str], checked: set[str]) -> None:
    _set_or_drop(entry, "title", form.get("title", "").strip(), keep_empty=True)
    when = form.get("when", "").strip()
    if when:
        try:
            entry["when"] = tomlkit.parse(f"when = {when}")["when"]
        except TOMLKitError as exc:
            raise EditProblem(f"when: not a TOML inline table like {{ field = \"deal_type\", equals = \"renewal\" }} "
                              f"({exc})") from None
    elif "when" in entry:
        del entry["when"]
    chosen = [name for name in form.get("touch_points_order", "").split(",") if name and f"tp:{name}" in checked]
    entry["touch_points"] = chosen
    for name, default in PLAYBOOK_FLAGS:
        _set_or_drop(entry, name, name in checked, default=default)


def _set_or_drop(entry: Any, name: str, value: object, *, default: object = None, keep_empty: bool = False) -> None:
    """Write the key; a key at its default (or empty) that the file did not have stays out."""
    if (value == default or (value == "" and not keep_empty)) and name not in entry:
        return
    if value == "" and not keep_empty:
        del entry[name]
        return
    entry[name] = value


def check_playbooks(runtime: Runtime, source: str, text: str) -> list[str]:
    """Every problem the loader finds in the playbook file ``text`` (empty: it loads)."""
    try:
        playbooks_from_text(runtime.settings, runtime.fieldmap, text, source)
    except AfterCloseError as exc:
        return [str(exc)]
    return []
