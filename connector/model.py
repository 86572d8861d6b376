"""The CRM-neutral model: what AfterClose reads from a CRM and what it asks a CRM to do.

Every value is frozen and keyword-only, and every datetime must carry a time zone: a naive
datetime is refused at construction, because a due date that silently shifts by the server's
offset is exactly the bug reps notice first. Vendor field names never appear here; adapters
translate between these values and their CRM (see connector/<vendor>/).

Raw CRM values of mapped fields travel as strings (``FieldValue``): the pure core parses them
with the type the mapping declares, so a value that cannot be parsed becomes a finding on that
deal instead of an exception that stops the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from connector.rich_text import plain
from connector.text_limits import same_text

FieldValue = str | None
"""A mapped field's raw value as the CRM holds it, normalised to text (None when empty)."""


def require_aware(name: str, value: dt.datetime | None) -> None:
    """Refuse naive datetimes: a value without a zone is ambiguous by hours."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _frozen_mapping(values: Mapping[str, FieldValue] | None) -> Mapping[str, FieldValue]:
    return MappingProxyType(dict(values or {}))


class Provider(StrEnum):
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class TaskType(StrEnum):
    CALL = "call"
    EMAIL = "email"
    TODO = "todo"


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class RecordKind(StrEnum):
    """The CRM records AfterClose writes fields onto."""

    DEAL = "deal"
    COMPANY = "company"
    CONTACT = "contact"


@dataclass(frozen=True, kw_only=True, slots=True)
class Owner:
    id: str
    email: str | None = None
    name: str | None = None
    active: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class Company:
    id: str
    name: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Contact:
    id: str
    email: str | None = None
    name: str | None = None
    role: str | None = None
    """The contact's role on the deal (a contact role in Salesforce, an association label in HubSpot)."""
    is_primary: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Deal:
    provider: Provider
    id: str
    name: str
    stage: str
    is_won: bool
    close_date: dt.date | None
    last_modified: dt.datetime
    amount: FieldValue = None
    owner: Owner | None = None
    company: Company | None = None
    contacts: tuple[Contact, ...] = ()
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    """Mapped fields by canonical name (handoff inputs and current write-back values), raw."""

    def __post_init__(self) -> None:
        require_aware("Deal.last_modified", self.last_modified)
        object.__setattr__(self, "fields", _frozen_mapping(self.fields))
        object.__setattr__(self, "contacts", tuple(self.contacts))

    def value(self, canonical: str) -> FieldValue:
        return self.fields.get(canonical)

    @property
    def main_contact(self) -> Contact | None:
        """The primary contact role, else the first contact: the one a task is linked to."""
        for contact in self.contacts:
            if contact.is_primary:
                return contact
        return self.contacts[0] if self.contacts else None


