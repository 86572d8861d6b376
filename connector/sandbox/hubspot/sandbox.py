"""``HubSpotSandbox``: a faithful loopback HubSpot CRM v3/v4 server for tests, demo and benchmarks.

Behaviours and their sources are listed in docs/hubspot-api-notes.md.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from connector.sandbox import SandboxEndpoint
from connector.sandbox.controls import Controls
from connector.sandbox.demo import DemoDataset
from connector.sandbox.hubspot import properties, seed, timefmt, uniqueness
from connector.sandbox.hubspot.account import DEFAULT_PORTAL_ID, PortalInfo
from connector.sandbox.hubspot.app import build_app
from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.errors import ApiError, InputError
from connector.sandbox.hubspot.gate import Gate
from connector.sandbox.hubspot.limits import RateLimits
from connector.sandbox.hubspot.property_rules import type_problem
from connector.sandbox.hubspot.schema import PropertyDef, object_type, seed_properties
from connector.sandbox.hubspot.store import Store
from connector.sandbox.hubspot.uniqueness import DEFAULT_TASK_UNIQUENESS, TaskUniqueness
from connector.sandbox.hubspot.validation import check_properties
from connector.sandbox.server import serve_in_thread

_PORTAL_CREATED_MS = 1_577_836_800_000  # 2020-01-01: fixed, so property metadata is deterministic


class HubSpotSandbox:
    """A loopback HubSpot portal. Settings beyond the API's own behaviour (all optional):

    - ``search_lag`` / ``search_lag_max``: seconds before search sees a write; with ``search_lag_max``
      each write waits a lag drawn from [search_lag, search_lag_max] (seeded), so writes reach
      search out of order (index_lag.py). ``delay_search_index`` delays one record's next write.
    - ``association_read_lag``: association reads show associations as they were this many
      seconds ago; writes apply at once (assoc_store.py).
    - ``task_uniqueness``: ``refuse`` | ``ignore`` | ``grant`` unique-value task properties
      (uniqueness.py; default ``DEFAULT_TASK_UNIQUENESS``).
    - ``portal_id``: the portal's id (account info, error messages); ``afterclose_properties``
      seeds AfterClose's own properties; rate limits, latency and faults as before.
    """

    def __init__(self, token: str = "sandbox-token", seed: int = 0, latency: float = 0.0, search_lag: float = 0.0,
                 rate_limit_per_10s: int | None = None, search_per_second: int | None = None,
                 daily_limit: int | None = None, afterclose_properties: bool = True, *,
                 clock: Callable[[], float] = time.monotonic, portal_id: int = DEFAULT_PORTAL_ID,
                 task_uniqueness: TaskUniqueness | str = DEFAULT_TASK_UNIQUENESS,
                 association_read_lag: float = 0.0, search_lag_max: float | None = None):
        for name, seconds in (("search_lag", search_lag), ("association_read_lag", association_read_lag)):
            if seconds < 0:
                raise ValueError(f"{name} cannot be negative, got {seconds}")
        if search_lag_max is not None and search_lag_max < search_lag:
            raise ValueError(f"search_lag_max ({search_lag_max}) must be at least search_lag ({search_lag})")
        self.token = token
        mode = uniqueness.mode_of(task_uniqueness)
        self.controls = Controls(seed=seed, latency=latency, clock=clock)
        schema = seed_properties(afterclose=afterclose_properties, created_ms=_PORTAL_CREATED_MS,
                                 unique_task_key=uniqueness.allows_unique(mode, "tasks"))
        store = Store(schema=schema, search_lag=search_lag, search_lag_max=search_lag_max,
                      association_read_lag=association_read_lag, seed=seed, clock=clock)
        self.limits = RateLimits(per_10s=rate_limit_per_10s, search_per_second=search_per_second,
                                 daily=daily_limit, clock=clock)
        self.backend = Backend(store=store, task_uniqueness=mode, portal=PortalInfo(portal_id=portal_id),
                               limits=self.limits)
        self.demo_ids: dict[str, dict[int, str]] = {"deals": {}, "companies": {}, "contacts": {}, "owners": {}}
        app, routes = build_app(self.backend)
        self.app = Gate(app, routes, token=token, controls=self.controls, limits=self.limits)

    @property
    def portal_id(self) -> int:
        return self.backend.portal.portal_id

    @property
    def task_uniqueness(self) -> TaskUniqueness:
        return self.backend.task_uniqueness

    # --- setup ---------------------------------------------------------------------------------

    def load(self, dataset: DemoDataset) -> None:
        seed.load(self.backend, dataset, self.demo_ids)

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[SandboxEndpoint]:
        with serve_in_thread(self.app, host=host, port=port) as running:
            yield SandboxEndpoint(provider="hubspot", base_url=running.base_url, token=self.token)

    @property
    def search_lag(self) -> float:
        return self.backend.store.search_lag

    @search_lag.setter
    def search_lag(self, seconds: float) -> None:
        with self.backend.store.lock:
            self.backend.store.search_lag = seconds

    @property
    def association_read_lag(self) -> float:
        return self.backend.store.links.read_lag

    @association_read_lag.setter
    def association_read_lag(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"association_read_lag cannot be negative, got {seconds}")
        with self.backend.store.lock:
            self.backend.store.links.read_lag = seconds

    def delay_search_index(self, object_type_name: str, record_id: str, seconds: float) -> None:
        """The next write to this record (an API write or ``edit``) reaches search ``seconds`` after
        it is made, whatever the lag of other writes: deal A's edit can show up 8 s late while deal
        B's later edit is searchable at once."""
        kind = self._kind(object_type_name)
        with self.backend.store.lock:
            self.backend.store.delay_search(kind.name, int(record_id), seconds)

    # --- inspection ----------------------------------------------------------------------------

    def records(self, object_type_name: str, *, archived: bool = False) -> list[dict]:
        kind = self._kind(object_type_name)
        with self.backend.store.lock:
            return [{"id": str(r.id), "properties": dict(r.props), "createdAt": timefmt.iso_from_ms(r.created_ms),
                     "updatedAt": timefmt.iso_from_ms(r.updated_ms), "archived": r.archived}
                    for r in self.backend.store.types[kind.name].records.values() if r.archived == archived]

    def associated_ids(self, from_type: str, from_id: str, to_type: str, *, with_types: bool = False):
        """Ids associated from one record; ``with_types=True`` -> {id: [(category, typeId), ...]}."""
        src, dst = self._kind(from_type), self._kind(to_type)
        with self.backend.store.lock:
            found = self.backend.store.associations(src.name, int(from_id), dst.name)
            if with_types:
                return {str(k): list(v) for k, v in found.items()}
            return [str(k) for k in found]

    @property
    def won_stage_ids(self) -> set[str]:
        return {s.id for p in self.backend.pipelines.values() for s in p.stages if s.won}

    # --- a user working in the CRM, and test knobs ----------------------------------------------

    def edit(self, object_type_name: str, record_id: str, properties: dict[str, object]) -> None:
        """A user's edit: validated like an API write, bumps the modified date, reaches search after the lag."""
        kind = self._kind(object_type_name)
        with self.backend.store.lock:
            rec = self.backend.store.get(kind.name, record_id)
            if rec is None:
                raise KeyError(f"no live {kind.singular} with id {record_id}")
            try:
                values = check_properties(self.backend, kind, properties, existing=rec)
            except InputError as problem:
                raise ValueError(f"{kind.singular} {record_id}: {problem.message}") from None
            self.backend.store.update(kind.name, rec, values, now_ms=timefmt.now_ms(), source="CRM_UI")

    def reject(self, object_type_name: str, record_id: str, message: str = "record rejected by the sandbox") -> None:
        """Refuse, per input, every write that targets or associates to this record."""
        self.backend.rejected[(self._kind(object_type_name).name, int(record_id))] = message

    def clear_rejections(self) -> None:
        self.backend.rejected.clear()

    def define_property(self, object_type_name: str, name: str, *, type: str = "string",
                        field_type: str = "text", options: tuple[tuple[str, str], ...] = (),
                        has_unique_value: bool = False, label: str | None = None, group_name: str = "sandbox",
                        description: str = "") -> None:
        """Give the portal a property as an admin left it: any type/fieldType HubSpot allows, any
        options, on any object type. Replaces an existing definition of that name (values are
        converted to a new type, or ValueError names the one that does not fit)."""
        kind = self._kind(object_type_name)
        why = type_problem(type, field_type)
        if why:
            raise ValueError(f"{kind.name}.{name}: {why}")
        if has_unique_value and not uniqueness.allows_unique(self.task_uniqueness, kind.name):
            raise ValueError(f"{kind.name}.{name}: no unique {kind.singular} property can exist in a portal with "
                             f"task_uniqueness={self.task_uniqueness.value!r}; use 'grant'")
        prop = PropertyDef(name=name, label=label or name, type=type, field_type=field_type, options=options,
                           has_unique_value=has_unique_value, group_name=group_name, description=description,
                           created_ms=_PORTAL_CREATED_MS)
        with self.backend.store.lock:
            try:
                properties.add_property(self.backend, kind.name, prop)
            except ApiError as refused:
                raise ValueError(f"{kind.name}.{name}: {refused.body['message']}") from None

    def delete_property(self, object_type_name: str, name: str) -> None:
        """An admin deletes a property: gone from the schema and from every record."""
        kind = self._kind(object_type_name)
        with self.backend.store.lock:
            self._schema(kind.name, name)
            del self.backend.store.schema[kind.name][name]
            self.backend.store.types[kind.name].unique.pop(name, None)
            for rec in self.backend.store.types[kind.name].records.values():
                if name in rec.props:
                    rec.props = {k: v for k, v in rec.props.items() if k != name}
                    rec.nums = {k: v for k, v in rec.nums.items() if k != name}

    def rename_property(self, object_type_name: str, old: str, new: str) -> None:
        """An admin renames a property's internal name (values move with it)."""
        kind = self._kind(object_type_name)
        with self.backend.store.lock:
            prop = self._schema(kind.name, old)
            schema = self.backend.store.schema[kind.name]
            del schema[old]
            schema[new] = replace(prop, name=new)
            unique = self.backend.store.types[kind.name].unique
            if old in unique:
                unique[new] = unique.pop(old)
            for rec in self.backend.store.types[kind.name].records.values():
                if old in rec.props:
                    rec.props = {(new if k == old else k): v for k, v in rec.props.items()}
                    rec.nums = {(new if k == old else k): v for k, v in rec.nums.items()}

    def _schema(self, type_name: str, name: str) -> PropertyDef:
        prop = self.backend.store.schema[type_name].get(name)
        if prop is None:
            raise KeyError(f"{type_name} has no property {name!r}")
        return prop

    @staticmethod
    def _kind(name: str):
        kind = object_type(name)
        if kind is None:
            raise KeyError(f"unknown HubSpot object type {name!r} (deals, contacts, companies, tasks)")
        return kind


def run_forever(host: str = "127.0.0.1", port: int = 8765, seed_demo: bool = True) -> None:
    """``afterclose sandbox hubspot``: serve until Ctrl-C, printing where and how to connect."""
    from connector.sandbox.demo import demo_dataset

    sandbox = HubSpotSandbox()
    if seed_demo:
        sandbox.load(demo_dataset())
    with sandbox.serve(host=host, port=port) as endpoint:
        print(f"HubSpot sandbox listening on {endpoint.base_url}")
        print(f"access token: {endpoint.token}")
        print(f'  hubspot.HubSpot(access_token="{endpoint.token}", host="{endpoint.base_url}")')
        print("Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped")
