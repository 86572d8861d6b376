"""The customer book: each deal's company, playbook and whether it is a renewal deal, so a
customer's renewal deal can take over the renewals of its earlier deals across pages and runs
(jobs/core/customers.py), and `afterclose status --deal` can say which playbook a deal has.

Revision ID: 0007_customer_deals
Revises: 0006_create_intents
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_customer_deals"
down_revision: str | Sequence[str] | None = "0006_create_intents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "afterclose_customer_deals",
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("deal_id", sa.String(), primary_key=True),
        sa.Column("company_id", sa.String()),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("close_date", sa.Date()),
        sa.Column("won", sa.Boolean(), nullable=False),
        sa.Column("playbook", sa.String(), nullable=False),
        sa.Column("renewal_deal", sa.Boolean(), nullable=False),
        sa.Column("because", sa.Text(), nullable=False),
        sa.Column("previous_playbook", sa.String()),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_afterclose_customer_deals_company", "afterclose_customer_deals", ["scope", "company_id"])


def downgrade() -> None:
    op.drop_index("ix_afterclose_customer_deals_company", table_name="afterclose_customer_deals")
    op.drop_table("afterclose_customer_deals")
