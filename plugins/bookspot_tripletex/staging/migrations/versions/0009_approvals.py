"""approvals: the gate's audit table; tenants: approval settings; statuses widened for awaiting_approval

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = (("vouchers", "status"), ("reports", "status"), ("day_outcomes", "outcome"))


def upgrade() -> None:
    for table, column in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column, existing_type=sa.String(16), type_=sa.String(32), existing_nullable=False
            )
    op.add_column(
        "tenants", sa.Column("approval_days", sa.Integer(), nullable=False, server_default=sa.text("3"))
    )
    op.add_column(
        "tenants",
        sa.Column("approval_new_mapping", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "tenants",
        sa.Column("approval_alert_hours", sa.Integer(), nullable=False, server_default=sa.text("24")),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("mapping_version_id", sa.Integer(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by_run", sa.String(length=250), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alerts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["mapping_version_id"], ["mapping_versions.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approvals_tenant_day", "approvals", ["tenant_id", "local_date"])


def downgrade() -> None:
    op.drop_index("ix_approvals_tenant_day", table_name="approvals")
    op.drop_table("approvals")
    for name in ("approval_alert_hours", "approval_new_mapping", "approval_days"):
        op.drop_column("tenants", name)  # SQLite >= 3.35 drops in place; other tables refer to tenants
    for table, column in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column, existing_type=sa.String(32), type_=sa.String(16), existing_nullable=False
            )
