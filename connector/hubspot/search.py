"""Walk every deal matching a search, oldest change first, past the search API's 10,000-result cap.

HubSpot's CRM search pages with an integer offset (``after``), at most 200 per page, and refuses
to page beyond 10,000 results with a 400 (https://developers.hubspot.com/docs/api-reference/search/guide.md).
Incremental syncs therefore move a time window: sort by ``hs_lastmodifieddate`` ascending, and
when a window is used up, restart the search from the last timestamp seen
(airbytehq/airbyte PR 10700, activepieces PR 10160). Two traps, both handled here:

- *a burst of equal timestamps*: restarting "from the last timestamp" re-reads the deals at that
  timestamp. Deals are released only once their timestamp is complete (a later one was seen or
  the search ended), so a restart merely re-reads the pending group, de-duplicated by id;
- *more than 10,000 deals sharing one timestamp* would make that restart loop forever
  (estuary/connectors PR 2121): when a whole window brings no newer timestamp, the walk pages
  that one timestamp by ``hs_object_id`` instead (``EQ t AND hs_object_id GT last``), then goes
  on strictly after it.

Released deals are in (modified, id) order, so a cursor taken after any of them never passes a
deal not yet released: a run that stops after any page resumes without losing or repeating work.
Ids compare numerically (HubSpot ids are integers), see ``order_key``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from hubspot.crm.deals import Filter, FilterGroup, PublicObjectSearchRequest

from connector.errors import PagingError
from connector.hubspot.client import HubSpotClient, sdk_model
from connector.hubspot.paging import next_after, next_offset
from connector.model import Cursor

LABEL = "POST /crm/v3/objects/deals/search"
PAGE_SIZE = 200
"""The search API's maximum ``limit``."""
RESULT_CAP = 10_000
MODIFIED = "hs_lastmodifieddate"
OBJECT_ID = "hs_object_id"
UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

OrderKey = tuple[dt.datetime, int, str]


def order_key(modified: dt.datetime, deal_id: str) -> OrderKey:
    """(modified, id) with ids ordered as numbers ("9" < "10"), consistent for any string."""
    return (modified, len(deal_id), deal_id)


