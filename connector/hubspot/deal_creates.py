"""Create renewal deals in HubSpot exactly once, whether or not the portal keeps their key unique.

A renewal deal is ``POST /crm/v3/objects/deals/batch/create`` (<= 100 inputs), each input with the
key in the deal key property (the mapping's ``renewal_deal_key``), its company (primary, type 5)
and main contact (type 3) linked inline, and a unique ``objectWriteTraceId`` (refusals per input,
in a 207). The same create journal as task creates (creates.py, the state store's write-ahead
record) notes each key before the call reaches the network.

HubSpot documents unique values for deal properties (facts §7), and ``afterclose setup`` asks for
them. What happens when an answer is lost depends on whether the portal kept them:

**Unique**: a repeated create is refused per input, so the client may retry blind; a refused
input is looked up by ``idProperty`` (batch read, the record store) and the deal found is taken.

**Not unique** (the portal refused, or an admin made the property by hand): a create is never
repeated blind, and every create is looked up first: the deals of the company (else of the
contact) the renewal deal is linked to in its create are read (v4 association read, then a batch
read of their keys by id; never the search index, which lags); a key found is that deal, and only
a key not found is sent. Only a rate-limit answer is retried (HubSpot refuses those before doing
anything). Any other failure leaves the keys *in doubt* (so does a crash: the journal keeps them)
and the deal is reported ``DEFERRED``; a key in doubt is looked up only once ``settle_seconds``
have passed since its send. A renewal deal with neither company nor contact cannot be looked up
this way, so it is refused (REJECTED, with what to do) rather than risked twice.

A deal found is taken as it is: a rep may have edited it since; AfterClose does not overwrite it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hubspot.crm.objects import (
    AssociationSpec,
    BatchInputSimplePublicObjectBatchInputForCreate,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectBatchInputForCreate,
)

from connector.actions import ActionResult, CreateDeal, Outcome
from connector.errors import FatalCrmError, RateLimitedError, RetriableError
from connector.hubspot.batch import Failure, Input, match
from connector.hubspot.client import HubSpotClient, sdk_model
from connector.hubspot.related import ASSOCIATION_READ_MAX, chunks, read_associations, read_objects
from connector.hubspot.search import to_epoch_ms
from connector.mapping import FieldMap
from connector.model import DealSpec
from connector.port import CreateJournal

log = logging.getLogger("afterclose.hubspot")
WRITE_MAX = 100
CREATE_LABEL = "POST /crm/v3/objects/deals/batch/create"
DEAL_TO_PRIMARY_COMPANY, DEAL_TO_CONTACT = 5, 3
"""HubSpot-defined association types (hubspot.crm.association_type.AssociationType, facts §2)."""

Item = tuple[int, CreateDeal]
Results = list[tuple[int, ActionResult]]


@dataclass(kw_only=True)
class DealCreator:
    client: HubSpotClient
    fieldmap: FieldMap
    key_property: Callable[[], str]
    """The deal key property; raises ``ConfigError`` when the mapping or the portal lacks it."""
    unique: Callable[[], bool]
    """Whether the portal keeps the key property's values unique (read from its definition)."""
    journal: Callable[[], CreateJournal]
    settle_seconds: float
    max_wait_seconds: float
    sleep: Callable[[float], None] = time.sleep

    def create(self, items: list[Item]) -> Results:
        if not items:
            return []
        out: Results = []
        pending = items
        if not self.unique():
            pending, out = self._look_first(items)
        for batch in chunks(pending, WRITE_MAX):
            out += self._send(batch)
        return out

    # -- one create call -------------------------------------------------------------------------

    def _send(self, batch: list[Item]) -> Results:
        unique = self.unique()
        inputs, body = self._body(batch)
        try:
            reply = self.client.call(CREATE_LABEL, "crm.objects.batch_api", "create", raw=True, object_type="deals",
                                     batch_input_simple_public_object_batch_input_for_create=body,
                                     before_attempt=self._noting(batch),
                                     retry_if=None if unique else (lambda exc: isinstance(exc, RateLimitedError)))
        except FatalCrmError as refused:
            return self._refused_whole(batch, refused)
        except RetriableError as lost:
            if unique:
                raise  # the retry policy gave up: the journal keeps the keys, the next run replays them
            return [(i, _deferred(a, f"HubSpot gave no answer ({lost}); the deal may exist: looked up by the "
                                     "next run, never sent blind")) for i, a in batch]
        matched = match(inputs, reply, refs_of=self._refs)
        out = [(inp.item[0], _result(inp.item[1], Outcome.CREATED, str(r.id))) for inp, r in matched.succeeded]
        failed = [(inp.item, f) for inp, f in matched.failed]
        if not failed:
            return out
        existing = self._lookup([a for (_, a), _ in failed]) if unique else {}
        for (i, a), failure in failed:
            if a.key in existing:
                out.append((i, _result(a, Outcome.UNCHANGED, existing[a.key], "a deal with this key already exists")))
            elif failure.code == "MISSING_RESULT" and not unique:
                out.append((i, _deferred(a, "HubSpot answered without a result for this deal; looked up by the "
                                            "next run")))
            else:
                out.append((i, _rejected(a, failure, None)))
        return out

    def _refused_whole(self, batch: list[Item], refused: FatalCrmError) -> Results:
        """A 4xx for the whole batch (nothing created): take the deals that exist, split the rest
        until the bad input is alone."""
        existing = self._lookup([a for _, a in batch]) if self.unique() else {}
        out = [(i, _result(a, Outcome.UNCHANGED, existing[a.key], "a deal with this key already exists"))
               for i, a in batch if a.key in existing]
        rest = [(i, a) for i, a in batch if a.key not in existing]
        if len(rest) == 1:
            i, a = rest[0]
            return out + [(i, _rejected(a, Failure(message=str(refused), code=refused.error_code),
                                        refused.correlation_id))]
        half = len(rest) // 2
        return out + (self._send(rest[:half]) + self._send(rest[half:]) if rest else [])

    # -- keys in doubt (not unique) ----------------------------------------------------------------

    def _look_first(self, pending: list[Item]) -> tuple[list[Item], Results]:
        """Without unique keys every create is looked up first (renewal deals are few: one read of
        the companies' deals per 1,000 companies, one read of their keys per 100 deals): a key in
        the journal was sent without a recorded answer, and a key a lost state store forgot may
        have been sent too. Keys in doubt are looked up once ``settle_seconds`` have passed since
        their send; the ones too young to wait for are deferred."""
        out: Results = [(i, _rejected(a, Failure(
            code="NO_LOOKUP", message="without unique values on the deal key property, a renewal deal is looked up "
                                      "by its company or contact, and this deal has neither: link the deal to a "
                                      "company, or give the key property unique values (afterclose setup)"), None))
            for i, a in pending if not (a.spec.company_id or a.spec.contact_id)]
        pending = [(i, a) for i, a in pending if a.spec.company_id or a.spec.contact_id]
        doubt = self.journal().in_doubt(a.key for _, a in pending)
        if doubt:
            wait = max(self.settle_seconds - sent.age_seconds for sent in doubt.values())
            if wait > self.max_wait_seconds:
                out = [(i, _deferred(a, f"sent {doubt[a.key].age_seconds:.0f} s ago without an answer; looked up "
                                        f"{self.settle_seconds:g} s after the send (hubspot.settle_seconds), by the "
                                        "next run")) for i, a in pending if a.key in doubt]
                pending = [item for item in pending if item[1].key not in doubt]
            elif wait > 0:
                log.info("%d renewal deal create(s) sent without an answer: looking them up in %.1f s "
                         "(hubspot.settle_seconds), never sending them blind", len(doubt), wait)
                self.sleep(wait)
        found = self._lookup([a for _, a in pending]) if pending else {}
        for i, a in pending:
            if a.key in doubt and a.key in found:
                out.append((i, _result(a, Outcome.CREATED, found[a.key],
                                       "created by an earlier attempt whose answer was lost")))
            elif a.key in found:
                out.append((i, _result(a, Outcome.UNCHANGED, found[a.key], "a deal with this key already exists")))
        return [item for item in pending if item[1].key not in found], out

    # -- lookups -----------------------------------------------------------------------------------

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        """Key -> deal id, by ``idProperty`` (unique keys only; else {}: a key alone cannot be
        read without the search index)."""
        if not keys or not self.unique():
            return {}
        prop = self.key_property()
        found = read_objects(self.client, "deals", list(keys), [prop], id_property=prop)
        return _by_key(found, prop)

    def _lookup(self, actions: Sequence[CreateDeal]) -> dict[str, str]:
        if self.unique():
            return self.find([a.key for a in actions])
        prop = self.key_property()
        deals: set[str] = set()
        for from_type, ids in (("companies", {a.spec.company_id for a in actions if a.spec.company_id}),
                               ("contacts", {a.spec.contact_id for a in actions
                                             if a.spec.contact_id and not a.spec.company_id})):
            for batch in chunks(sorted(ids), ASSOCIATION_READ_MAX):
                for links in read_associations(self.client, from_type, "deals", batch).values():
                    deals.update(link.to_id for link in links)
        wanted = {a.key for a in actions}
        found = _by_key(read_objects(self.client, "deals", sorted(deals), [prop]), prop) if deals else {}
        return {key: deal_id for key, deal_id in found.items() if key in wanted}

    # -- the request ---------------------------------------------------------------------------------

    def _body(self, batch: list[Item]) -> tuple[list[Input], BatchInputSimplePublicObjectBatchInputForCreate]:
        inputs = [Input(trace=f"afterclose-deal-{i}", ref=a.key, item=(i, a)) for i, a in batch]
        prop = self.key_property()
        body = sdk_model(BatchInputSimplePublicObjectBatchInputForCreate, inputs=[
            sdk_model(SimplePublicObjectBatchInputForCreate, properties=self._properties(a.spec, prop),
                      associations=_associations(a.spec), object_write_trace_id=inp.trace)
            for inp, (_, a) in zip(inputs, batch, strict=True)
        ])
        return inputs, body

    def _properties(self, spec: DealSpec, key_property: str) -> dict[str, str]:
        # Deal properties: https://developers.hubspot.com/docs/api/crm/deals (closedate a datetime).
        closes = dt.datetime.combine(spec.close_date, dt.time(0), dt.UTC)
        properties = {key_property: spec.key, "dealname": spec.name, "dealstage": spec.stage,
                      "closedate": str(to_epoch_ms(closes))}
        if spec.pipeline:
            properties["pipeline"] = spec.pipeline
        if spec.amount:
            properties["amount"] = spec.amount
        if spec.owner_id:
            properties["hubspot_owner_id"] = spec.owner_id
        for canonical, value in spec.fields.items():
            if value is not None:
                properties[self.fieldmap.fields[canonical].crm_name] = value
        return properties

    def _noting(self, batch: list[Item]) -> Callable[[], None]:
        creates = {a.key: a.deal_id for _, a in batch}
        return lambda: self.journal().sending(creates)

    def _refs(self, result: Any) -> list[str]:
        properties = result.properties or {}
        prop = self.key_property()
        return [str(result.id), *([properties[prop]] if prop in properties else [])]


