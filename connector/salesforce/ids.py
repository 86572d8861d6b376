"""Salesforce record ids in their two written forms: 15 case-sensitive characters (what the UI's
URLs and reports show, and what users copy) and 18 case-insensitive ones (what the API answers).

The 18-character form appends one character per 5-character chunk of the 15: bit ``i`` of the
chunk's value is set when its ``i``-th character is an upper-case letter, and the value (0-31)
indexes ``A-Z0-5`` [DOC: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm#i1435616
"ID Field Type": "the 18-character ... case-insensitive version"; the CASESAFEID() formula
function gives the same 18 characters]. Salesforce accepts either form in requests; AfterClose
stores and compares the 18-character one, so an id typed or read from a file in its 15-character
form is turned into it first (``record_id``).
"""

from __future__ import annotations

import string

_SUFFIX = string.ascii_uppercase + "012345"
_ID_CHARS = frozenset(string.ascii_letters + string.digits)


def to_18(record_id: str) -> str:
    """The case-insensitive 18-character form of a 15- or 18-character Salesforce id."""
    id15 = record_id[:15]
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        suffix += _SUFFIX[sum(1 << i for i, ch in enumerate(chunk) if ch in string.ascii_uppercase)]
    return id15 + suffix


def record_id(typed: str) -> str:
    """The 18-character form of an id a user typed or a file holds: a 15-character id gets its
    suffix; an 18-character one keeps its 15 and gets the suffix in its canonical case (the
    suffix is case-insensitive). Anything else is returned stripped, as it was: it is not a
    Salesforce id, and what refers to it will say that it is unknown."""
    text = typed.strip()
    if len(text) not in (15, 18) or not set(text) <= _ID_CHARS:
        return text
    full = to_18(text)
    if len(text) == 18 and text[15:].upper() != full[15:]:
        return text  # a suffix that does not match its 15: not an id this function may rewrite
    return full
