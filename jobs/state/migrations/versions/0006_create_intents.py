"""The create journal: task creates sent to the CRM and not recorded yet, so a create whose answer
was lost is looked up before it is sent again (HubSpot without unique task keys).

Revision ID: 0006_create_intents
Revises: 0005_nps_source_rejects
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_create_intents"
down_revision: str | Sequence[str] | None = "0005_nps_source_rejects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "afterclose_create_intents",
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer()),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("afterclose_create_intents")
