"""Idempotency keys: the identity of every task AfterClose makes. Pure.

``ac1:<provider>:<deal ref>:<touch point id>:<cycle>``, e.g. ``ac1:hubspot:123456:renewal_review:2``.

- The key, not the due date, identifies a task: a moved renewal date reschedules the task with
  the same key instead of creating a second one.
- It is stored on the task in the CRM too (Salesforce External ID upsert, HubSpot task property),
  so losing the state database never duplicates a task. It therefore has to fit a 255-character
  text field (Salesforce Text fields hold at most 255 characters) and be stable forever: changing
  this format would orphan every task already written, hence the version prefix ``ac1``.
- The deal ref is the deal id itself when it is short and plain (HubSpot numeric ids, Salesforce
  15/18-character ids); any other id (long, or with ``:`` or spaces) is replaced by ``~`` and a
  SHA-256 digest, which still makes the key unique per deal but no longer gives the id back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from connector.model import Provider

PREFIX = "ac1"
MAX_KEY_LENGTH = 255
_PLAIN_DEAL_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TOUCH_POINT = re.compile(r"[a-z][a-z0-9_]{0,39}")
_HASH_MARK = "~"
_HASH_CHARS = 32
_MAX_CYCLE = 9999
_KEY = re.compile(
    rf"{PREFIX}:(?P<provider>[a-z]+):(?P<deal>[A-Za-z0-9_.-]{{1,64}}|~[0-9a-f]{{{_HASH_CHARS}}})"
    rf":(?P<touch_point>[a-z][a-z0-9_]{{0,39}}):(?P<cycle>[0-9]{{1,4}})"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ParsedKey:
    provider: Provider
    deal_ref: str
    """The deal id, or ``~<digest>`` for an id that had to be hashed."""
    touch_point: str
    cycle: int

    @property
    def deal_id(self) -> str | None:
        """The deal id, when the key carries it in clear."""
        return None if self.deal_ref.startswith(_HASH_MARK) else self.deal_ref

    def belongs_to(self, deal_id: str) -> bool:
        return self.deal_ref == deal_ref(deal_id)


def deal_ref(deal_id: str) -> str:
    """The deal id as it appears in a key."""
    if _PLAIN_DEAL_ID.fullmatch(deal_id):
        return deal_id
    digest = hashlib.sha256(deal_id.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    return _HASH_MARK + digest


def task_key(provider: Provider | str, deal_id: str, touch_point: str, cycle: int) -> str:
    """The idempotency key of one touch point of one deal in one cycle."""
    provider = Provider(provider)
    if not deal_id:
        raise ValueError("task key: deal id must not be empty")
    if not _TOUCH_POINT.fullmatch(touch_point):
        raise ValueError(f"task key: touch point id {touch_point!r} must match {_TOUCH_POINT.pattern}")
    if not 0 <= cycle <= _MAX_CYCLE:
        raise ValueError(f"task key: cycle must be 0-{_MAX_CYCLE}, got {cycle}")
    return f"{PREFIX}:{provider.value}:{deal_ref(deal_id)}:{touch_point}:{cycle}"


def parse_key(key: str) -> ParsedKey:
    """Read a key back; ValueError naming the key when it is not one of AfterClose's."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise ValueError(
            f"not an AfterClose task key: {key[:80]!r} "
            f"(expected {PREFIX}:<provider>:<deal id>:<touch point>:<cycle>)"
        )
    try:
        provider = Provider(match["provider"])
    except ValueError:
        raise ValueError(f"task key {key!r}: unknown provider {match['provider']!r}") from None
    return ParsedKey(provider=provider, deal_ref=match["deal"], touch_point=match["touch_point"],
                     cycle=int(match["cycle"]))


def is_task_key(key: str) -> bool:
    try:
        parse_key(key)
    except ValueError:
        return False
    return True


def touch_point_and_cycle(key: str) -> tuple[str, int] | None:
    """(touch point, cycle) of one of AfterClose's own task keys, else None: the one place the
    store and the jobs read them from a key."""
    try:
        parsed = parse_key(key)
    except ValueError:
        return None
    return parsed.touch_point, parsed.cycle
