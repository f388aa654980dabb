"""The key each submission was sent with, so the same submission sent twice is stored once.

A clinician whose "saved" page never arrived (a dropped connection, a restart mid-request) presses Save
again; an API client retries. The unique key makes the second arrival find the first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("assessment") as table:
        table.add_column(sa.Column("submission_key", sa.String(), nullable=True))
        table.add_column(sa.Column("submission_digest", sa.String(), nullable=True))
        table.create_index("ix_assessment_submission_key", ["submission_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("assessment") as table:
        table.drop_index("ix_assessment_submission_key")
        table.drop_column("submission_digest")
        table.drop_column("submission_key")