def to_epoch_ms(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def parse_instant(text: str | None) -> dt.datetime | None:
    """HubSpot datetimes: ISO 8601 with ``Z`` (search results) or epoch milliseconds."""
    if not text:
        return None
    if text.isdigit():
        try:
            return _EPOCH + dt.timedelta(milliseconds=int(text))
        except OverflowError as exc:  # callers handle one error for "not a time"
            raise ValueError(f"epoch milliseconds out of range: {text[:20]}") from exc
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class RawDeal:
    id: str
    modified: dt.datetime
    properties: dict[str, str | None]

    @property
    def key(self) -> OrderKey:
        return order_key(self.modified, self.id)

    def cursor(self) -> Cursor:
        return Cursor(modified=self.modified, deal_id=self.id)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Lower:
    """The search's lower time bound: ``GTE at`` (inclusive) or ``GT at``."""

    at: dt.datetime | None
    inclusive: bool = True


class DealSearchWalk:
    """Yields lists of deals, each complete and in (modified, id) order, past the 10,000 cap."""

    def __init__(
        self,
        client: HubSpotClient,
        *,
        filter_groups: Sequence[Sequence[Filter]],
        properties: Sequence[str],
        page_size: int = PAGE_SIZE,
        result_cap: int = RESULT_CAP,
    ):
        self._client = client
        self._groups = [list(g) for g in filter_groups] or [[]]
        self._properties = sorted({*properties, MODIFIED, OBJECT_ID})
        self._page_size = page_size
        self._cap = result_cap

    def walk(self, since: Cursor | None) -> Iterator[list[RawDeal]]:
        floor = order_key(since.modified, since.deal_id) if since else None
        lower = _Lower(at=since.modified if since else None)
        pending: dict[str, RawDeal] = {}  # deals at the newest timestamp seen, not yet complete
        while True:
            seen: set[dt.datetime] = set()
            exhausted = True
            for page, last_page in self._window(lower):
                seen.update(d.modified for d in page)
                fresh = [d for d in page if floor is None or d.key > floor]
                released, pending = _release(pending, fresh)
                if released:
                    yield released
                exhausted = last_page
            if exhausted or not seen:
                if pending:
                    yield sorted(pending.values(), key=lambda d: d.key)
                return
            newest = max(seen)
            if len(seen) > 1:
                # Restart from the newest timestamp: its pending deals come back, de-duplicated.
                lower = _Lower(at=newest)
                continue
            # A whole window at one timestamp: page it by id, then move strictly past it.
            last_id = since.deal_id if since and since.modified == newest else ""
            yield from self._walk_tie(newest, last_id, floor)
            pending = {}
            lower = _Lower(at=newest, inclusive=False)

    # -- one time window: offset paging up to the cap ----------------------------------------

    def _window(self, lower: _Lower) -> Iterator[tuple[list[RawDeal], bool]]:
        """(page, is_last) for one window; stops before ``after`` would pass the result cap."""
        time_filter = self._time_filter(lower)
        after = 0
        while True:
            reply = self._search(
                [g + time_filter for g in self._groups], sort=MODIFIED, after=after,
            )
            page = [_raw(r) for r in reply.results or []]
            next_after = next_offset(reply, after, what="deal search", endpoint=LABEL)
            if next_after is None:
                yield page, True
                return
            if next_after >= self._cap:
                yield page, False
                return
            yield page, False
            after = next_after

    def _time_filter(self, lower: _Lower) -> list[Filter]:
        if lower.at is None:
            return []
        operator = "GTE" if lower.inclusive else "GT"
        return [sdk_model(Filter, property_name=MODIFIED, operator=operator, value=str(to_epoch_ms(lower.at)))]

    # -- one timestamp shared by more deals than a window holds ------------------------------

    def _walk_tie(self, at: dt.datetime, last_id: str, floor: OrderKey | None) -> Iterator[list[RawDeal]]:
        at_filter = sdk_model(Filter, property_name=MODIFIED, operator="EQ", value=str(to_epoch_ms(at)))
        while True:
            id_filter = [sdk_model(Filter, property_name=OBJECT_ID, operator="GT", value=last_id)] if last_id else []
            reply = self._search([g + [at_filter, *id_filter] for g in self._groups], sort=OBJECT_ID, after=0)
            page = sorted((_raw(r) for r in reply.results or []), key=lambda d: d.key)
            fresh = [d for d in page if floor is None or d.key > floor]
            if fresh:
                yield fresh
            if not page or next_after(reply) is None:
                return
            newest = page[-1].id
            if order_key(at, newest) <= order_key(at, last_id):
                raise PagingError(
                    f"deal search by {OBJECT_ID} did not advance past {last_id}: it would loop",
                    provider="hubspot", endpoint=LABEL,
                )
            last_id = newest

    def _search(self, groups: list[list[Filter]], *, sort: str, after: int):
        request = sdk_model(PublicObjectSearchRequest,
            filter_groups=[sdk_model(FilterGroup, filters=g) for g in groups],
            # The SDK types ``sorts`` as list[str] but sends dicts as they are (facts §2).
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=self._properties,
            limit=self._page_size,
            after=str(after),
        )
        return self._client.call(LABEL, "crm.deals.search_api", "do_search", search=True, raw=True,
                                 public_object_search_request=request)


def _release(pending: dict[str, RawDeal], page: list[RawDeal]) -> tuple[list[RawDeal], dict[str, RawDeal]]:
    """Deals whose timestamp is complete (a newer one has been seen), and the still-pending rest."""
    released: list[RawDeal] = []
    for deal in page:
        newest = _newest(pending)
        if newest is None or deal.modified == newest:
            pending[deal.id] = deal
        elif deal.modified > newest:
            released.extend(pending.values())
            pending = {deal.id: deal}
        else:
            # Older than the pending group: changed while we paged (the sort says it cannot
            # happen otherwise). Release it now; a cursor never passes it unreleased.
            released.append(deal)
    released.sort(key=lambda d: d.key)
    return released, pending


def _newest(pending: dict[str, RawDeal]) -> dt.datetime | None:
    return next(iter(pending.values())).modified if pending else None


def _raw(result) -> RawDeal:
    properties = dict(result.properties or {})
    try:
        modified = parse_instant(properties.get(MODIFIED)) or result.updated_at
    except ValueError as exc:
        # The cursor is built from this value: a deal whose timestamp cannot be read cannot be
        # placed in the stream, so the walk stops naming it instead of guessing.
        raise PagingError(f"deal {result.id} has an unreadable {MODIFIED} {properties.get(MODIFIED)!r}",
                          provider="hubspot", endpoint=LABEL) from exc
    if modified is None:
        raise PagingError(f"deal {result.id} came back without {MODIFIED}", provider="hubspot", endpoint=LABEL)
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return RawDeal(id=str(result.id), modified=modified, properties=properties)
