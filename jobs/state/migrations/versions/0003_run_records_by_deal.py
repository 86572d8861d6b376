"""Run records by deal: `afterclose status --deal ID` lists what every kept run did to one deal.

Revision ID: 0003_run_records_by_deal
Revises: 0002_flags_nps_slots
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_run_records_by_deal"
down_revision: str | Sequence[str] | None = "0002_flags_nps_slots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_afterclose_run_records_deal", "afterclose_run_records", ["deal_id"])


def downgrade() -> None:
    op.drop_index("ix_afterclose_run_records_deal", table_name="afterclose_run_records")