def _associations(spec: DealSpec) -> list[PublicAssociationsForObject]:
    links = [(spec.company_id, DEAL_TO_PRIMARY_COMPANY), (spec.contact_id, DEAL_TO_CONTACT)]
    return [
        sdk_model(PublicAssociationsForObject, to=sdk_model(PublicObjectId, id=to_id),
                  types=[sdk_model(AssociationSpec, association_category="HUBSPOT_DEFINED", association_type_id=t)])
        for to_id, t in links if to_id
    ]


def _by_key(found: Mapping[str, Mapping[str, Any]], prop: str) -> dict[str, str]:
    """Key -> the deal with the lowest id carrying it (two by hand: the first is the one)."""
    out: dict[str, str] = {}
    for deal_id in sorted(found, key=lambda d: (len(d), d)):
        key = found[deal_id].get(prop)
        if key:
            out.setdefault(str(key), deal_id)
    return out


def _result(action: CreateDeal, outcome: Outcome, crm_id: str, message: str | None = None) -> ActionResult:
    return ActionResult(action=action, outcome=outcome, crm_id=crm_id, message=message)


def _deferred(action: CreateDeal, message: str) -> ActionResult:
    return ActionResult(action=action, outcome=Outcome.DEFERRED, error_code="NO_ANSWER", message=message)


def _rejected(action: CreateDeal, failure: Failure, correlation_id: str | None) -> ActionResult:
    return ActionResult(action=action, outcome=Outcome.REJECTED, message=failure.message, error_code=failure.code,
                        correlation_id=correlation_id)
