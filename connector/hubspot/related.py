"""Batched reads of what hangs off a deal: associations, contacts, companies, owners.

Batch sizes are the APIs' maxima: 100 inputs per object batch read (facts §3), 1,000 per v4
association batch read (https://developers.hubspot.com/changelog/bug-fix-batch-read-limit-for-hubspot-associations-api).
Owners are listed once per run, archived ones included, so a deal owned by a deactivated user
is known as inactive rather than unknown (GET /crm/v3/owners/?archived=true returns only the
archived ones).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

from connector.hubspot.client import HubSpotClient, sdk_model
from connector.hubspot.paging import next_token
from connector.model import Owner

BATCH_READ_MAX = 100
ASSOCIATION_READ_MAX = 1_000
OWNER_PAGE = 100
OWNERS_LABEL = "GET /crm/v3/owners/"

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


@dataclass(frozen=True, kw_only=True, slots=True)
class Link:
    """One association from a deal to a contact or company, with its labels and type ids."""

    to_id: str
    labels: tuple[str, ...]
    type_ids: tuple[int, ...]


def read_associations(client: HubSpotClient, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[Link]]:
    """``from id -> [Link]`` for every id; ids without associations map to []."""
    label = f"POST /crm/v4/associations/{from_type}/{to_type}/batch/read"
    found: dict[str, list[Link]] = {i: [] for i in ids}
    todo: list[tuple[str, str | None]] = [(i, None) for i in dict.fromkeys(ids)]
    while todo:
        batch, todo = todo[:ASSOCIATION_READ_MAX], todo[ASSOCIATION_READ_MAX:]
        body = sdk_model(BatchInputPublicFetchAssociationsBatchRequest,
            inputs=[sdk_model(PublicFetchAssociationsBatchRequest, id=i, after=after) for i, after in batch]
        )
        reply = client.call(label, "crm.associations.v4.batch_api", "get_page", raw=True, from_object_type=from_type,
                            to_object_type=to_type, batch_input_public_fetch_associations_batch_request=body)
        # Ids with no associations come back under ``errors`` in a 207: that is "none", not a failure.
        asked = dict(batch)
        for result in getattr(reply, "results", None) or []:
            source = str(result._from.id)
            found.setdefault(source, []).extend(_link(t) for t in result.to or [])
            after = next_token(result, asked.get(source), what=f"associations of {from_type} {source}",
                               endpoint=label)
            if after is not None:
                todo.append((source, after))
    return found


def _link(target: Any) -> Link:
    types = target.association_types or []
    return Link(
        to_id=str(target.to_object_id),
        labels=tuple(t.label for t in types if t.label),
        type_ids=tuple(int(t.type_id) for t in types if t.type_id is not None),
    )


def read_objects(client: HubSpotClient, object_type: str, ids: Sequence[str], properties: Sequence[str], *,
                 id_property: str | None = None) -> dict[str, dict[str, Any]]:
    """``record id -> properties`` for the records that exist (deleted ones are simply absent).
    ``id_property`` names a unique property the ``ids`` are values of (``email`` for contacts)."""
    label = f"POST /crm/v3/objects/{object_type}/batch/read"
    found: dict[str, dict[str, Any]] = {}
    for batch in chunks(list(dict.fromkeys(ids)), BATCH_READ_MAX):
        body = sdk_model(BatchReadInputSimplePublicObjectId,
            inputs=[sdk_model(SimplePublicObjectId, id=i) for i in batch], properties=list(properties),
            properties_with_history=[], id_property=id_property,
        )
        reply = client.call(label, "crm.objects.batch_api", "read", raw=True, object_type=object_type,
                            batch_read_input_simple_public_object_id=body, archived=False)
        for result in getattr(reply, "results", None) or []:
            found[str(result.id)] = dict(result.properties or {})
    return found


def read_owners(client: HubSpotClient) -> dict[str, Owner]:
    """Every owner by id: active ones, then archived (deactivated) ones marked inactive."""
    owners: dict[str, Owner] = {}
    for archived in (False, True):
        for owner in _owner_pages(client, archived=archived):
            if str(owner.id) not in owners:
                owners[str(owner.id)] = _owner(owner, active=not archived and not owner.archived)
    return owners


def _owner_pages(client: HubSpotClient, *, archived: bool) -> Iterator[Any]:
    after = None
    while True:
        reply = client.call(OWNERS_LABEL, "crm.owners.owners_api", "get_page", limit=OWNER_PAGE, after=after,
                            archived=archived)
        yield from reply.results or []
        after = next_token(reply, after, what="owners list", endpoint=OWNERS_LABEL)
        if after is None:
            return


def _owner(owner: Any, *, active: bool) -> Owner:
    name = " ".join(p for p in (owner.first_name, owner.last_name) if p) or None
    return Owner(id=str(owner.id), email=owner.email, name=name, active=active)
