"""The config file itself: reading it, and what it gives away about secrets written into it.

Kept apart from the settings model (jobs/config.py): these are the file-system facts (who may
read the file, who AfterClose runs as) that an ops engineer meets first when a mount is wrong.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connector.errors import ConfigError
from connector.settings import Section
from jobs.config_messages import ENV_DELIMITER, ENV_PREFIX


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("config file not found", source=str(path)) from None
    except PermissionError as exc:
        raise ConfigError(
            f"cannot read the config file: {exc.strerror or exc}. AfterClose runs as {process_user()}, which "
            "may not read it; in the container that is uid 10001, so a host file mounted into it must be "
            "readable by uid 10001 (docs/operations.md, section 2, shows the ownership that works)",
            source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None


def process_user() -> str:
    """How messages name the user AfterClose runs as (``uid 10001`` in the image)."""
    uid = process_uid()
    return f"uid {uid}" if uid is not None else "the current user"


def process_uid() -> int | None:
    getuid = getattr(os, "getuid", None)  # POSIX only
    return getuid() if getuid else None


def inline_secret_keys(data: dict[str, Any], root: type[BaseModel]) -> Iterator[str]:
    """The dotted keys of secrets written into the file itself (not a ``_file`` key or the
    environment); a state URL counts only when it holds a password."""
    for section_name, field_info in root.model_fields.items():
        section_type = field_info.annotation
        values = data.get(section_name)
        if not isinstance(values, dict) or not isinstance(section_type, type):
            continue
        names = section_type.secret_names() if issubclass(section_type, Section) else ()
        for name in names:
            if values.get(name) is not None:
                if (section_name, name) == ("state", "url") and not _has_password(values[name]):
                    continue
                yield f"{section_name}.{name}"


def _has_password(url: Any) -> bool:
    try:
        return bool(make_url(str(url)).password)
    except ArgumentError:
        return False


def readable_secrets_warning(source: str, inline_secrets: tuple[str, ...]) -> list[str]:
    """Advice when a file that holds secrets can be read by others."""
    if not inline_secrets:
        return []
    try:
        mode = os.stat(source).st_mode
    except OSError:
        return []
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return []
    uid = process_uid()
    # Not just "chmod 600": a file only its owner can read is unreadable to the container's
    # user (uid 10001) when it is bind-mounted from a host account (docs/operations.md §2).
    return [
        f"{source} holds secrets ({', '.join(inline_secrets)}) and others can read it "
        f"(mode {stat.S_IMODE(mode):o}). Move the secrets out of the file: a *_file key naming a mounted "
        f"secret file, or an {ENV_PREFIX}<SECTION>{ENV_DELIMITER}<KEY> variable; the file then needs no "
        f"protection. To keep them in the file, make it readable by uid {uid} (the user AfterClose runs "
        f"as) and nobody else: chown {uid} and chmod 600 it (where it is mounted from, for a container)."
    ]
