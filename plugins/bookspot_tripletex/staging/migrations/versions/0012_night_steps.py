"""night_steps: the tenant-days of a run and the step each reached

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "night_steps",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("tenant_id", sa.String(100), primary_key=True),
        sa.Column("local_date", sa.Date(), primary_key=True),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32)),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_night_steps_updated", "night_steps", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_night_steps_updated", table_name="night_steps")
    op.drop_table("night_steps")
