"""activation checks per mapping version; tenant option to attach the report PDF

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tenants", sa.Column("attach_report", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "activations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=False),
        sa.Column("mapping_version_id", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("company", sa.String(length=300), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mapping_version_id"], ["mapping_versions.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_activations_tenant_mapping", "activations", ["tenant_id", "mapping_version_id"])


def downgrade() -> None:
    op.drop_index("ix_activations_tenant_mapping", table_name="activations")
    op.drop_table("activations")
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.drop_column("attach_report")
