"""Which association type ids exist between which object types, their inverses and labels.

HUBSPOT_DEFINED ids are the SDK's ``hubspot.crm.association_type.AssociationType`` constants
(facts §2: TASK_TO_DEAL 216, DEAL_TO_TASK 215, TASK_TO_COMPANY 192, TASK_TO_CONTACT 204,
DEAL_TO_COMPANY 341, PRIMARY_DEAL_TO_COMPANY 5, DEAL_TO_CONTACT 3). Primary labels as HubSpot
returns them [2ND: https://github.com/amp-labs/connectors/pull/1271 shows id=2 "Contact with
Primary Company"]. Contact roles on deals are USER_DEFINED labels (the sandbox's own type ids).
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.sandbox.demo import ROLES

HUBSPOT = "HUBSPOT_DEFINED"
USER = "USER_DEFINED"
PRIMARY_CONTACT_LABEL = "Primary Contact"


@dataclass(frozen=True)
class AssocType:
    category: str
    type_id: int
    label: str | None
    inverse: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.category, self.type_id)


def _pair(table: dict, a: str, b: str, forward: int, backward: int, category: str = HUBSPOT,
          label_ab: str | None = None, label_ba: str | None = None) -> None:
    table.setdefault((a, b), {})[(category, forward)] = AssocType(category, forward, label_ab, backward)
    table.setdefault((b, a), {})[(category, backward)] = AssocType(category, backward, label_ba, forward)


def _build() -> dict[tuple[str, str], dict[tuple[str, int], AssocType]]:
    table: dict = {}
    _pair(table, "tasks", "deals", 216, 215)
    _pair(table, "tasks", "companies", 192, 191)
    _pair(table, "tasks", "contacts", 204, 203)
    _pair(table, "deals", "contacts", 3, 4)
    _pair(table, "deals", "companies", 341, 342)
    _pair(table, "deals", "companies", 5, 6, label_ab="Primary", label_ba="Deal with Primary Company")
    _pair(table, "contacts", "companies", 279, 280)
    _pair(table, "contacts", "companies", 1, 2, label_ab="Primary", label_ba="Contact with Primary Company")
    for n, role in enumerate((*ROLES, PRIMARY_CONTACT_LABEL)):
        _pair(table, "deals", "contacts", 1001 + 2 * n, 1002 + 2 * n, category=USER, label_ab=role, label_ba=role)
    return table


TYPES = _build()
DEFAULT_TYPE = {
    pair: next(t for t in kinds.values() if t.category == HUBSPOT and t.label is None)
    for pair, kinds in TYPES.items()
}
"""The unlabeled type per pair: what ``batch/associate/default`` creates, and what HubSpot adds
alongside any labeled association."""


def lookup(from_type: str, to_type: str, category: str, type_id: object) -> AssocType | None:
    try:
        return TYPES.get((from_type, to_type), {}).get((str(category), int(type_id)))
    except (TypeError, ValueError):
        return None


def label_type(from_type: str, to_type: str, label: str) -> AssocType:
    return next(t for t in TYPES[(from_type, to_type)].values() if t.label == label)


def describe(from_type: str, to_type: str, key: tuple[str, int]) -> dict:
    kind = TYPES[(from_type, to_type)][key]
    return {"category": kind.category, "typeId": kind.type_id, "label": kind.label}
