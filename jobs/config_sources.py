"""Where each effective setting came from, for `afterclose check`: the config file, an
``AFTERCLOSE_<SECTION>__<KEY>`` variable (which wins over the file), or the default.

Shown for ``[server] host`` and ``port`` (what /healthz and /metrics listen on: an ops engineer's
first question) and for every key the environment sets; a secret's value is never shown.
"""

from __future__ import annotations

import os
from enum import Enum
from typing import Any

from pydantic import BaseModel, SecretStr

from connector.settings import Section
from jobs.config import Settings
from jobs.config_messages import ENV_DELIMITER, ENV_PREFIX, model_in

ALWAYS_SHOWN = (("server", ("host",)), ("server", ("port",)))


def value_sources(settings: Settings) -> list[str]:
    """One line per key, e.g. ``server.port = 9200 (from AFTERCLOSE_SERVER__PORT, over the config
    file's 9108)`` or ``hubspot.access_token (from AFTERCLOSE_HUBSPOT__ACCESS_TOKEN; a secret, not
    shown)``."""
    from_env = keys_from_environment()
    keys = [*ALWAYS_SHOWN, *(key for key in sorted(from_env) if key not in ALWAYS_SHOWN)]
    return [_line(settings, section, path, from_env.get((section, path))) for section, path in keys]


def keys_from_environment() -> dict[tuple[str, tuple[str, ...]], str]:
    """(section, key path) -> the ``AFTERCLOSE_<SECTION>__<KEY>`` variable that sets it."""
    found: dict[tuple[str, tuple[str, ...]], str] = {}
    for env in os.environ:
        if not env.upper().startswith(ENV_PREFIX):
            continue
        section, _, rest = env.upper().removeprefix(ENV_PREFIX).partition(ENV_DELIMITER)
        field = Settings.model_fields.get(section.lower())
        model = model_in(field.annotation) if field is not None and rest else None
        path = tuple(part.lower() for part in rest.split(ENV_DELIMITER))
        if model is not None and path[0] in model.model_fields:
            found[(section.lower(), path)] = env
    return found


def _line(settings: Settings, section: str, path: tuple[str, ...], env: str | None) -> str:
    dotted = ".".join((section, *path))
    secret = _is_secret(getattr(settings, section), path[0])
    shown = dotted if secret else f"{dotted} = {_shown(_value_at(getattr(settings, section), path))}"
    in_file = _value_at(settings.file_values.get(section), path)
    if env is None:
        return f"{shown} ({'from the config file' if in_file is not None else 'default'})"
    if secret:
        return f"{shown} (from {env}; a secret, not shown)"
    over = f", over the config file's {_shown(in_file)}" if in_file is not None else ""
    return f"{shown} (from {env}{over})"


def _is_secret(section: Any, name: str) -> bool:
    return isinstance(section, Section) and (name in section.secret_names()
                                             or isinstance(getattr(section, name, None), SecretStr))


def _value_at(container: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if isinstance(container, BaseModel):
            container = getattr(container, part, None)
        elif isinstance(container, dict):
            container = container.get(part)
        else:
            return None
    return container


def _shown(value: Any) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)
