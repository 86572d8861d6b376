"""Decisions the planner makes and an adapter carries out, and what came of each.

They live in ``connector`` (not ``jobs``) because adapters consume them and dependencies point
one way: ``jobs`` imports ``connector``, never the reverse.

``Plan`` is the dry run: ``afterclose plan`` prints it, ``afterclose run`` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connector.model import DealSpec, RecordUpdate, TaskSpec


class ActionKind(StrEnum):
    CREATE_TASK = "create_task"
    UPDATE_TASK = "update_task"
    CLOSE_TASK = "close_task"
    UPDATE_RECORD = "update_record"
    CREATE_DEAL = "create_deal"
    SKIP = "skip"


@dataclass(frozen=True, kw_only=True, slots=True)
class CreateTask:
    spec: TaskSpec
    reason: str
    kind: ActionKind = ActionKind.CREATE_TASK

    @property
    def deal_id(self) -> str:
        return self.spec.deal_id

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass(frozen=True, kw_only=True, slots=True)
class UpdateTask:
    """Reschedule or rewrite an existing task; ``crm_id`` is None when only the key is known."""

    spec: TaskSpec
    crm_id: str | None
    changes: tuple[str, ...]
    reason: str
    kind: ActionKind = ActionKind.UPDATE_TASK

    @property
    def deal_id(self) -> str:
        return self.spec.deal_id

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass(frozen=True, kw_only=True, slots=True)
class CloseTask:
    key: str
    deal_id: str
    crm_id: str | None
    reason: str
    kind: ActionKind = ActionKind.CLOSE_TASK


@dataclass(frozen=True, kw_only=True, slots=True)
class UpdateRecord:
    update: RecordUpdate
    deal_id: str
    reason: str
    kind: ActionKind = ActionKind.UPDATE_RECORD

    @property
    def key(self) -> str:
        """Stable identity of this write: record kind, record id and the fields written."""
        fields = ",".join(sorted(self.update.values))
        return f"{self.update.kind}:{self.update.record_id}:{fields}"


@dataclass(frozen=True, kw_only=True, slots=True)
class CreateDeal:
    """Create a customer's next renewal deal, once per key (``DealSpec``); adapters that can do it
    implement ``connector.port.SupportsDealCreation``."""

    spec: DealSpec
    reason: str
    kind: ActionKind = ActionKind.CREATE_DEAL

    @property
    def deal_id(self) -> str:
        """The won deal it renews: the one it is planned, recorded and retried under."""
        return self.spec.from_deal_id

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass(frozen=True, kw_only=True, slots=True)
class Skip:
    """A touch point or write deliberately not made, recorded with its reason."""

    deal_id: str
    key: str
    reason: str
    kind: ActionKind = ActionKind.SKIP


Action = CreateTask | UpdateTask | CloseTask | UpdateRecord | CreateDeal | Skip
WriteAction = CreateTask | UpdateTask | CloseTask | UpdateRecord | CreateDeal


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    CLOSED = "closed"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    REJECTED = "rejected"
    DEFERRED = "deferred"
    """Not written in this run, and not refused: the CRM could not yet say whether an earlier,
    unanswered create made the task (HubSpot without unique task keys, docs/hubspot-adapter.md).
    Nothing is recorded for it and the cursor stays before its deal, so the next run decides it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ActionResult:
    """What the CRM did with one action. A rejection carries the CRM's own message."""

    action: Action
    outcome: Outcome
    crm_id: str | None = None
    message: str | None = None
    error_code: str | None = None
    correlation_id: str | None = None

    @property
    def rejected(self) -> bool:
        return self.outcome is Outcome.REJECTED


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    actions: tuple[Action, ...]

    def writes(self) -> tuple[WriteAction, ...]:
        return tuple(a for a in self.actions if not isinstance(a, Skip))

    def count(self, kind: ActionKind) -> int:
        return sum(1 for a in self.actions if a.kind is kind)

    def summary(self) -> dict[str, int]:
        return {kind.value: self.count(kind) for kind in ActionKind}
