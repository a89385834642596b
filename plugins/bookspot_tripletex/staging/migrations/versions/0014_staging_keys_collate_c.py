"""the text keys of transactions and transaction_lines compare in byte order on PostgreSQL (COLLATE "C")

Their primary keys and tenant-day indexes are the B-trees every staged record and line is inserted
into; under a libc locale each comparison of two keys is a strcoll call (PostgreSQL uses memcmp and
abbreviated keys only for "C"). Equality is the same under any deterministic collation; ORDER BY on
these columns becomes byte order, as SQLite's BINARY already is. SQLite is unchanged.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {"tenant_id": 100, "transaction_id": 200}
TABLES = ("transactions", "transaction_lines")


def _collate(collation: str | None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        for column, length in KEYS.items():
            op.alter_column(
                table,
                column,
                existing_type=sa.String(length),
                type_=sa.String(length, collation=collation),
                existing_nullable=False,
            )


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate(None)
