"""What each assessment was made against (the records it saw), and what each draft was pre-filled with.

The records let the next checkpoint mark what appeared, ended or changed since; the draft's baseline lets a
refresh from the sources tell the sources' changes from the clinician's edits.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("assessment") as table:
        table.add_column(sa.Column("records_json", sa.String(), nullable=False, server_default="[]"))
    with op.batch_alter_table("draft") as table:
        table.add_column(sa.Column("baseline_json", sa.String(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("draft") as table:
        table.drop_column("baseline_json")
    with op.batch_alter_table("assessment") as table:
        table.drop_column("records_json")
