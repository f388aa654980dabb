"""When the Task check last ran without a problem, by NeoSafe's clock: a later search for changes vouches only for the
Tasks that one covered, so one a full search did not find (gone from the record) is not marked checked again.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasksweep") as table:  # SQLite alters a table by copying it
        table.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasksweep") as table:
        table.drop_column("checked_at")
