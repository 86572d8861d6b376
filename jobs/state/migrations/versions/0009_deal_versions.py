"""The versions in which the sync handled the deals modified shortly before its cursor, so that a
read with a look-back (HubSpot's search index can show an earlier edit after a later one) skips
the deals it meets again unchanged.

Revision ID: 0009_deal_versions
Revises: 0008_console_changes
Create Date: 2027-01-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_deal_versions"
down_revision: str | Sequence[str] | None = "0008_console_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "afterclose_deal_versions",
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("deal_id", sa.String(), primary_key=True),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_afterclose_deal_versions_modified", "afterclose_deal_versions", ["scope", "modified"])


def downgrade() -> None:
    op.drop_index("ix_afterclose_deal_versions_modified", table_name="afterclose_deal_versions")
    op.drop_table("afterclose_deal_versions")
