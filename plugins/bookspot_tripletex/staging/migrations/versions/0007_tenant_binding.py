"""bind each tenant to its Tripletex company: company id, organisation number, declared sharing

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("tripletex_company_id", sa.BigInteger(), nullable=True))
    op.add_column("tenants", sa.Column("organization_number", sa.String(length=9), nullable=True))
    op.add_column("tenants", sa.Column("shares_company_with", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("shares_company_with")
        batch.drop_column("organization_number")
        batch.drop_column("tripletex_company_id")
