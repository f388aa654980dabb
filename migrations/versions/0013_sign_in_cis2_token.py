"""A sign-in by NHS CIS2 keeps the clinician's access token server-side, never in the cookie: CP-IS is called with it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("signin") as table:  # SQLite alters a table by copying it
        table.add_column(sa.Column("cis2_access_token", sa.String(), nullable=True))
        table.add_column(sa.Column("cis2_token_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signin") as table:
        table.drop_column("cis2_token_expires_at")
        table.drop_column("cis2_access_token")
