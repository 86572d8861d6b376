"""Structured logs: JSON lines when not on a terminal, readable lines on one.

Every secret the config holds is registered here at start-up and masked in every event, whatever
field it hides in (a token echoed back inside a CRM error message, say). That is the last line of
defence; the first is never putting secrets into events at all.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

import structlog

MASK = "***"
_secrets: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Values too short to be secrets (< 6 chars) would mask ordinary words; they are ignored."""
    _secrets.update(v for v in values if v and len(v) >= 6)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact_event(_, __, event: dict) -> dict:
    return {key: _redact_value(value) for key, value in event.items()}


def _redact_value(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return value


def configure(level: str = "info", fmt: str = "auto", stream=None) -> None:
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # The SDKs log request details (URLs, sometimes headers) at DEBUG; keep them quiet.
    for noisy in ("urllib3", "simple_salesforce", "hubspot", "httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str):
    return structlog.get_logger(name)
