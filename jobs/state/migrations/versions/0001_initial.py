"""The first state store schema: cursors, ledger, runs with per-record outcomes, rejected
records to retry, revisits.

NPS bookkeeping (responses seen, referral states) will come as a later revision.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    # Stored as UTC; SQLite keeps naive UTC text (jobs.state.tables.UtcDateTime converts both ways).
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "afterclose_cursors",
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("job", sa.String(), primary_key=True),
        _when("modified"),
        sa.Column("deal_id", sa.String(), nullable=False),
        _when("updated_at"),
    )
    op.create_table(
        "afterclose_ledger",
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("touch_point", sa.String(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("crm_id", sa.String()),
        _when("due_at", nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String()),
        _when("updated_at"),
    )
    op.create_index("ix_afterclose_ledger_deal", "afterclose_ledger", ["scope", "deal_id"])
    op.create_table(
        "afterclose_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("job", sa.String(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        _when("started_at"),
        _when("finished_at", nullable=True),
        sa.Column("outcome", sa.String()),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("api_calls_by_endpoint", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text()),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_afterclose_runs_scope_started", "afterclose_runs", ["scope", "started_at"])
    op.create_table(
        "afterclose_run_records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("afterclose_runs.id"), nullable=False),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("action_kind", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("crm_id", sa.String()),
        sa.Column("message", sa.Text()),
        sa.Column("error_code", sa.String()),
        sa.Column("correlation_id", sa.String()),
        _when("recorded_at"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_afterclose_run_records_run", "afterclose_run_records", ["run_id"])
    op.create_table(
        "afterclose_rejected",
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("action_kind", sa.String(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("error_code", sa.String()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("first_seen"),
        _when("last_seen"),
        sa.Column("last_run_id", sa.Integer()),
    )
    op.create_index("ix_afterclose_rejected_deal", "afterclose_rejected", ["scope", "deal_id"])
    op.create_table(
        "afterclose_revisits",
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("deal_id", sa.String(), primary_key=True),
        _when("revisit_at"),
    )
    op.create_index("ix_afterclose_revisits_due", "afterclose_revisits", ["scope", "revisit_at"])


def downgrade() -> None:
    for index, table in (
        ("ix_afterclose_revisits_due", "afterclose_revisits"),
        ("ix_afterclose_rejected_deal", "afterclose_rejected"),
        ("ix_afterclose_run_records_run", "afterclose_run_records"),
        ("ix_afterclose_runs_scope_started", "afterclose_runs"),
        ("ix_afterclose_ledger_deal", "afterclose_ledger"),
    ):
        op.drop_index(index, table_name=table)
        op.drop_table(table)
    op.drop_table("afterclose_cursors")
