"""keep what was checked in Tripletex (company binding, mapping, periods), the load's reads for
reconciliation, and where a draft may be left

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tripletex_bindings",
        sa.Column("tenant_id", sa.String(100), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("company_id", sa.BigInteger()),
        sa.Column("company", sa.String(300)),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mapping_version_id", sa.Integer(), sa.ForeignKey("mapping_versions.id")),
        sa.Column("mapping_checked_at", sa.DateTime(timezone=True)),
        sa.Column("recheck", sa.Text()),
        sa.Column("periods", sa.JSON()),
        sa.Column("periods_read_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ledger_reads",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vouchers", sa.JSON(), nullable=False),
    )
    op.create_index("ix_ledger_reads_tenant", "ledger_reads", ["tenant_id", "read_at"])
    op.create_table(
        "draft_doubts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("external_number", sa.String(70), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_draft_doubts_tenant_day", "draft_doubts", ["tenant_id", "local_date"])


def downgrade() -> None:
    op.drop_index("ix_draft_doubts_tenant_day", table_name="draft_doubts")
    op.drop_table("draft_doubts")
    op.drop_index("ix_ledger_reads_tenant", table_name="ledger_reads")
    op.drop_table("ledger_reads")
    op.drop_table("tripletex_bindings")
