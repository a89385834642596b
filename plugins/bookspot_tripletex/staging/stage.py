"""Stage raw feed records for one tenant: upsert the latest version, quarantine the bad ones.

Records are staged in chunks. A chunk is decoded straight into the feed schema (msgspec checks every
field's type in C) and checked as columns (`feed.model.columns_of`, `limits.storable`); only the records
that fail there go through the strict checker, which quarantines them with the exact reason (or accepts
a spelling the column path does not read, such as a week date)."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from sqlalchemy import Connection, select, update

from bookspot_tripletex.feed.model import (
    NO_DAY,
    RECORD_FIELDS,
    Columns,
    InvalidRecord,
    LineRecord,
    Transaction,
    TransactionRecord,
    Violation,
    columns_of,
    parse_record,
)
from bookspot_tripletex.feed.nesting import max_depth
from bookspot_tripletex.feed.source import KEPT_BYTES, JsonLine, UndecodableLine, decoded
from bookspot_tripletex.settings import feed_limits
from bookspot_tripletex.staging.bulk import (
    EPOCH_DAY,
    Frame,
    SqliteRows,
    Writer,
    day_of,
    instant,
    micros,
    sqlite_rows,
    sqlite_time,
    writer_for,
)
from bookspot_tripletex.staging.limits import raw_json, safe_text, storable, storable_id, storage_violations
from bookspot_tripletex.staging.schema import (
    mapping_versions,
    pending_corrections,
    quarantine,
    transaction_lines,
    vouchers,
)
from bookspot_tripletex.staging.upsert import insert_ignore
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.timeutil import iso_utc

BATCH = 5000
GC_THRESHOLD = 50_000
RECORD_KEYS = frozenset(spec.key for spec in RECORD_FIELDS)
LINE_KEYS = frozenset(LineRecord.__struct_fields__)
_decode = msgspec.json.Decoder(TransactionRecord).decode
_encode = msgspec.json.encode


@dataclass
class StageResult:
    """What one staging pass did; `days` are the local days it touched."""

    staged: int = 0
    quarantined: int = 0
    released: int = 0
    stale: int = 0
    before_start: int = 0
    corrections: int = 0
    days: set[dt.date] = field(default_factory=set)

    def merge(self, other: StageResult) -> None:
        for name in ("staged", "quarantined", "released", "stale", "before_start", "corrections"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.days |= other.days

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in ("staged", "quarantined", "released", "stale")}
        out.update(before_start=self.before_start, corrections=self.corrections)
        out["days"] = sorted(d.isoformat() for d in self.days)
        return out


def _raw_text(raw: Any) -> str:
    if isinstance(raw, UndecodableLine):
        return safe_text(raw.text)
    return raw_json(raw)


def _quarantine_row(tenant: TenantConfig, raw: Any, error: InvalidRecord, now: dt.datetime) -> dict[str, Any]:
    text = _raw_text(raw)
    local_date = updated = None
    if isinstance(raw, dict):
        local_date = _local_date_of(raw.get("occurred_at"), tenant)
        try:
            updated = iso_utc(dt.datetime.fromisoformat(raw["updated_at"]))
        except (KeyError, TypeError, ValueError, OverflowError):
            updated = None
    return {
        "tenant_id": tenant.tenant,
        "record_id": storable_id(error.record_id),
        "local_date": local_date,
        "updated_at": updated,
        "reason": safe_text(str(error)),
        "rules": error.rules,
        "raw": text,
        "raw_hash": getattr(raw, "digest", None) or hashlib.sha256(text.encode()).hexdigest(),
        "received_at": now,
    }


def _local_date_of(value: Any, tenant: TenantConfig) -> dt.date | None:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(tenant.tz).date()
    except OverflowError:
        return None


def _decoded_or_unreadable(item: Any) -> Any:
    """The item decoded; an UndecodableLine if decoding it failed in a way nobody foresaw."""
    try:
        return decoded(item)
    except Exception as exc:  # noqa: BLE001  (one line's failure is that line's quarantine reason)
        line_no = item.line_no if type(item) is JsonLine else 0
        text = (
            item.data[:KEPT_BYTES].decode("utf-8", errors="replace") if type(item) is JsonLine else repr(item)
        )
        return UndecodableLine(
            line_no, text, f"could not be decoded: {type(exc).__name__}: {exc}", "unreadable"
        )


def check_record(raw: Any, tenant: TenantConfig) -> Transaction:
    """Parse and check one raw record for this tenant; raises InvalidRecord naming the reason. Any other
    exception while checking it becomes an InvalidRecord too, so that one record never stops a page."""
    raw = decoded(raw)
    if isinstance(raw, UndecodableLine):
        raise InvalidRecord(None, [Violation(raw.where, raw.rule, raw.reason)])
    try:
        return _check_decoded(raw, tenant)
    except InvalidRecord:
        raise
    except Exception as exc:  # noqa: BLE001
        record_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
        reason = f"could not be checked: {type(exc).__name__}: {str(exc)[:300]}"
        raise InvalidRecord(record_id, [Violation("record", "unreadable", reason)]) from exc


def _check_decoded(raw: Any, tenant: TenantConfig) -> Transaction:
    tx = parse_record(raw, tenant.currency)
    if tx.account_id != tenant.tenant:
        raise InvalidRecord(
            tx.id,
            [
                Violation(
                    "account_id",
                    "wrong_account",
                    f"{tx.account_id!r} is not this tenant's account {tenant.tenant!r}",
                )
            ],
        )
    unfit = storage_violations(tx, tenant.tz)
    if unfit:
        raise InvalidRecord(tx.id, unfit)
    return tx


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def stage_records(
    conn: Connection, tenant: TenantConfig, records: Iterable[Any], now: dt.datetime | None = None
) -> StageResult:
    """Stage records (decoded JSON or `JsonLine`s) in chunks; the caller's transaction makes the whole
    pass atomic.

    Memory holds a chunk or two, whatever the feed's length. On PostgreSQL a writer thread stores one
    chunk while the next is checked. On SQLite a JSON Lines file's chunks are checked by child processes
    while this one stores them (`children`).
    """
    from bookspot_tripletex.staging.children import children_for, prepared_in_children

    now = now or dt.datetime.now(dt.UTC)
    writer = writer_for(conn, tenant.tenant, now)
    total = StageResult()
    with _few_collections():
        if not writer.threaded:
            workers = children_for(records)
            if workers:
                with prepared_in_children(records, tenant, now, workers) as chunks:
                    for chunk in chunks:
                        total.merge(_apply(conn, tenant, writer, chunk, now))
                return total
            for chunk in _chunks(records, BATCH):
                total.merge(_apply(conn, tenant, writer, _prepare(tenant, chunk, now), now))
            return total
        prepared = (_prepare(tenant, chunk, now) for chunk in _chunks(records, BATCH))
        with ThreadPoolExecutor(1, thread_name_prefix="stage-writer") as pool:
            pending: Future[StageResult] | None = None
            for chunk in prepared:
                if pending is not None:
                    total.merge(pending.result())
                pending = pool.submit(_apply, conn, tenant, writer, chunk, now)
            if pending is not None:
                total.merge(pending.result())
    return total


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_threshold = gc.get_threshold()


@contextmanager
def _few_collections() -> Iterator[None]:
    """Staging makes millions of short-lived objects without cycles; the collector, counting them,
    would spend about a tenth of the time. Its first threshold is raised while any pass runs."""
    global _gc_holders, _gc_threshold
    with _gc_lock:
        if _gc_holders == 0:
            _gc_threshold = gc.get_threshold()
            gc.set_threshold(max(_gc_threshold[0], GC_THRESHOLD), *_gc_threshold[1:])
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0:
                gc.set_threshold(*_gc_threshold)


@dataclass
class _Prepared:
    """A checked chunk: quarantine rows, the latest valid version per id, and what was skipped. With
    `rows` (made by `_for_sqlite`), `latest` keeps only the columns staging reads besides the rows."""

    bad: list[dict[str, Any]] = field(default_factory=list)
    latest: Frame | None = None
    before_start: int = 0
    days: set[dt.date] = field(default_factory=set)
    rows: SqliteRows | None = None


SLIM_REC = ("id", "status", "updated", "local_day")
SLIM_LINE = ("owner", "service_day")


def _for_sqlite(chunk: _Prepared, tenant_id: str, now: dt.datetime) -> _Prepared:
    """The chunk with its SqliteWriter rows made (raw texts compressed) and its Frame slimmed to what
    `_stage_valid` reads besides them: what a child process sends the writing process."""
    frame = chunk.latest
    if frame is not None and len(frame):
        chunk.rows = sqlite_rows(tenant_id, sqlite_time(now), frame)
        chunk.latest = Frame({k: frame.rec[k] for k in SLIM_REC}, {k: frame.line[k] for k in SLIM_LINE})
    return chunk


def _schema_record(item: Any) -> TransactionRecord | None:
    """A decoded record holding the contract's keys only, converted into the schema, or None (the strict
    checker decides; its raw text is then `raw_json`'s)."""
    if type(item) is dict and item.keys() == RECORD_KEYS:
        lines = item["lines"]
        if type(lines) is list and all(type(x) is dict and x.keys() == LINE_KEYS for x in lines):
            try:
                return msgspec.convert(item, TransactionRecord)
            except msgspec.ValidationError:
                pass
    return None


