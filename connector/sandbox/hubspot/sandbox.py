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
from connector.sandbox.hubspot import meta, seed, timefmt
from connector.sandbox.hubspot.app import build_app
from connector.sandbox.hubspot.backend import Backend
from connector.sandbox.hubspot.errors import InputError
from connector.sandbox.hubspot.gate import Gate
from connector.sandbox.hubspot.limits import RateLimits
from connector.sandbox.hubspot.schema import PropertyDef, object_type, seed_properties
from connector.sandbox.hubspot.store import Store
from connector.sandbox.hubspot.validation import check_properties
from connector.sandbox.server import serve_in_thread

_PORTAL_CREATED_MS = 1_577_836_800_000  # 2020-01-01: fixed, so property metadata is deterministic


class HubSpotSandbox:
    def __init__(self, token: str = "sandbox-token", seed: int = 0, latency: float = 0.0, search_lag: float = 0.0,
                 rate_limit_per_10s: int | None = None, search_per_second: int | None = None,
                 daily_limit: int | None = None, afterclose_properties: bool = True, *,
                 clock: Callable[[], float] = time.monotonic):
        self.token = token
        self.controls = Controls(seed=seed, latency=latency, clock=clock)
        schema = seed_properties(afterclose=afterclose_properties, created_ms=_PORTAL_CREATED_MS)
        self.backend = Backend(store=Store(schema=schema, search_lag=search_lag, clock=clock))
        self.limits = RateLimits(per_10s=rate_limit_per_10s, search_per_second=search_per_second,
                                 daily=daily_limit, clock=clock)
        self.demo_ids: dict[str, dict[int, str]] = {"deals": {}, "companies": {}, "contacts": {}, "owners": {}}
        app, routes = build_app(self.backend)
        self.app = Gate(app, routes, token=token, controls=self.controls, limits=self.limits)

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
            self.backend.store.update(kind.name, rec, values, now_ms=timefmt.now_ms())

    def reject(self, object_type_name: str, record_id: str, message: str = "record rejected by the sandbox") -> None:
        """Refuse, per input, every write that targets or associates to this record."""
        self.backend.rejected[(self._kind(object_type_name).name, int(record_id))] = message

    def clear_rejections(self) -> None:
        self.backend.rejected.clear()

    def define_property(self, object_type_name: str, name: str, *, type: str = "string",  # noqa: A002 - HubSpot's key
                        field_type: str = "text", options: tuple[tuple[str, str], ...] = (),
                        has_unique_value: bool = False, label: str | None = None) -> None:
        kind = self._kind(object_type_name)
        prop = PropertyDef(name=name, label=label or name, type=type, field_type=field_type, options=options,
                           has_unique_value=has_unique_value, created_ms=_PORTAL_CREATED_MS)
        with self.backend.store.lock:
            meta.add_property(self.backend, kind.name, prop)

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
