"""A query-result paginator that refuses to loop or to stop early.

Salesforce returns a query in batches of *up to* 2,000 records, often fewer (facts §4, §6: a
connector that assumed full pages truncated syncs, airbyte #9136); the only end signal is
``done: true``. So: follow ``nextRecordsUrl`` until ``done``, and treat ``done: false`` without
a next URL, a repeated URL, or a URL that is not a path on the instance as a ``PagingError``
rather than an infinite loop or a silent truncation (n8n #29192 saw mangled URLs).
"""

from __future__ import annotations

from typing import Any

from connector.errors import PagingError

PROVIDER = "salesforce"


class QueryPaginator:
    """Feed it every page of one query, in order; it says where the next page is, or None."""

    def __init__(self, what: str = "query") -> None:
        self._what = what
        self._seen: set[str] = set()
        self.pages = 0

    def records(self, page: Any) -> list[dict]:
        if not isinstance(page, dict) or not isinstance(page.get("records"), list):
            raise self._error(f"page {self.pages + 1} has no record list")
        if not isinstance(page.get("done"), bool):
            raise self._error(f"page {self.pages + 1} has no boolean 'done'")
        self.pages += 1
        return page["records"]

    def next_url(self, page: dict) -> str | None:
        if page["done"]:
            return None
        url = page.get("nextRecordsUrl")
        if not isinstance(url, str) or not url:
            raise self._error(f"page {self.pages} says done=false but has no nextRecordsUrl")
        if not url.startswith("/services/"):
            # The SDK prefixes ``https://<instance>``; anything else would go to the wrong place.
            raise self._error(f"nextRecordsUrl is not a path on the instance: {url!r}")
        if url in self._seen:
            raise self._error(f"nextRecordsUrl repeated after {self.pages} pages: {url!r}")
        self._seen.add(url)
        return url

    def _error(self, detail: str) -> PagingError:
        return PagingError(f"{self._what}: {detail}", provider=PROVIDER, endpoint="query")
