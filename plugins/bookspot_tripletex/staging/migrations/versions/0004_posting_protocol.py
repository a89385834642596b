"""vouchers: fenced claims, drafts, company, correction kind and posting date; activations: resolved ids

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VOUCHER_COLUMNS = (
    ("kind", sa.String(16), {"nullable": False, "server_default": "day"}),
    ("posting_date", sa.Date(), {}),
    ("note", sa.Text(), {}),
    ("claim_token", sa.String(64), {}),
    ("claim_expires_at", sa.DateTime(timezone=True), {}),
    ("draft_id", sa.BigInteger(), {}),
    ("draft_version", sa.Integer(), {}),
    ("draft_requested_at", sa.DateTime(timezone=True), {}),
    ("company_id", sa.BigInteger(), {}),
    ("reversal_id", sa.BigInteger(), {}),
)


def upgrade() -> None:
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        for name, type_, extra in VOUCHER_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, **extra))
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activations", schema=None) as batch_op:
        batch_op.drop_column("resolved")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        for name, _, _ in reversed(VOUCHER_COLUMNS):
            batch_op.drop_column(name)
