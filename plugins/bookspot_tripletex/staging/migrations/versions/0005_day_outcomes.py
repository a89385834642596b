"""day_outcomes: what each run did with each tenant-day (outcome, step, counts, reason, action)

Revision ID: 0005
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "day_outcomes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("action", sa.Text()),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "local_date", "run_id", name="uq_day_outcome_run"),
    )
    op.create_index("ix_day_outcomes_recorded", "day_outcomes", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_day_outcomes_recorded", table_name="day_outcomes")
    op.drop_table("day_outcomes")
