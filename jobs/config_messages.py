"""What is wrong with the settings, in words that name the key: pydantic's validation errors and
pydantic-settings' unreadable variables turned into (dotted key, message) lines.

Separate from jobs/config.py so the settings model, its file reading and its messages each stay
small; every function takes the root model it explains, so nothing here imports the settings
(jobs/config_sources.py and jobs/playbooks use the same messages for their own roots).
"""

from __future__ import annotations

import difflib
import os
from typing import Any

from pydantic import BaseModel, ValidationError

from connector.settings import RULE_ERROR

ENV_PREFIX = "AFTERCLOSE_"
ENV_DELIMITER = "__"


def describe(exc: ValidationError, root: type[BaseModel]) -> list[tuple[str, str]]:
    problems = []
    # Context is read only for a section's own rules (the key they name); no input is ever echoed.
    for error in exc.errors(include_url=False, include_input=False):
        key = dotted(error["loc"])
        if error["type"] == RULE_ERROR:  # a section's own rule names the key it is about
            key = f"{key}.{error['ctx']['field']}" if key else error["ctx"]["field"]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = _unknown_key_message(error["loc"], root)
        problems.append((key, message + env_hint(key)))
    return problems


def dotted(loc: tuple[Any, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _unknown_key_message(loc: tuple[Any, ...], root: type[BaseModel]) -> str:
    known = _known_keys_at(loc[:-1], root)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return "unknown key" + (f"; did you mean {close[0]!r}?" if close else f" (known here: {', '.join(sorted(known))})")


def _known_keys_at(parent: tuple[Any, ...], root: type[BaseModel]) -> list[str]:
    model: type[BaseModel] | None = root
    for part in parent:
        if isinstance(part, int):
            continue
        field_info = model.model_fields.get(str(part)) if model else None
        model = model_in(field_info.annotation) if field_info else None
    return list(model.model_fields) if model else []


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside an annotation such as ``list[TouchPointSection] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for arg in getattr(annotation, "__args__", ()) if (m := model_in(arg))), None)


def env_hint(key: str) -> str:
    """Say when the value came from the environment, so nobody hunts for it in the file."""
    name = ENV_PREFIX + ENV_DELIMITER.join(part.split("[")[0] for part in key.split(".")).upper()
    present = {env.upper() for env in os.environ}
    return f" (from {name})" if name in present else ""


def env_parse_problems(exc: Exception, root: type[BaseModel]) -> list[tuple[str, str]]:
    """``AFTERCLOSE_SERVER=x``: a variable named after a whole section, which pydantic-settings
    reads as that section's JSON and cannot parse. Name the variable and the form that works."""
    sections = {name.upper(): name for name in root.model_fields}
    culprits = [(env, sections[env.upper().removeprefix(ENV_PREFIX)]) for env in os.environ
                if env.upper().startswith(ENV_PREFIX) and env.upper().removeprefix(ENV_PREFIX) in sections]
    if not culprits:
        return [("environment", f"an {ENV_PREFIX}* variable cannot be read: {exc}")]
    return [(section, f"{env} is set, but [{section}] is a section, not one value: set its keys one by one as "
                      f"{ENV_PREFIX}{section.upper()}{ENV_DELIMITER}<KEY> (e.g. "
                      f"{ENV_PREFIX}{section.upper()}{ENV_DELIMITER}{_first_key(section, root).upper()}), "
                      f"or unset {env}")
            for env, section in culprits]


def _first_key(section: str, root: type[BaseModel]) -> str:
    model = model_in(root.model_fields[section].annotation)
    return next(iter(model.model_fields)) if model else "KEY"
