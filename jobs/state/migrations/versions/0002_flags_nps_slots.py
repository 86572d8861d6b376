"""Scope flags (re-learn mode after a lost state store), NPS responses seen, and claimed
schedule slots (so two `serve` replicas run each scheduled tick once).

Revision ID: 0002_flags_nps_slots
Revises: 0001_initial
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_flags_nps_slots"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "afterclose_flags",
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("value", sa.String(), nullable=False),
        _when("updated_at"),
    )
    op.create_table(
        "afterclose_nps_responses",
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("response_id", sa.String(), primary_key=True),
        sa.Column("email", sa.String()),
        sa.Column("account_id", sa.String()),
        sa.Column("score", sa.Integer(), nullable=False),
        _when("responded_at"),
        sa.Column("comment", sa.Text()),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("matched_account_id", sa.String()),
        sa.Column("reason", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("first_seen"),
        _when("last_seen"),
    )
    op.create_index("ix_afterclose_nps_status", "afterclose_nps_responses", ["scope", "status"])
    op.create_table(
        "afterclose_slots",
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("job", sa.String(), nullable=False),
        _when("fire_time", nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        _when("claimed_at"),
        sa.PrimaryKeyConstraint("scope", "job", "fire_time"),
    )


def downgrade() -> None:
    op.drop_table("afterclose_slots")
    op.drop_index("ix_afterclose_nps_status", table_name="afterclose_nps_responses")
    op.drop_table("afterclose_nps_responses")
    op.drop_table("afterclose_flags")
