"""When each audit record was sent to the FHIR record as an AuditEvent, so each is sent once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("auditevent") as table:
        table.add_column(sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True))
        table.create_index("ix_auditevent_exported_at", ["exported_at"])


def downgrade() -> None:
    with op.batch_alter_table("auditevent") as table:
        table.drop_index("ix_auditevent_exported_at")
        table.drop_column("exported_at")
