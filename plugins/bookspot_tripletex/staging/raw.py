"""The raw payload of staged transactions: one zlib-compressed batch per staging chunk (see
`schema.raw_batches`), and reading one record's text back."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, select

from bookspot_tripletex.staging.schema import raw_batches, transactions

LEVEL = 1
"""zlib's fastest level: JSON records still shrink about twelvefold."""


def pack(texts: Sequence[bytes]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The batch blob of these UTF-8 texts and each text's (offset, length) in it once decompressed."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    offsets = np.cumsum(lengths) - lengths
    return zlib.compress(b"".join(texts), LEVEL), offsets, lengths


def raw_record(conn: Connection, tenant_id: str, transaction_id: str) -> str | None:
    """The raw text BookSpot sent for the staged version of a transaction (None if not staged)."""
    row = conn.execute(
        select(raw_batches.c.data, transactions.c.raw_offset, transactions.c.raw_length)
        .join(raw_batches, raw_batches.c.id == transactions.c.raw_batch_id)
        .where(transactions.c.tenant_id == tenant_id, transactions.c.transaction_id == transaction_id)
    ).one_or_none()
    if row is None:
        return None
    data, offset, length = row
    return zlib.decompress(data)[offset : offset + length].decode("utf-8")


def raw_records(conn: Connection, tenant_id: str) -> dict[str, str]:
    """Every staged transaction's raw text for one tenant, by transaction id."""
    rows = conn.execute(
        select(
            transactions.c.transaction_id,
            transactions.c.raw_batch_id,
            transactions.c.raw_offset,
            transactions.c.raw_length,
        ).where(transactions.c.tenant_id == tenant_id)
    ).all()
    ids = sorted({row.raw_batch_id for row in rows})
    blobs = {
        batch_id: zlib.decompress(data)
        for batch_id, data in conn.execute(
            select(raw_batches.c.id, raw_batches.c.data).where(raw_batches.c.id.in_(ids))
        )
    }
    return {
        row.transaction_id: blobs[row.raw_batch_id][row.raw_offset : row.raw_offset + row.raw_length].decode()
        for row in rows
    }
