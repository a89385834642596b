"""index the quarantine rows still held, by record id (staging looks them up to release them)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD = sa.text("released_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_quarantine_held",
        "quarantine",
        ["tenant_id", "record_id"],
        sqlite_where=HELD,
        postgresql_where=HELD,
    )


def downgrade() -> None:
    op.drop_index("ix_quarantine_held", table_name="quarantine")
