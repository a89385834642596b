"""reports kept in staging (history per tenant-day, voucher version and run); journal kept on its voucher

Revision ID: 0006
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "local_date", "version", "run_id", name="uq_report_run"),
    )
    op.create_index("ix_reports_tenant_day", "reports", ["tenant_id", "local_date", "created_at"])
    with op.batch_alter_table("vouchers") as batch_op:
        batch_op.add_column(sa.Column("journal", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vouchers") as batch_op:
        batch_op.drop_column("journal")
    op.drop_index("ix_reports_tenant_day", table_name="reports")
    op.drop_table("reports")
