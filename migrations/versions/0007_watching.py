"""Watching the stay: each baby watched and their baseline, the new information found between checkpoints, and
the job's lease.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "watchedbaby",
        sa.Column("nhs_number", sa.String(), nullable=False),
        sa.Column("records_json", sa.String(), nullable=False),
        sa.Column("sources_json", sa.String(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("watched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nhs_number"),
    )
    op.create_table(
        "newinformation",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("nhs_number", sa.String(), nullable=False),
        sa.Column("record_key", sa.String(), nullable=False),
        sa.Column("change", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("category_label", sa.String(), nullable=False),
        sa.Column("display", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("start", sa.String(), nullable=True),
        sa.Column("person", sa.String(), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(), nullable=True),
        sa.Column("task_key", sa.String(), nullable=False),
        sa.Column("task_written_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("task_error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_newinformation_nhs_number", "newinformation", ["nhs_number"])
    op.create_index("ix_newinformation_found_at", "newinformation", ["found_at"])
    op.create_table(
        "joblease",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("joblease")
    op.drop_index("ix_newinformation_found_at", "newinformation")
    op.drop_index("ix_newinformation_nhs_number", "newinformation")
    op.drop_table("newinformation")
    op.drop_table("watchedbaby")
