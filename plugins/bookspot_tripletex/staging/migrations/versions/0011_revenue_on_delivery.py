"""mapping versions carry the revenue-on-delivery option; transaction lines are found by service date

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "mapping_versions",
        sa.Column("revenue_on_delivery", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_transaction_lines_service_date", "transaction_lines", ["tenant_id", "service_date"])


def downgrade() -> None:
    op.drop_index("ix_transaction_lines_service_date", table_name="transaction_lines")
    if op.get_bind().dialect.name == "sqlite":  # a batch copy would break the tables that refer to it
        op.execute("ALTER TABLE mapping_versions DROP COLUMN revenue_on_delivery")
    else:
        op.drop_column("mapping_versions", "revenue_on_delivery")