def _raw_bytes(item: Any) -> bytes:
    if type(item) is JsonLine:
        return item.data.rstrip(b"\r\n")
    return raw_json(item).encode("utf-8")


def _prepare(tenant: TenantConfig, chunk: list[Any], now: dt.datetime) -> _Prepared:
    out = _Prepared()
    fast: list[TransactionRecord] = []
    fast_raw: list[bytes] = []
    fast_items: list[Any] = []
    slow: list[Any] = []
    limits = feed_limits()
    max_line, deepest = limits.max_line_bytes, limits.max_depth
    for item in chunk:
        if type(item) is JsonLine:
            data = item.data
            if len(data) > max_line or (
                data.count(b"{") + data.count(b"[") > deepest and max_depth(data) > deepest
            ):
                slow.append(item)
                continue
            try:
                fast.append(_decode(item.data))
            except Exception:  # noqa: BLE001  (whatever the fast decoder refuses, the strict checker names)
                slow.append(item)
                continue
            fast_items.append(item)
            fast_raw.append(item.data.rstrip(b"\r\n"))
            continue
        try:
            record = _schema_record(item)
            text = None if record is None else _encode(item)
        except Exception:  # noqa: BLE001  (as above: the strict checker decides and names the reason)
            text = None
        if text is None:
            slow.append(item)
        else:
            fast.append(record)  # type: ignore[arg-type]
            fast_items.append(item)
            fast_raw.append(text)
    columns = columns_of(fast, tenant.currency)
    ok = columns.ok & storable(columns)
    if len(fast):
        ok &= columns.record.account_id == tenant.tenant
    slow += [fast_items[i] for i in np.flatnonzero(~ok)]
    accepted: list[Transaction] = []
    accepted_raw: list[bytes] = []
    for item in slow:
        raw = _decoded_or_unreadable(item)
        try:
            accepted.append(check_record(raw, tenant))
        except InvalidRecord as error:
            row = _quarantine_row(tenant, raw, error, now)
            out.bad.append(row)
            if row["local_date"] is not None:
                out.days.add(row["local_date"])
            continue
        accepted_raw.append(_raw_bytes(item))
    frame = _frame(columns, np.flatnonzero(ok), fast_raw, accepted, accepted_raw, tenant.tz)
    if len(frame):
        starts = (tenant.start_date - EPOCH_DAY).days
        early = frame.rec["local_day"] < starts
        out.before_start = int(early.sum())
        frame = frame.take(_latest(frame.rec["id"], frame.rec["updated"], np.flatnonzero(~early)))
    out.latest = frame
    return out


