"""The admin console's change log: every change it made to a mapping or playbook file, with who
made it, when, and the diff.

Revision ID: 0008_console_changes
Revises: 0007_customer_deals
Create Date: 2027-01-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_console_changes"
down_revision: str | Sequence[str] | None = "0007_customer_deals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "afterclose_console_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_afterclose_console_changes_at", "afterclose_console_changes", ["changed_at"])


def downgrade() -> None:
    op.drop_index("ix_afterclose_console_changes_at", table_name="afterclose_console_changes")
    op.drop_table("afterclose_console_changes")
