"""A SMART EHR launch's encounter kept with the sign-in, tied to the launched baby, and with each draft and
checklist of that baby made in it; the write-back source a launch names kept with it, and each outbox entry's
target, fixed when its checklist was first stored (issue 17).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("signin") as table:  # SQLite alters a table by copying it
        table.add_column(sa.Column("launch_iss", sa.String(), nullable=True))
        table.add_column(sa.Column("launch_nhs_number", sa.String(), nullable=True))
        table.add_column(sa.Column("launch_encounter", sa.String(), nullable=True))
        table.add_column(sa.Column("launch_write_back", sa.String(), nullable=True))
    with op.batch_alter_table("outboxentry") as table:
        table.add_column(sa.Column("target", sa.String(), nullable=True))
        table.create_index("ix_outboxentry_target", ["target"])
    with op.batch_alter_table("assessment") as table:
        table.add_column(sa.Column("encounter", sa.String(), nullable=True))
    with op.batch_alter_table("draft") as table:
        table.add_column(sa.Column("encounter", sa.String(), nullable=True))
        table.add_column(sa.Column("target", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("draft") as table:
        table.drop_column("target")
        table.drop_column("encounter")
    with op.batch_alter_table("assessment") as table:
        table.drop_column("encounter")
    with op.batch_alter_table("outboxentry") as table:
        table.drop_index("ix_outboxentry_target")
        table.drop_column("target")
    with op.batch_alter_table("signin") as table:
        table.drop_column("launch_write_back")
        table.drop_column("launch_encounter")
        table.drop_column("launch_nhs_number")
        table.drop_column("launch_iss")
