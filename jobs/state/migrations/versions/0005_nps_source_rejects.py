"""NPS rows the source could not use (file, line, reason), kept so `afterclose status` shows them.

Revision ID: 0005_nps_source_rejects
Revises: 0004_instances
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_nps_source_rejects"
down_revision: str | Sequence[str] | None = "0004_instances"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "afterclose_nps_source_rejects",
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("line", sa.Integer()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer()),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("afterclose_nps_source_rejects")
