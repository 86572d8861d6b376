"""What the plan is made from, besides the deals and the ledger: the mapping (field names,
templates, handoff rules) and the playbooks (touch points, conditions, calendar). Pure.

A deal is decided again when it changes; an admin editing a template, a touch point or a
playbook's condition changes no deal, so without this the edit would reach a customer's open
tasks only when a rep happened to touch the deal, unevenly. The sync job keeps this digest in the
state store and plans every won deal once when it differs (jobs/sync/job.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
from collections.abc import Mapping
from typing import Any


def plan_inputs_digest(*inputs: object) -> str:
    """A digest of ``inputs`` that is the same in every process (sets are sorted, so Python's
    per-process string hashing does not change it) and changes with any value inside them."""
    return hashlib.sha256(repr(_canonical(inputs)).encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,
                tuple((f.name, _canonical(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, Mapping):
        return ("map", tuple(sorted(((repr(_canonical(k)), _canonical(v)) for k, v in value.items()),
                                    key=lambda item: item[0])))
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted(repr(_canonical(item)) for item in value)))
    if isinstance(value, list | tuple):
        return tuple(_canonical(item) for item in value)
    if isinstance(value, enum.Enum):
        return (type(value).__name__, value.name)
    if value is None or isinstance(value, str | int | float | bool | dt.date | dt.datetime | dt.timedelta):
        return value
    return repr(value)
