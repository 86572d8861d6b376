"""What the state store hands back, and the errors it raises."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from connector.actions import Outcome
from connector.errors import AfterCloseError
from connector.model import NpsResponse


class StateStoreError(AfterCloseError):
    """The state database cannot be used as it is (unreachable, or from a newer AfterClose)."""


class StateCorruptError(StateStoreError):
    """The state database (or a value in it) cannot be read: a damaged file, an unreadable cursor.
    The message names the database, says what is wrong and what is safe to do."""


class LockLostError(AfterCloseError):
    """The run lock was lost while the run held it (its PostgreSQL session ended): another run may
    have started, so this one records nothing more and stops. Not a StateStoreError: the run did
    write to the CRM, and the next run resumes after the last page recorded (exit 4)."""


class SchemaTooNewError(StateStoreError):
    """The database was migrated by a newer AfterClose; this version must not write to it."""


class RunOutcome(StrEnum):
    OK = "ok"
    REJECTED = "rejected"  # finished, but the CRM refused some records
    FAILED = "failed"
    LOCK_HELD = "lock_held"  # another run held the scope's lock; nothing was done
    MISSED = "missed"  # a scheduled tick that never ran (the lock stayed held past its wait, or the scheduler was late)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunSummary:
    id: int
    scope: str
    job: str
    dry_run: bool
    host: str
    pid: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: RunOutcome | None
    """None while the run is going (or when a dry run's process died)."""
    counts: Mapping[str, int]
    api_calls: int
    api_calls_by_endpoint: Mapping[str, int]
    error: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRecord:
    run_id: int
    deal_id: str
    key: str
    action_kind: str
    outcome: Outcome
    crm_id: str | None
    message: str | None
    """The CRM's own words for a rejection; for every other outcome why it was decided (the
    planner's reason), then what the CRM added (``rows.record_message``)."""
    error_code: str | None
    correlation_id: str | None
    recorded_at: dt.datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class RejectedRecord:
    scope: str
    deal_id: str
    key: str
    action_kind: str
    reason: str | None
    error_code: str | None
    attempts: int
    first_seen: dt.datetime
    last_seen: dt.datetime


class NpsStatus(StrEnum):
    """What became of an NPS response AfterClose has seen (table ``afterclose_nps_responses``)."""

    MATCHED = "matched"  # tied to an account and written back: never planned again on its own
    UNMATCHED = "unmatched"  # no account yet (the reason says why): matched again every run
    REJECTED = "rejected"  # matched, but the CRM refused a write for its account: planned again


@dataclass(frozen=True, kw_only=True, slots=True)
class NpsRecord:
    """One response's outcome in a run, as ``commit_nps`` stores it."""

    response: NpsResponse
    status: NpsStatus
    account_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredNpsResponse:
    response: NpsResponse
    status: NpsStatus
    account_id: str | None
    reason: str | None
    attempts: int
    """Runs that have seen it (1 the first time)."""
    first_seen: dt.datetime
    last_seen: dt.datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceReject:
    """A row or item the NPS source could not use, as the latest run that read the source found it."""

    source: str
    """The file path or URL."""
    line: int | None
    """Where the row starts in the file; None for an API item or a whole file."""
    reason: str
    run_id: int | None
    seen_at: dt.datetime

    def describe(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"
