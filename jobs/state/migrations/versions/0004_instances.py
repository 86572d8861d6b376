"""CRM accounts by address: which portals or orgs (scopes ``hubspot:portal-<id>``,
``salesforce:org-<id>``) were reached through each configured address (``hubspot:api.hubapi.com``).

State databases made before this revision keep their state under the address itself; the first
run that learns the account's id from the CRM moves that state to the account's scope, once it has
checked that the state is that account's (jobs/scopes.py). That needs the CRM, so it is not done
here.

Revision ID: 0004_instances
Revises: 0003_run_records_by_deal
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_instances"
down_revision: str | Sequence[str] | None = "0003_run_records_by_deal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "afterclose_instances",
        sa.Column("address", sa.String(), primary_key=True),
        sa.Column("scope", sa.String(), primary_key=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("afterclose_instances")
