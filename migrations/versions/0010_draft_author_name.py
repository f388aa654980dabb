"""A draft keeps its author's name, so the checklist page says who saved it as a person, not as a user id.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("draft") as table:  # SQLite alters a table by copying it
        table.add_column(sa.Column("author_name", sa.String(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("draft") as table:
        table.drop_column("author_name")
