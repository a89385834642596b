"""staged transactions keep their raw text in compressed batches; transaction lines lose the foreign key

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-30
"""

import datetime as dt
import zlib
from collections.abc import Sequence
from itertools import accumulate

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
LEVEL = 1
POINTERS = ("raw_batch_id", "raw_offset", "raw_length")


def _lines_without_foreign_key() -> sa.Table:
    return sa.Table(
        "transaction_lines",
        sa.MetaData(),
        sa.Column("tenant_id", sa.String(100), primary_key=True),
        sa.Column("transaction_id", sa.String(200), primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("product_name", sa.String(500), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("gross_ore", sa.BigInteger, nullable=False),
        sa.Column("vat_rate", sa.String(8), nullable=False),
        sa.Column("vat_ore", sa.BigInteger, nullable=False),
        sa.Column("service_date", sa.Date),
    )


def _drop_lines_foreign_key() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table(
            "transaction_lines", recreate="always", copy_from=_lines_without_foreign_key()
        ):
            pass
        return
    for fk in sa.inspect(bind).get_foreign_keys("transaction_lines"):
        op.drop_constraint(fk["name"], "transaction_lines", type_="foreignkey")


def _move_raw_texts() -> None:
    bind = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    batches = sa.table(
        "raw_batches",
        sa.column("id", sa.Integer),
        sa.column("tenant_id", sa.String),
        sa.column("records", sa.Integer),
        sa.column("data", sa.LargeBinary),
        sa.column("staged_at", sa.DateTime(timezone=True)),
    )
    txs = sa.table(
        "transactions",
        sa.column("tenant_id", sa.String),
        sa.column("transaction_id", sa.String),
        sa.column("raw", sa.Text),
        *(sa.column(name, sa.Integer) for name in POINTERS),
    )
    rows = bind.execute(
        sa.select(txs.c.tenant_id, txs.c.transaction_id, txs.c.raw).order_by(
            txs.c.tenant_id, txs.c.transaction_id
        )
    ).all()
    point = (
        sa.update(txs)
        .where(txs.c.tenant_id == sa.bindparam("t"), txs.c.transaction_id == sa.bindparam("x"))
        .values(raw_batch_id=sa.bindparam("b"), raw_offset=sa.bindparam("o"), raw_length=sa.bindparam("n"))
    )
    tenants = sorted({row.tenant_id for row in rows})
    for tenant in tenants:
        mine = [row for row in rows if row.tenant_id == tenant]
        for start in range(0, len(mine), BATCH):
            part = mine[start : start + BATCH]
            texts = [row.raw.encode("utf-8") for row in part]
            ends = list(accumulate(map(len, texts)))
            data = zlib.compress(b"".join(texts), LEVEL)
            values = {"tenant_id": tenant, "records": len(part), "data": data, "staged_at": now}
            batch_id = bind.execute(batches.insert().values(values).returning(batches.c.id)).scalar_one()
            bind.execute(
                point,
                [
                    {
                        "t": tenant,
                        "x": row.transaction_id,
                        "b": batch_id,
                        "o": end - len(text),
                        "n": len(text),
                    }
                    for row, text, end in zip(part, texts, ends, strict=True)
                ],
            )


def upgrade() -> None:
    op.create_table(
        "raw_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=100), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("staged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _drop_lines_foreign_key()
    with op.batch_alter_table("transactions") as batch:
        for name in POINTERS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
    _move_raw_texts()
    with op.batch_alter_table("transactions") as batch:
        for name in POINTERS:
            batch.alter_column(name, existing_type=sa.Integer(), nullable=False)
        batch.drop_column("raw")


def _restore_raw_texts() -> None:
    bind = op.get_bind()
    txs = sa.table(
        "transactions",
        sa.column("tenant_id", sa.String),
        sa.column("transaction_id", sa.String),
        sa.column("raw", sa.Text),
        *(sa.column(name, sa.Integer) for name in POINTERS),
    )
    batches = sa.table("raw_batches", sa.column("id", sa.Integer), sa.column("data", sa.LargeBinary))
    put = (
        sa.update(txs)
        .where(txs.c.tenant_id == sa.bindparam("t"), txs.c.transaction_id == sa.bindparam("x"))
        .values(raw=sa.bindparam("r"))
    )
    for batch_id, data in bind.execute(sa.select(batches.c.id, batches.c.data)).all():
        text = zlib.decompress(data)
        rows = bind.execute(
            sa.select(txs.c.tenant_id, txs.c.transaction_id, txs.c.raw_offset, txs.c.raw_length).where(
                txs.c.raw_batch_id == batch_id
            )
        ).all()
        if rows:
            bind.execute(
                put,
                [{"t": t, "x": x, "r": text[o : o + n].decode("utf-8")} for t, x, o, n in rows],
            )


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("raw", sa.Text(), nullable=True))
    _restore_raw_texts()
    with op.batch_alter_table("transactions") as batch:
        batch.alter_column("raw", existing_type=sa.Text(), nullable=False)
        for name in POINTERS:
            batch.drop_column(name)
    with op.batch_alter_table("transaction_lines") as batch:
        batch.create_foreign_key(
            "transaction_lines_tenant_id_transaction_id_fkey",
            "transactions",
            ["tenant_id", "transaction_id"],
            ["tenant_id", "transaction_id"],
            ondelete="CASCADE",
        )
    op.drop_table("raw_batches")
