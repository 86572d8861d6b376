"""Admin-edited field mappings: mappings/<crm>.toml compiled once into a ``FieldMap``.

A ``FieldMap`` says which CRM field holds each canonical field (``decision_criteria`` -> the
org's own API name), which fields the handoff requires and by which rules, which fields
AfterClose writes back, and the task templates. Vendor field names come from the TOML files
only: this package holds none.

``load_mapping`` refuses a file with one ``ConfigError`` that names the file, the dotted key and
(best effort) the line of every problem it found, so an admin fixes them all in one pass. The
file format is explained key by key in mappings/README.md.

The package uses the standard library only (tomllib, string.Formatter): the pure core imports
its types, and the design keeps the pure core free of third-party imports. Its rooms: model.py
(the values), templates.py (the placeholder table and filling), compiler.py (checking a file),
compat.py (which canonical types fit which CRM field types),
lines.py (naming a key and its line in messages).
"""

from __future__ import annotations

import importlib.resources
import tomllib
from pathlib import Path

from connector.errors import ConfigError
from connector.mapping.compat import date_as_datetime
from connector.mapping.compiler import Compiler
from connector.mapping.lines import format_key, toml_error
from connector.mapping.model import FieldMap, FieldSpec, FieldType, HandoffRule, RuleKind, TaskTemplate, humanize
from connector.mapping.rules import CLOSE_DATE
from connector.mapping.templates import NOT_RECORDED, PLACEHOLDERS, RESERVED_NAMES, format_stakeholders, render_template
from connector.model import Provider


def builtin_mapping(provider: Provider | str) -> Path:
    """The path of the mapping shipped for ``provider`` (package data of ``mappings``)."""
    try:
        provider = Provider(provider)
    except ValueError:
        known = ", ".join(p.value for p in Provider)
        raise ConfigError(f"no built-in mapping for {provider!r}; expected one of: {known}",
                          key="provider") from None
    resource = importlib.resources.files("mappings").joinpath(f"{provider.value}.toml")
    return Path(str(resource))


def load_mapping(path: str | Path) -> FieldMap:
    """Read and compile a mapping file; every user mistake is a ``ConfigError``."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the mapping file: {exc.strerror or exc}",
                          source=source, key="(file)") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the file is not UTF-8 text (byte {exc.start})",
                          source=source, key="(file)") from None
    return parse_mapping(text, source=source)


def parse_mapping(text: str, *, source: str = "<mapping>") -> FieldMap:
    """Compile mapping TOML text; ``source`` names it in errors (``load_mapping`` passes the path)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise toml_error(exc, text, source) from None
    return Compiler(source, text).compile(data)


__all__ = [
    "CLOSE_DATE", "NOT_RECORDED", "PLACEHOLDERS", "RESERVED_NAMES", "FieldMap", "FieldSpec", "FieldType",
    "HandoffRule", "RuleKind", "TaskTemplate", "builtin_mapping", "date_as_datetime", "format_key",
    "format_stakeholders", "humanize", "load_mapping", "parse_mapping", "render_template",
]
