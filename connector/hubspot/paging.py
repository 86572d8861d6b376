"""HubSpot's paging, read in one place: ``paging.next.after`` on list, search and association
replies, and a refusal to follow an ``after`` that does not move forward (a reply that would make
a walk loop forever is an error, not an infinite loop; the meltano SDK's paginators do the same).

Search pages carry an integer offset that must grow; lists (owners) and association reads carry
an opaque token that must change.
"""

from __future__ import annotations

from typing import Any

from connector.errors import PagingError


def next_after(reply: Any) -> str | None:
    """The reply's ``paging.next.after``, or None on the last page."""
    paging = getattr(reply, "paging", None)
    following = getattr(paging, "next", None) if paging else None
    after = getattr(following, "after", None) if following else None
    return None if after in (None, "") else str(after)


def next_offset(reply: Any, current: int, *, what: str, endpoint: str) -> int | None:
    """A search's next offset, which must be a number past ``current``; None on the last page."""
    after = next_after(reply)
    if after is None:
        return None
    try:
        offset = int(after)
    except ValueError as exc:
        raise PagingError(f"{what} returned a non-numeric after={after!r}", provider="hubspot",
                          endpoint=endpoint) from exc
    if offset <= current:
        raise PagingError(f"{what} returned after={offset} on the page at after={current}: it would loop",
                          provider="hubspot", endpoint=endpoint)
    return offset


def next_token(reply: Any, current: str | None, *, what: str, endpoint: str) -> str | None:
    """A list's next ``after`` token, which must differ from ``current``; None on the last page."""
    after = next_after(reply)
    if after is not None and after == current:
        raise PagingError(f"{what} repeats after={after}: it would loop", provider="hubspot", endpoint=endpoint)
    return after