@dataclass(frozen=True, kw_only=True, slots=True)
class Cursor:
    """Position in the stream of modified deals: strictly after (modified, deal_id).

    The deal id breaks ties so a burst of deals with one timestamp is neither skipped nor
    read forever.
    """

    modified: dt.datetime
    deal_id: str = ""

    def __post_init__(self) -> None:
        require_aware("Cursor.modified", self.modified)

    def is_before(self, modified: dt.datetime, deal_id: str) -> bool:
        return (self.modified, self.deal_id) < (modified, deal_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class DealStamp:
    """One changed deal as the cheap scan sees it: enough to place it in the stream and to tell
    AfterClose's own write-back from a user's change, before its contacts and company are read.

    ``fields`` are the mapped deal fields by canonical name, raw as the CRM returned them (the
    write-backs among them); ``other`` is everything else AfterClose reads from the deal, opaque
    and hashable; ``payload`` is whatever the adapter needs to enrich the deal without reading it
    again (its raw record, or the whole ``Deal`` when the scan already read everything).
    """

    id: str
    modified: dt.datetime
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    other: object = ()
    payload: object = None

    def __post_init__(self) -> None:
        require_aware("DealStamp.modified", self.modified)

    @property
    def cursor(self) -> Cursor:
        """The stream position right after this deal."""
        return Cursor(modified=self.modified, deal_id=self.id)

    def digest(self, written: Mapping[str, FieldValue] | None = None) -> int:
        """A hash of everything AfterClose reads from the deal, its modified stamp left out, with
        ``written`` (canonical name -> value) laid over it; empty and missing count as one."""
        fields = {**self.fields, **(written or {})}
        return hash((self.other, frozenset((k, v) for k, v in fields.items() if v not in (None, ""))))


@dataclass(frozen=True, kw_only=True, slots=True)
class DealPage:
    """One page of the deal stream; ``cursor`` is the position after its last deal."""

    deals: tuple[Deal, ...]
    cursor: Cursor | None
    handled: Mapping[str, dt.datetime] = field(default_factory=dict)
    """Deal id -> modified stamp of each deal this page moves the cursor past as handled (decided,
    or AfterClose's own write-back), for a CRM read with a look-back (jobs/sync/lookback.py)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskSpec:
    """A task as AfterClose wants it to be. ``key`` identifies it, never the due date."""

    key: str
    deal_id: str
    touch_point: str
    subject: str
    body: str
    """Structured text (connector/rich_text.py): paragraphs separated by a blank line, ``- ``
    list items; each adapter renders it for its CRM (HubSpot: HTML; Salesforce: plain text)."""
    due_at: dt.datetime
    owner_id: str | None
    priority: Priority = Priority.NORMAL
    type: TaskType = TaskType.TODO
    status: TaskStatus = TaskStatus.OPEN
    company_id: str | None = None
    contact_id: str | None = None

    def __post_init__(self) -> None:
        require_aware("TaskSpec.due_at", self.due_at)

    @property
    def due_date(self) -> dt.date:
        """The due day in the playbook's time zone (for CRMs whose task due date is a plain date)."""
        return self.due_at.date()


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskRef:
    """A task that exists in the CRM, found by its key.

    ``subject``, ``body``, ``priority`` and ``type`` are None when the adapter did not read them;
    an adapter that reads them lets a task found in the CRM be compared with the plan
    (``content_differs``) instead of being taken as already written."""

    key: str
    crm_id: str
    deal_id: str | None = None
    due_at: dt.datetime | None = None
    status: TaskStatus = TaskStatus.OPEN
    owner_id: str | None = None
    subject: str | None = None
    body: str | None = None
    priority: Priority | None = None
    type: TaskType | None = None

    def __post_init__(self) -> None:
        require_aware("TaskRef.due_at", self.due_at)

    @property
    def content_known(self) -> bool:
        return None not in (self.subject, self.body, self.priority, self.type)

    def content_differs(self, spec: TaskSpec) -> bool | None:
        """Whether subject, body, owner, priority or type differ from ``spec``; None when the
        adapter did not read them. Bodies are compared as canonical structured text
        (``connector.rich_text.plain``: an adapter reads an HTML body back to it; line endings,
        blanks and list markers do not count), and a text the adapter cut to the CRM's limit
        equals the planned text it was cut from (``connector.text_limits.same_text``)."""
        if not self.content_known:
            return None
        return (not same_text((self.subject or "").strip(), spec.subject.strip())
                or not same_text(plain(self.body or ""), plain(spec.body))
                or (self.owner_id or None) != (spec.owner_id or None)
                or self.priority is not spec.priority or self.type is not spec.type)

    def differences(self, spec: TaskSpec) -> tuple[str, ...]:
        """What an update must change to make this task ``spec``, in ``UpdateTask.changes`` terms:
        ``"due_at"`` (the instant differs) and ``"content"``. Never the status."""
        changes = []
        if self.due_at != spec.due_at:
            changes.append("due_at")
        if self.content_differs(spec):
            changes.append("content")
        return tuple(changes)


@dataclass(frozen=True, kw_only=True, slots=True)
class DealSpec:
    """A deal AfterClose wants created: a customer's next renewal deal (docs/playbooks.md).

    ``key`` identifies it, like a task's, and is stored on the deal in the mapping's
    ``renewal_deal_key`` field, so a lost answer or a lost state store never makes it twice.
    ``fields``: other mapped deal fields to set, by canonical name (``deal_type``), raw."""

    key: str
    from_deal_id: str
    """The won deal whose renewal this is."""
    name: str
    close_date: dt.date
    stage: str
    pipeline: str | None = None
    owner_id: str | None = None
    amount: FieldValue = None
    company_id: str | None = None
    contact_id: str | None = None
    fields: Mapping[str, FieldValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", _frozen_mapping(self.fields))


RENEWAL_DEAL_KEY = "renewal_deal_key"
"""The canonical deal field (mappings/<crm>.toml) that holds a created renewal deal's key."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordUpdate:
    """Field values to write onto one CRM record, by canonical field name."""

    kind: RecordKind
    record_id: str
    values: Mapping[str, FieldValue]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen_mapping(self.values))


@dataclass(frozen=True, kw_only=True, slots=True)
class NpsResponse:
    response_id: str
    email: str | None
    score: int
    responded_at: dt.datetime
    comment: str | None = None
    account_id: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        require_aware("NpsResponse.responded_at", self.responded_at)
        if not 0 <= self.score <= 10:
            raise ValueError(f"NPS score must be 0-10, got {self.score}")


@dataclass(frozen=True, kw_only=True, slots=True)
class NpsContact:
    """A CRM contact as the NPS job needs it: who answered a survey, and their company/account."""

    id: str
    email: str | None
    company_id: str | None
    """The contact's primary company (HubSpot) or its account (Salesforce); None when it has none."""
    name: str | None = None
