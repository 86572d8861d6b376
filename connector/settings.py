"""What every settings section shares: declared once with type, default, description and whether
it is secret; validated once; frozen.

The connector settings (``HubSpotSettings``, ``SalesforceSettings``, ``RetrySettings``,
``NpsSourceConfig``) are these sections: the config file's ``[hubspot]``, ``[salesforce]``,
``[retry]`` and ``[nps]`` (jobs/config.py) are the very same classes, so a limit or default is
written down in one place.

Secrets are ``SecretStr`` (never in ``repr``, logs or errors) and can instead be read from a file
named by ``<name>_file`` (Docker and Kubernetes mount secrets as files). Whatever the source, a
secret is stripped of surrounding whitespace: a token file ends with a newline, and an
environment variable set with ``$'...\\n'`` would otherwise put the newline into an HTTP header,
whose error message then prints the token. A line break (or any control character) left *inside*
a secret is refused, naming the key, before anything is sent.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator
from pydantic_core import PydanticCustomError

RULE_ERROR = "section_rule"
"""The error type of a rule a section checks itself; its context names the key (``field``), so
the config's error can say ``nps.path``, not just ``nps``."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @classmethod
    def secret_names(cls) -> tuple[str, ...]:
        """Fields holding a secret, each with a ``<name>_file`` twin."""
        return tuple(name for name in cls.model_fields if f"{name}_file" in cls.model_fields)

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        """Read each ``<name>_file`` into ``<name>`` (on a copy of the input; nothing is mutated),
        and strip every secret of surrounding whitespace."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in cls.secret_names():
            path = data.get(f"{name}_file")
            if path is not None:
                if data.get(name) is not None:
                    raise _file_error(name, f"{name} is given too; give the secret inline or as a file, not both")
                data[name] = _read_secret(name, Path(path))
            value = data.get(name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, str):
                value = value.strip()
                if any(unicodedata.category(char) == "Cc" for char in value):
                    # No header, URL or form can carry it, and the library that refuses it would
                    # print it in its error. The value itself is never shown.
                    raise problem(name, "contains a line break or another control character inside it; a "
                                        "secret is one line: check the variable or file that sets it")
                data[name] = value or None
        return data

    def secret(self, name: str) -> str | None:
        """A secret's plain value (None when unset). Never log the result."""
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else value


def _read_secret(name: str, path: Path) -> str:
    try:
        content = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise _file_error(name, f"cannot read {path}: {exc.strerror or exc}") from None
    if not content:
        raise _file_error(name, f"{path} is empty")
    return content


def _file_error(name: str, message: str) -> PydanticCustomError:
    return problem(f"{name}_file", message)


def problem(field: str, message: str) -> PydanticCustomError:
    """A validation error that names the key it is about (raise it from a section's validator)."""
    return PydanticCustomError(RULE_ERROR, "{message}", {"field": field, "message": message})
