"""reconcile_marks: per tenant, how far reconciliation has read back changes and its rolling pass

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconcile_marks",
        sa.Column("tenant_id", sa.String(100), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
        sa.Column("touched_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rolling_after", sa.Date()),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("drafts_deleted", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reconcile_marks")
