"""Salesforce-style record ids: 15 case-sensitive characters plus a 3-character checksum suffix.

The 15-character id is ``<3-char key prefix><2-char pod><1 reserved><9-char base-62 counter>``;
the 18-character form appends one character per 5-character chunk encoding which letters of the
chunk are upper case, so the id survives case-insensitive systems. Salesforce accepts either form
in requests and answers with the 18-character one.
[2ND: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm#i1435616 "ID Field Type"]
"""

from __future__ import annotations

import itertools
import string

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Task": "00T",
    "OpportunityContactRole": "00k",
    "OpportunityStage": "01J",
    "Event": "00U",
    "PermissionSet": "0PS",
    "FieldPermissions": "01k",
    "PermissionSetAssignment": "0Pa",
    "CustomField": "00N",
    "Profile": "00e",
    "Organization": "00D",
    "QueryLocator": "01g",
}
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX = string.ascii_uppercase + "012345"
_POD = "Dn"  # any two characters; real ids carry the instance here
ID_CHARS = frozenset(string.ascii_letters + string.digits)


def checksum_suffix(id15: str) -> str:
    out = []
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if ch in string.ascii_uppercase)
        out.append(_SUFFIX[bits])
    return "".join(out)


def _base62(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits))


def make_id(prefix: str, counter: int) -> str:
    id15 = f"{prefix}{_POD}0{_base62(counter, 9)}"
    return id15 + checksum_suffix(id15)


def normalize_id(value: object) -> str | None:
    """The 18-character form of a well-formed 15- or 18-character id, else None."""
    if not isinstance(value, str) or len(value) not in (15, 18) or not set(value) <= ID_CHARS:
        return None
    id15 = value[:15]
    full = id15 + checksum_suffix(id15)
    if len(value) == 18 and value[15:].upper() != full[15:]:
        return None
    return full


def prefix_of(record_id: str) -> str:
    return record_id[:3]


class IdFactory:
    """Deterministic ids: one counter per key prefix, advancing in creation order, skipping ids
    taken by ``reserve`` (an id given as a setting, such as the integration user's)."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count] = {}
        self._reserved: set[str] = set()

    def next(self, prefix: str) -> str:
        counter = self._counters.setdefault(prefix, itertools.count(1))
        while True:
            candidate = make_id(prefix, next(counter))
            if candidate not in self._reserved:
                return candidate

    def reserve(self, record_id: str) -> str:
        self._reserved.add(record_id)
        return record_id


def checked_id(value: str, prefix: str, setting: str) -> str:
    """A 15- or 18-character id given as a setting, as 18 characters; ValueError names the setting."""
    normalized = normalize_id(value)
    if normalized is None or not normalized.startswith(prefix):
        raise ValueError(f"{setting}={value!r}: expected a 15- or 18-character Salesforce id starting with "
                         f"{prefix!r} (case-sensitive, letters and digits)")
    return normalized
