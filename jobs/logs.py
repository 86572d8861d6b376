"""Structured logs: JSON lines when not on a terminal, readable lines on one; always on stderr.

Every secret the config holds is registered here at start-up and masked in every event, whatever
field it hides in (a token echoed back inside a CRM error message, a traceback, a library's own
log record). That is the last line of defence; the first is never putting secrets into events.

Library log records (APScheduler, uvicorn, the SDKs) go through the same pipeline via the
standard ``logging`` bridge, so they are structured and redacted like AfterClose's own events.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TextIO, cast

import structlog
from structlog.typing import Processor

from connector import redaction

MASK = redaction.MASK
MIN_SECRET_LENGTH = 6
"""Shorter values would mask ordinary words (and are not credentials anyone issues)."""
_secrets: set[str] = set()
_searched: tuple[str, ...] = ()
"""Every form of every registered secret (connector/redaction.py): as written, repr'd, JSON-,
URL- and XML-escaped, and each of those escaped once more."""
_handler: logging.Handler | None = None


def register_secrets(values: Iterable[str | None]) -> None:
    global _searched
    _secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)
    _searched = redaction.searched_forms(_secrets)


def forget_secrets() -> None:
    """For tests: start from no registered secret."""
    global _searched
    _secrets.clear()
    _searched = ()


def redact(text: str) -> str:
    return redaction.mask(text, _searched)


def redact_value(value):
    """Mask secrets inside strings, containers and exceptions (for logs and JSON output)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return value


def _redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    return {key: redact_value(value) for key, value in event.items()}


def _wants_json(fmt: str, stream: TextIO) -> bool:
    if fmt != "auto":
        return fmt == "json"
    isatty = getattr(stream, "isatty", None)
    return not (isatty and isatty())


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Route structlog and the standard ``logging`` module to ``stream`` (default: stderr).

    Called again (each CLI command calls it once the config is read), it replaces the previous
    set-up instead of adding a second handler.
    """
    global _handler
    stream = stream if stream is not None else sys.stderr
    renderer = (structlog.processors.JSONRenderer() if _wants_json(fmt, stream)
                else structlog.dev.ConsoleRenderer(colors=False))
    stamped: list[Processor] = [structlog.processors.add_log_level, structlog.stdlib.add_logger_name,
               structlog.processors.TimeStamper(fmt="iso", utc=True)]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=stamped,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,  # the traceback becomes text, so it is redacted too
            _redact_event,
            renderer,
        ],
    )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = logging.StreamHandler(stream)
    _handler.setFormatter(formatter)
    root.addHandler(_handler)
    root.setLevel(logging.getLevelName(level.upper()))
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.stdlib.filter_by_level, *stamped,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    # The SDKs log request details (URLs, sometimes headers) at DEBUG, uvicorn and APScheduler
    # every request and every job start at INFO: keep them to warnings.
    for noisy in ("alembic", "urllib3", "simple_salesforce", "hubspot", "httpx", "apscheduler",
                  "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def silence() -> None:
    """No log output at all (the demo prints its own account of what happened)."""
    configure("error", "json", stream=cast(TextIO, _NullStream()))
    logging.getLogger().setLevel(logging.CRITICAL + 1)


class _NullStream:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def get_logger(name: str):
    return structlog.get_logger(name)
