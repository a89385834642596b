"""Write simulated BookSpot feeds to a JSON Lines file (streaming; the file appears whole or not at all)."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .generator import iter_transactions

BATCH = 4096


def json_encoder() -> Callable[[Any], bytes]:
    """Compact UTF-8 JSON: msgspec when installed (Airflow brings it), else the standard library."""
    try:
        import msgspec
    except ImportError:
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        return lambda record: encode(record).encode("utf-8")
    return msgspec.json.Encoder().encode


def write_jsonl(
    path: str | Path,
    tenants: Iterable[str] | int,
    date_from: dt.date | str,
    date_to: dt.date | str,
    seed: int = 0,
    *,
    transactions_per_day: float | None = None,
    **knobs: float,
) -> int:
    """Write every version of every tenant's records (dates inclusive) as compact UTF-8 JSON Lines.

    `tenants` is a list of account ids or a count (`tenant_ids(n)`); returns the number of lines.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    encode = json_encoder()
    records = iter_transactions(
        tenants, date_from, date_to, seed, transactions_per_day=transactions_per_day, **knobs
    )
    count = 0
    batch: list[bytes] = []
    try:
        with partial.open("wb") as fh:
            for record in records:
                batch.append(encode(record))
                if len(batch) == BATCH:
                    fh.write(b"\n".join(batch) + b"\n")
                    count += BATCH
                    batch.clear()
            if batch:
                fh.write(b"\n".join(batch) + b"\n")
                count += len(batch)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return count
