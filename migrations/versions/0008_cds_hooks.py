"""CDS Hooks (issue 17): the JWT ids (jti) each EPR has used, so a replayed hook call is refused by every instance.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cdsseenjwt",
        sa.Column("issuer", sa.String(), nullable=False),
        sa.Column("jti", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti"),
    )
    op.create_index("ix_cdsseenjwt_expires_at", "cdsseenjwt", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_cdsseenjwt_expires_at", "cdsseenjwt")
    op.drop_table("cdsseenjwt")
