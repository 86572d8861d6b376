"""The state store's tables: the current shape of the schema.

``migrations/versions/`` holds the history that builds it; a test compares the two
(tests/contract/test_store_schema.py), so a change here without a migration fails.
Datetimes go in and come out timezone-aware, in UTC: SQLite has no zone-aware type, so values are
stored as naive UTC text and re-labelled UTC when read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

from connector.model import require_aware

UTC = dt.UTC


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in and out, stored as UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        require_aware("stored datetime", value)
        value = value.astimezone(UTC)
        # SQLite's DATETIME is text without a zone: store naive UTC, re-label on the way out.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

cursors = Table(
    "afterclose_cursors", metadata,
    Column("scope", String, primary_key=True),
    Column("job", String, primary_key=True),
    Column("modified", UtcDateTime, nullable=False),
    Column("deal_id", String, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

ledger = Table(
    "afterclose_ledger", metadata,
    Column("scope", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("deal_id", String, nullable=False),
    Column("touch_point", String, nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("crm_id", String),
    Column("due_at", UtcDateTime),
    Column("status", String, nullable=False),
    Column("fingerprint", String),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_afterclose_ledger_deal", "scope", "deal_id"),
)

runs = Table(
    "afterclose_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String, nullable=False),
    Column("job", String, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("host", String, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("outcome", String),
    Column("counts", JSON, nullable=False),
    Column("api_calls", Integer, nullable=False),
    Column("api_calls_by_endpoint", JSON, nullable=False),
    Column("error", Text),
    Index("ix_afterclose_runs_scope_started", "scope", "started_at"),
    sqlite_autoincrement=True,  # never reuse a run id after pruning
)

run_records = Table(
    "afterclose_run_records", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("afterclose_runs.id"), nullable=False),
    Column("deal_id", String, nullable=False),
    Column("key", String, nullable=False),
    Column("action_kind", String, nullable=False),
    Column("outcome", String, nullable=False),
    Column("crm_id", String),
    Column("message", Text),
    Column("error_code", String),
    Column("correlation_id", String),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_afterclose_run_records_run", "run_id"),
    Index("ix_afterclose_run_records_deal", "deal_id"),
    sqlite_autoincrement=True,
)

rejected_records = Table(
    "afterclose_rejected", metadata,
    Column("scope", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("deal_id", String, nullable=False),
    Column("action_kind", String, nullable=False),
    Column("reason", Text),
    Column("error_code", String),
    Column("attempts", Integer, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("last_run_id", Integer),
    Index("ix_afterclose_rejected_deal", "scope", "deal_id"),
)

revisits_table = Table(
    "afterclose_revisits", metadata,
    Column("scope", String, primary_key=True),
    Column("deal_id", String, primary_key=True),
    Column("revisit_at", UtcDateTime, nullable=False),
    Index("ix_afterclose_revisits_due", "scope", "revisit_at"),
)

customer_deals = Table(
    "afterclose_customer_deals", metadata,
    Column("scope", String, primary_key=True),
    Column("deal_id", String, primary_key=True),
    Column("company_id", String),
    Column("name", Text, nullable=False),
    Column("close_date", Date),
    Column("won", Boolean, nullable=False),
    Column("playbook", String, nullable=False),
    Column("renewal_deal", Boolean, nullable=False),
    Column("because", Text, nullable=False),
    Column("previous_playbook", String),
    Column("since", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_afterclose_customer_deals_company", "scope", "company_id"),
)

flags = Table(
    "afterclose_flags", metadata,
    Column("scope", String, primary_key=True),
    Column("name", String, primary_key=True),
    Column("value", String, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

nps_responses = Table(
    "afterclose_nps_responses", metadata,
    Column("scope", String, primary_key=True),
    Column("response_id", String, primary_key=True),
    Column("email", String),
    Column("account_id", String),
    Column("score", Integer, nullable=False),
    Column("responded_at", UtcDateTime, nullable=False),
    Column("comment", Text),
    Column("source", String, nullable=False),
    Column("status", String, nullable=False),
    Column("matched_account_id", String),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Index("ix_afterclose_nps_status", "scope", "status"),
)

nps_source_rejects = Table(
    "afterclose_nps_source_rejects", metadata,
    Column("scope", String, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("source", String, nullable=False),
    Column("line", Integer),
    Column("reason", Text, nullable=False),
    Column("run_id", Integer),
    Column("seen_at", UtcDateTime, nullable=False),
)
"""Rows or items the NPS source could not use, as the latest run that read the source found them
(file or URL, line, why): `afterclose status` lists them until the source is fixed."""

slots = Table(
    "afterclose_slots", metadata,
    Column("scope", String, primary_key=True),
    Column("job", String, primary_key=True),
    Column("fire_time", UtcDateTime, primary_key=True),
    Column("host", String, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
)

instances = Table(
    "afterclose_instances", metadata,
    Column("address", String, primary_key=True),
    Column("scope", String, primary_key=True),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
)

create_intents = Table(
    "afterclose_create_intents", metadata,
    Column("scope", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("deal_id", String, nullable=False),
    Column("run_id", Integer),
    Column("sent_at", UtcDateTime, nullable=False),
)
"""The create journal: task keys sent to the CRM whose results are not recorded yet (written
before the call, deleted in the transaction that records the result; jobs/state/intents.py)."""

console_changes = Table(
    "afterclose_console_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("actor", String, nullable=False),
    Column("role", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("path", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("diff", Text, nullable=False),
    Index("ix_afterclose_console_changes_at", "changed_at"),
    sqlite_autoincrement=True,
)
"""Every change the admin console made to a mapping or playbook file: who, when, which file, and
the diff (jobs/state/console_changes.py). Not scoped: a file serves every account a config reaches."""

deal_versions = Table(
    "afterclose_deal_versions", metadata,
    Column("scope", String, primary_key=True),
    Column("deal_id", String, primary_key=True),
    Column("modified", UtcDateTime, nullable=False),
    Index("ix_afterclose_deal_versions_modified", "scope", "modified"),
)
"""The version (modified stamp) in which the sync last handled each deal modified shortly before
its cursor: a read with a look-back skips a deal met again in that version (jobs/state/deal_versions.py)."""

SCOPED_TABLES = (cursors, ledger, runs, rejected_records, revisits_table, flags, nps_responses, nps_source_rejects,
                 slots,
                 create_intents, customer_deals, deal_versions)
"""Every table whose rows belong to one scope (run records belong to their run)."""