def _latest(ids: np.ndarray, updated: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Of `index`, the position of each id's latest version (the later one on a tie), in order."""
    codes, uniques = pd.factorize(ids[index])
    if len(uniques) == len(index):
        return index
    order = np.lexsort((index, updated[index], codes))
    last = np.append(codes[order][1:] != codes[order][:-1], True)
    return np.sort(index[order[last]])


def _frame(
    columns: Columns,
    index: np.ndarray,
    fast_raw: list[bytes],
    accepted: list[Transaction],
    accepted_raw: list[bytes],
    tz: dt.tzinfo,
) -> Frame:
    """One Frame of the bulk-checked records at `index` and the strict checker's accepted ones."""
    rec, line = columns.record, columns.line
    raw = np.empty(len(fast_raw), dtype=object)
    raw[:] = fast_raw
    frame = Frame(
        {
            "id": rec.id, "kind": rec.kind, "status": rec.status, "booking_id": rec.booking_id,
            "occurred": rec.occurred_at, "updated": rec.updated_at, "currency": rec.currency,
            "amount": rec.amount_minor, "method": rec.payment_method, "fee": rec.provider_fee_minor,
            "gift": rec.gift_card_code, "raw": raw,
        },
        {
            "owner": columns.owner, "product_id": line.product_id,
            "product_name": np.array([name or "" for name in line.product_name], dtype=object),
            "category": line.category, "quantity": line.quantity, "gross": line.gross_minor,
            "vat_rate": line.vat_rate, "vat": line.vat_minor, "service_day": line.service_date,
        },
    )  # fmt: skip
    frame.line["line_no"] = np.arange(len(frame.line["owner"])) - columns.starts[frame.line["owner"]] + 1
    frame = frame.take(index)
    if accepted:
        frame = _concat(frame, _frame_of(accepted, accepted_raw))
    frame.rec["local_day"] = _local_days(frame.rec["occurred"], tz)
    return frame


def _frame_of(txs: list[Transaction], raws: list[bytes]) -> Frame:
    """The strict checker's transactions as a Frame."""

    def objects(values: list[Any]) -> np.ndarray:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    lines = [(owner, no, line) for owner, tx in enumerate(txs) for no, line in enumerate(tx.lines, start=1)]
    return Frame(
        {
            "id": objects([tx.id for tx in txs]), "kind": objects([tx.kind for tx in txs]),
            "status": objects([tx.status for tx in txs]),
            "booking_id": objects([tx.booking_id for tx in txs]),
            "occurred": np.array([micros(tx.occurred_at) for tx in txs], dtype=np.int64),
            "updated": np.array([micros(tx.updated_at) for tx in txs], dtype=np.int64),
            "currency": objects([tx.currency for tx in txs]),
            "amount": np.array([tx.amount_ore for tx in txs], dtype=np.int64),
            "method": objects([tx.payment_method for tx in txs]),
            "fee": np.array([tx.provider_fee_ore for tx in txs], dtype=np.int64),
            "gift": objects([tx.gift_card_code for tx in txs]), "raw": objects(raws),
        },
        {
            "owner": np.array([o for o, _, _ in lines], dtype=np.int64),
            "line_no": np.array([n for _, n, _ in lines], dtype=np.int64),
            "product_id": objects([x.product_id for _, _, x in lines]),
            "product_name": objects([x.product_name for _, _, x in lines]),
            "category": objects([x.category for _, _, x in lines]),
            "quantity": np.array([x.quantity for _, _, x in lines], dtype=np.int64),
            "gross": np.array([x.gross_ore for _, _, x in lines], dtype=np.int64),
            "vat_rate": objects([x.vat_rate for _, _, x in lines]),
            "vat": np.array([x.vat_ore for _, _, x in lines], dtype=np.int64),
            "service_day": np.array(
                [NO_DAY if x.service_date is None else (x.service_date - EPOCH_DAY).days for *_, x in lines],
                dtype=np.int64,
            ),
        },
    )  # fmt: skip


def _concat(first: Frame, second: Frame) -> Frame:
    line = {k: np.concatenate([v, second.line[k]]) for k, v in first.line.items()}
    line["owner"][len(first.line["owner"]) :] += len(first)
    return Frame({k: np.concatenate([v, second.rec[k]]) for k, v in first.rec.items()}, line)


def _local_days(us: np.ndarray, tz: dt.tzinfo) -> np.ndarray:
    """The local day (days since the epoch) in `tz` of each UTC instant."""
    if not len(us):
        return np.zeros(0, dtype=np.int64)
    local = pd.DatetimeIndex(us.astype("datetime64[us]")).tz_localize("UTC").tz_convert(tz).tz_localize(None)
    return local.to_numpy().astype("datetime64[D]").astype(np.int64)


def _apply(
    conn: Connection, tenant: TenantConfig, writer: Writer, chunk: _Prepared, now: dt.datetime
) -> StageResult:
    result = StageResult(before_start=chunk.before_start, days=set(chunk.days))
    if chunk.bad:
        insert_ignore(conn, quarantine, chunk.bad, ["tenant_id", "raw_hash"])
        result.quarantined += len(chunk.bad)
    if chunk.latest is not None and len(chunk.latest):
        _stage_valid(conn, tenant, writer, chunk.latest, now, result, chunk.rows)
    return result


def _stage_valid(
    conn: Connection,
    tenant: TenantConfig,
    writer: Writer,
    frame: Frame,
    now: dt.datetime,
    result: StageResult,
    rows: SqliteRows | None = None,
) -> None:
    rec = frame.rec
    ids = rec["id"].tolist()
    existing = writer.existing(ids)
    if existing:
        stored = np.array([existing[i].updated if i in existing else -(2**63) for i in ids], dtype=np.int64)
        fresh_index = np.flatnonzero(stored < rec["updated"])
    else:
        fresh_index = np.arange(len(ids))
    result.stale += len(ids) - len(fresh_index)
    if not len(fresh_index):
        return
    fresh = frame.take(fresh_index)
    if rows is not None and fresh is not frame:
        rows = rows.take(fresh_index, frame.line["owner"])
    fresh_ids = fresh.rec["id"].tolist()
    replaced = [tx_id for tx_id in fresh_ids if tx_id in existing]
    day_numbers = set(np.unique(fresh.rec["local_day"]).tolist()) | {existing[i].local_day for i in replaced}
    days = {day_of(d) for d in day_numbers}
    served = _service_days(conn, tenant.tenant, fresh, replaced)
    days |= set().union(*served.values())
    posted_days = _posted_days(conn, tenant.tenant, days)
    if posted_days and rows is not None:
        fresh.rec["raw"] = np.empty(len(fresh), dtype=object)
        fresh.rec["raw"][:] = rows.raws()
    corrections = _corrections(tenant, fresh, existing, posted_days, now, served) if posted_days else []
    result.days |= days
    if rows is None:
        writer.write(fresh, replaced)
    else:
        writer.write_rows(rows, replaced)
    if corrections:
        conn.execute(pending_corrections.insert(), corrections)
        result.corrections += len(corrections)
    result.staged += len(fresh)
    result.released += _release(conn, writer, fresh, now)


def _service_days(
    conn: Connection, tenant: str, fresh: Frame, replaced: list[str]
) -> dict[str, set[dt.date]]:
    """Revenue on delivery: per transaction, the later service dates of its lines, new and replaced; their
    days release its prepaid revenue, so a change touches them too. Empty for a tenant without the option."""
    deferring = conn.execute(
        select(mapping_versions.c.id)
        .where(mapping_versions.c.tenant_id == tenant, mapping_versions.c.revenue_on_delivery.is_(True))
        .limit(1)
    ).first()
    if deferring is None:
        return {}
    out: dict[str, set[dt.date]] = {}
    ids, paid = fresh.rec["id"], fresh.rec["local_day"]
    owners, service = fresh.line["owner"], fresh.line["service_day"]
    for owner, day in zip(owners.tolist(), service.tolist(), strict=True):
        if day != NO_DAY and day > paid[owner]:
            out.setdefault(ids[owner], set()).add(day_of(day))
    if replaced:
        rows = conn.execute(
            select(transaction_lines.c.transaction_id, transaction_lines.c.service_date)
            .where(
                transaction_lines.c.tenant_id == tenant,
                transaction_lines.c.transaction_id.in_(replaced),
                transaction_lines.c.service_date.is_not(None),
            )
            .distinct()
        )
        for tx_id, day in rows:
            out.setdefault(tx_id, set()).add(day)
    return out


def _corrections(
    tenant: TenantConfig,
    fresh: Frame,
    existing: dict[str, Any],
    posted_days: set[dt.date],
    now: dt.datetime,
    served: dict[str, set[dt.date]],
) -> list[dict[str, Any]]:
    out = []
    rec = fresh.rec
    for tx_id, status, day, raw in zip(rec["id"], rec["status"], rec["local_day"], rec["raw"], strict=True):
        old = existing.get(tx_id)
        touched = {day_of(day)} | ({day_of(old.local_day)} if old is not None else set())
        touched |= served.get(tx_id, set())
        for touched_day in sorted(touched & posted_days):
            change = "void" if status == "voided" else ("update" if old is not None else "late")
            out.append(
                {
                    "tenant_id": tenant.tenant,
                    "transaction_id": tx_id,
                    "local_date": touched_day,
                    "change": change,
                    "raw": raw.decode("utf-8"),
                    "detected_at": now,
                }
            )
    return out


def _posted_days(conn: Connection, tenant: str, days: set[dt.date]) -> set[dt.date]:
    if not days:
        return set()
    rows = conn.execute(
        select(vouchers.c.local_date).where(
            vouchers.c.tenant_id == tenant,
            vouchers.c.local_date.in_(sorted(days)),
            vouchers.c.status.in_(("posting", "posted")),
        )
    )
    return {row.local_date for row in rows}


def _release(conn: Connection, writer: Writer, fresh: Frame, now: dt.datetime) -> int:
    """A valid newer version of a quarantined record releases the quarantined versions."""
    held = writer.held(fresh.rec["id"].tolist())
    if not held:
        return 0
    updated = dict(zip(fresh.rec["id"].tolist(), fresh.rec["updated"].tolist(), strict=True))
    release_ids = [
        row.id
        for row in held
        if row.updated_at is None or row.updated_at <= iso_utc(instant(updated[row.record_id]))
    ]
    if release_ids:
        conn.execute(
            update(quarantine)
            .where(quarantine.c.id.in_(release_ids))
            .values(released_at=now, released_by="corrected record")
        )
    return len(release_ids)
