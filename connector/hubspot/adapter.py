"""``HubSpotAdapter``: the ``CrmAdapter`` port over hubspot-api-client 12.

One adapter instance serves one run: pipelines, owners and property definitions are read at most
once and cached for its lifetime. See docs/hubspot-adapter.md for the design and the call formula.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from hubspot.crm.objects.tasks import Filter, FilterGroup, PublicObjectSearchRequest

from connector.actions import Action, ActionResult, Skip, WriteAction
from connector.errors import ConfigError, ReadsNotSettled
from connector.hubspot import nps
from connector.hubspot.client import HubSpotClient
from connector.hubspot.creates import Creator, MemoryJournal
from connector.hubspot.deal_creates import DealCreator
from connector.hubspot.native_nps import HubSpotNativeSource
from connector.hubspot.pull import SEARCH_PAGES_AHEAD, DealReader, RunCache
from connector.hubspot.reconcile import tasks_on_deals
from connector.hubspot.related import ASSOCIATION_READ_MAX, chunks, read_associations, read_owners
from connector.hubspot.schema import TASK_KEY_MAPPING, PortalSchema, check, setup
from connector.hubspot.search import PAGE_SIZE
from connector.hubspot.settings import HubSpotSettings
from connector.hubspot.stages import DealStages, deal_target_problems, read_deal_stages
from connector.hubspot.taskprops import READ_PROPERTIES, KeyMode, describe, key_mode, task_ref
from connector.hubspot.writes import Writer
from connector.mapping import FieldMap
from connector.model import RENEWAL_DEAL_KEY, Cursor, Deal, DealStamp, Owner, Provider, TaskRef
from connector.port import CallStats, CreateJournal, NpsAccount, NpsContact, SchemaProblem, StreamTuning
from connector.retry import RetrySettings

log = logging.getLogger("afterclose.hubspot")


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
        self._clock, self._sleep = clock, sleep
        self._started = clock()
        # Until a job hands over the state store's journal: every key this adapter sent stays
        # "in doubt", so a second create of one key in this process is looked up, not sent.
        self._journal: CreateJournal = MemoryJournal(clock)
        creator = Creator(
            client=self._client, key_property=fieldmap.task_key_field, mode=self._key_mode,
            journal=lambda: self._journal, reconcile=self._tasks_on_deals, read_by_key=self._read_by_key,
            update=lambda batch: self._writer._update_tasks(batch),
            settle_seconds=settings.settle_seconds, max_wait_seconds=settings.settle_max_wait_seconds,
            rounds=retry.attempts, sleep=sleep,
        )
        self._deal_creator = DealCreator(
            client=self._client, fieldmap=fieldmap, key_property=self._deal_key_property,
            unique=self._deal_keys_unique, journal=lambda: self._journal, settle_seconds=settings.settle_seconds,
            max_wait_seconds=settings.settle_max_wait_seconds, sleep=sleep,
        )
        self._writer = Writer(client=self._client, fieldmap=fieldmap, executor=self._executor, mode=self._key_mode,
                              creator=creator, find_on_deals=self._tasks_on_deals, deal_creator=self._deal_creator)
        self._deal_page_size = deal_page_size or (ASSOCIATION_READ_MAX if page_size >= PAGE_SIZE else page_size)
        self.tuning = StreamTuning(scan_pages_ahead=SEARCH_PAGES_AHEAD, enrich_batch=self._deal_page_size,
                                   lookback=dt.timedelta(seconds=settings.search_lookback_seconds))
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
        """Create AfterClose's own properties and the task key property where missing (asking for
        unique values unless ``task_key_mode`` is "non_unique"), then say which mode the portal is in."""
        lines = setup(self._client, self._schema, self.fieldmap,
                      ask_unique=self.settings.task_key_mode != "non_unique")
        try:
            mode = self.task_key_mode()
        except ConfigError:
            mode = f"none until tasks.{self.fieldmap.task_key_field} is fixed (above): AfterClose will not run"
        return [*lines, f"task keys: {mode}"]

    # -- task key mode (taskprops.py) ---------------------------------------------------------

    def _key_mode(self) -> KeyMode:
        """From the task key property's definition, read once per run (with ``check_schema``)."""
        prop = self._schema.properties("tasks").get(self.fieldmap.task_key_field)
        if prop is None or prop.type != "string":
            problems = [str(p) for p in check(self._schema, self.fieldmap) if p.mapping_key == TASK_KEY_MAPPING]
            raise ConfigError("; ".join(problems) or "task key property is not usable",
                              source=self.fieldmap.source, key=TASK_KEY_MAPPING)
        return key_mode(self.settings.task_key_mode, prop.unique)

    def task_key_mode(self) -> str:
        """connector.port.SupportsTaskKeyMode: the mode in a user's words."""
        return describe(self._key_mode(), self.fieldmap.task_key_field, self.settings.task_key_mode)

    # -- renewal deals (connector.port.SupportsDealCreation; deal_creates.py) -------------------

    def _deal_key_property(self) -> str:
        spec = self.fieldmap.fields.get(RENEWAL_DEAL_KEY)
        if spec is None:
            raise ConfigError(f"creating renewal deals needs [fields.{RENEWAL_DEAL_KEY}] in the mapping",
                              source=self.fieldmap.source, key=f"fields.{RENEWAL_DEAL_KEY}")
        prop = self._schema.properties("deals").get(spec.crm_name)
        if prop is None or prop.type != "string":
            raise ConfigError(f"deal property {spec.crm_name} {'does not exist' if prop is None else 'is not text'}: "
                              "run `afterclose setup`", source=self.fieldmap.source, key=f"fields.{RENEWAL_DEAL_KEY}")
        return spec.crm_name

    def _deal_keys_unique(self) -> bool:
        return self._schema.properties("deals")[self._deal_key_property()].unique

    def deal_target_problems(self, targets: Sequence[tuple[str | None, str]]) -> list[str]:
        return deal_target_problems(self._client, list(targets))

    def find_deals(self, keys: Iterable[str]) -> dict[str, str]:
        """Renewal deals by key: by ``idProperty`` where the key property is unique; else {} (a key
        alone could only be searched for, and search lags: the creator reads by company instead)."""
        return self._deal_creator.find(list(dict.fromkeys(keys)))

    def use_journal(self, journal: CreateJournal) -> None:
        """connector.port.SupportsCreateJournal: the state store's write-ahead record of creates."""
        self._journal = journal

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
        """Tasks by key alone. Unique mode: batch read by ``idProperty``. Non-unique mode: a key
        alone can only be searched for, and search lags writes, so this finds only what the index
        shows (never proof that a task does not exist); the jobs use ``find_tasks_on_deals``."""
        keys = list(dict.fromkeys(keys))
        if self._key_mode() is KeyMode.UNIQUE:
            found = self._writer.read_tasks(keys)
        else:
            found = self._search_tasks(keys)
        deals = self._task_deals([ref.crm_id for ref in found.values() if ref.deal_id is None])
        return {key: dataclasses.replace(ref, deal_id=ref.deal_id or deals.get(ref.crm_id)) for key,
                ref in found.items()}

    def find_tasks_on_deals(self, wanted: Mapping[str, str], *, quiet_seconds: float = 0.0) -> dict[str, TaskRef]:
        """connector.port.SupportsTasksOnDeals. Unique mode: by key (the deal ids fill in
        ``deal_id``, so no association read). Non-unique mode: the deals' tasks (reconcile.py),
        once reads can be trusted to show every task made before this run (``_settle_left``);
        ``quiet_seconds``: how long the caller knows no create has been sent (ReadsNotSettled
        when the wait would be longer than ``settle_max_wait_seconds``)."""
        if not wanted:
            return {}
        if self._key_mode() is KeyMode.UNIQUE:
            found = self._writer.read_tasks(list(wanted))
            return {k: dataclasses.replace(ref, deal_id=wanted[k]) for k, ref in found.items()}
        left = self._settle_left(quiet_seconds)
        if left > 0:
            raise ReadsNotSettled(
                f"HubSpot's reads are trusted {self.settings.settle_seconds:g} s after a create "
                f"(hubspot.settle_seconds); {left:.0f} s are left, more than a run waits "
                f"(hubspot.settle_max_wait_seconds = {self.settings.settle_max_wait_seconds:g})", seconds_left=left)
        return self._tasks_on_deals(wanted)

    def any_tasks(self) -> bool:
        """Whether AfterClose's tasks exist here: one search. Search may lag new writes by seconds;
        in the unique mode the key still refuses a duplicate if this answers too early. In the
        non-unique mode a "no" is only trusted once ``settle_seconds`` have passed since this run
        began (a store lost moments after its run made tasks); when the run may not wait that
        long the answer is "yes", and re-learning then waits or defers (``find_tasks_on_deals``)."""
        if self._key_mode() is KeyMode.NON_UNIQUE and self._settle_left(0.0) > 0:
            return True
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[Filter(property_name=self.fieldmap.task_key_field,
                                                       operator="HAS_PROPERTY")])],
            properties=["hs_object_id"], limit=1,
        )
        page = self._client.call("POST /crm/v3/objects/tasks/search", "crm.objects.tasks.search_api", "do_search",
                                 search=True, public_object_search_request=request)
        return bool(page.results)

    def _settle_left(self, quiet_seconds: float) -> float:
        """Wait until ``settle_seconds`` have passed since the last create anyone may have sent
        before this run (at the latest, when this adapter was made, or ``quiet_seconds`` ago);
        returns the seconds still left when that is longer than ``settle_max_wait_seconds``."""
        quiet = max(quiet_seconds, self._clock() - self._started)
        left = self.settings.settle_seconds - quiet
        if left <= 0:
            return 0.0
        if left > self.settings.settle_max_wait_seconds:
            return left
        log.info("waiting %.0f s before trusting HubSpot's reads (hubspot.settle_seconds): a task made just "
                 "before this run, by a run whose state was lost, may not show sooner", left)
        self._sleep(left)
        return 0.0

    def _tasks_on_deals(self, wanted: Mapping[str, str]) -> dict[str, TaskRef]:
        return tasks_on_deals(self._client, self.fieldmap.task_key_field, wanted)

    def _read_by_key(self, keys: Sequence[str]) -> dict[str, TaskRef]:
        return self._writer.read_tasks(keys)

    def _search_tasks(self, keys: list[str]) -> dict[str, TaskRef]:
        """Tasks the search index shows for these keys (IN on a string compares lower-cased values
        with the values as given, facts §3, so each key is matched again exactly)."""
        found: dict[str, TaskRef] = {}
        for batch in chunks(keys, 100):
            request = PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=[Filter(property_name=self.fieldmap.task_key_field, operator="IN",
                                                           values=[k.lower() for k in batch])])],
                properties=[self.fieldmap.task_key_field, *READ_PROPERTIES], limit=200,
            )
            page = self._client.call("POST /crm/v3/objects/tasks/search", "crm.objects.tasks.search_api",
                                     "do_search", search=True, public_object_search_request=request)
            for result in page.results or []:
                ref = task_ref(str(result.id), result.properties or {}, self.fieldmap.task_key_field)
                if ref.key in batch and ref.key not in found:
                    found[ref.key] = ref
        return found

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
