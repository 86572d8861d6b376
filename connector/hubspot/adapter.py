"""``HubSpotAdapter``: the ``CrmAdapter`` port over hubspot-api-client 12.

One adapter instance serves one run: pipelines, owners and property definitions are read at most
once and cached for its lifetime. See docs/hubspot-adapter.md for the design and the call formula.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from hubspot.crm.objects.tasks import Filter, FilterGroup, PublicObjectSearchRequest

from connector.errors import ConfigError
from connector.actions import Action, ActionResult, Skip, WriteAction
from connector.hubspot import nps
from connector.hubspot.client import HubSpotClient
from connector.hubspot.pull import SEARCH_PAGES_AHEAD, DealReader, RunCache
from connector.hubspot.related import ASSOCIATION_READ_MAX, chunks, read_associations, read_owners
from connector.hubspot.schema import PortalSchema, check, setup
from connector.hubspot.search import PAGE_SIZE
from connector.hubspot.settings import HubSpotSettings
from connector.hubspot.stages import DealStages, read_deal_stages
from connector.hubspot.writes import Writer
from connector.mapping import FieldMap
from connector.model import Cursor, Deal, DealStamp, Owner, Provider, TaskRef
from connector.hubspot.native_nps import HubSpotNativeSource
from connector.port import CallStats, NpsAccount, NpsContact, SchemaProblem, StreamTuning
from connector.retry import RetrySettings


class HubSpotAdapter:
    provider = Provider.HUBSPOT

    def __init__(
        self,
        *,
        settings: HubSpotSettings,
        fieldmap: FieldMap,
        retry: RetrySettings = RetrySettings(),
        page_size: int = PAGE_SIZE,
        search_result_cap: int | None = None,
        deal_page_size: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """``page_size`` and ``search_result_cap`` exist for tests (HubSpot's are 200 and 10,000).
        ``deal_page_size``: deals per yielded page, 1,000 (the association read maximum) unless
        a test shrinks ``page_size``, which then sets the deal page size too."""
        if fieldmap.provider is not Provider.HUBSPOT:
            raise ValueError(f"{fieldmap.source}: a {fieldmap.provider} mapping cannot drive the HubSpot adapter")
        for key, problem in settings.credential_problems():
            raise ConfigError(problem, source="hubspot settings", key=key)
        self.settings = settings
        self.fieldmap = fieldmap
        self._client = HubSpotClient(settings, retry, clock=clock, sleep=sleep)
        self._executor = ThreadPoolExecutor(max_workers=settings.max_concurrency, thread_name_prefix="hubspot")
        self._schema = PortalSchema(self._client)
        self._run_caches = (RunCache(), RunCache())
        self._writer = Writer(client=self._client, fieldmap=fieldmap, executor=self._executor)
        self._deal_page_size = deal_page_size or (ASSOCIATION_READ_MAX if page_size >= PAGE_SIZE else page_size)
        self.tuning = StreamTuning(scan_pages_ahead=SEARCH_PAGES_AHEAD, enrich_batch=self._deal_page_size)
        self._page_size = page_size
        self._result_cap = search_result_cap
        self._stages: DealStages | None = None
        self._owners: dict[str, Owner] | None = None
        self._portal_id: str | None = None

    # -- which portal (connector.port.SupportsInstanceId) ----------------------------------------

    def instance_id(self) -> str:
        """The portal id (one call, read once per adapter)."""
        if self._portal_id is None:
            from connector.hubspot.account import portal_id

            self._portal_id = portal_id(self._client)
        return self._portal_id

    # -- schema ------------------------------------------------------------------------------

    def check_schema(self) -> list[SchemaProblem]:
        return check(self._schema, self.fieldmap)

    def setup(self) -> list[str]:
        """Create AfterClose's own properties and the unique task key property where missing."""
        return setup(self._client, self._schema, self.fieldmap)

    def missing_permissions(self) -> list[str]:
        """connector.port.SupportsPermissions: one read probe per scope the jobs need."""
        from connector.hubspot.permissions import missing_permissions

        return missing_permissions(self._client)

    # -- reads -------------------------------------------------------------------------------

    def scan(self, since: Cursor | None) -> Iterator[list[DealStamp]]:
        return self._reader().scan(since)

    def scan_ids(self, deal_ids: Sequence[str]) -> Iterator[list[DealStamp]]:
        return self._reader().scan_ids(deal_ids)

    def enrich(self, stamps: Sequence[DealStamp]) -> list[Deal]:
        return self._reader().enrich(stamps)

    def _deals_by_id(self, deal_ids: Sequence[str]) -> Iterator[list[Deal]]:
        """Named deals, read and enriched (what the NPS reads need)."""
        reader = self._reader()
        for stamps in reader.scan_ids(deal_ids):
            yield reader.enrich(stamps)

    def find_tasks(self, keys: Iterable[str]) -> dict[str, TaskRef]:
        found = self._writer.read_tasks(list(keys))
        deals = self._task_deals([ref.crm_id for ref in found.values()])
        return {key: dataclasses.replace(ref, deal_id=deals.get(ref.crm_id)) for key, ref in found.items()}

    def any_tasks(self) -> bool:
        # Search may lag new writes by seconds; a store is lost long after its tasks were made,
        # and the unique key still refuses a duplicate if this ever answers too early.
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[Filter(property_name=self.fieldmap.task_key_field,
                                                       operator="HAS_PROPERTY")])],
            properties=["hs_object_id"], limit=1,
        )
        page = self._client.call("POST /crm/v3/objects/tasks/search", "crm.objects.tasks.search_api", "do_search",
                                 search=True, public_object_search_request=request)
        return bool(page.results)

    def _task_deals(self, task_ids: list[str]) -> dict[str, str]:
        deals: dict[str, str] = {}
        for batch in chunks(task_ids, ASSOCIATION_READ_MAX):
            for task_id, links in read_associations(self._client, "tasks", "deals", batch).items():
                if links:
                    deals[task_id] = links[0].to_id
        return deals

    def _reader(self) -> DealReader:
        if self._stages is None:
            self._stages = read_deal_stages(self._client)
        if self._owners is None:
            self._owners = read_owners(self._client)
        return DealReader(
            client=self._client, fieldmap=self.fieldmap, stages=self._stages, owners=self._owners,
            executor=self._executor, page_size=self._page_size, result_cap=self._result_cap,
            deal_page_size=self._deal_page_size,
            contacts_cache=self._run_caches[0], companies_cache=self._run_caches[1],
        )

    # -- NPS (connector.port.SupportsNps; the reads live in connector/hubspot/nps.py) ---------

    def nps_contacts_by_email(self, emails: Sequence[str]) -> list[NpsContact]:
        return nps.contacts_by_email(self._client, emails)

    def nps_contacts_by_id(self, contact_ids: Sequence[str]) -> list[NpsContact]:
        return nps.contacts_by_id(self._client, contact_ids)

    def nps_accounts(self, account_ids: Sequence[str]) -> dict[str, NpsAccount]:
        self._reader()  # pipelines and owners, read once per adapter
        return nps.accounts(self._client, self.fieldmap, account_ids, self._deals_by_id, self._owners or {})

    def nps_referred_deals(self, referrer_field: str) -> list[Deal]:
        self._reader()
        assert self._stages is not None
        return nps.referred_deals(self._client, self.fieldmap, self._stages, referrer_field, self._deals_by_id)

    def nps_native_contacts(self, since: dt.datetime | None) -> Iterator[tuple[str, dict]]:
        """Contacts carrying HubSpot's own NPS properties (the ``hubspot-native`` source reads these)."""
        return nps.native_nps_contacts(self._client, self._schema, since)

    def nps_native_source(self) -> HubSpotNativeSource:
        return HubSpotNativeSource(self)

    # -- writes ------------------------------------------------------------------------------

    def apply(self, actions: Sequence[WriteAction]) -> list[ActionResult]:
        return self._writer.apply(actions)

    def estimate_write_calls(self, actions: Sequence[Action]) -> int:
        """Write calls ``apply`` would make for these actions (skips cost nothing); no call is made."""
        from connector.hubspot.estimate import estimate_write_calls

        return estimate_write_calls([a for a in actions if not isinstance(a, Skip)], self.fieldmap)

    # -- bookkeeping -------------------------------------------------------------------------

    def call_stats(self) -> CallStats:
        return self._client.stats()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._client.close()

    def __enter__(self) -> HubSpotAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
