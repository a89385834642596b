"""Stage raw feed records for one tenant: upsert the latest version, quarantine the bad ones."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import Connection, select, update

from bookspot_tripletex.feed.model import (
    LINE_KEYS,
    RECORD_KEYS,
    InvalidRecord,
    Transaction,
    Violation,
    fast_fields,
    parse_record,
)
from bookspot_tripletex.feed.source import UndecodableLine
from bookspot_tripletex.staging.bulk import Staged, Writer, writer_for
from bookspot_tripletex.staging.limits import (
    ID_LENGTH,
    LINE_TEXT_FIELDS,
    MAX_ORE,
    MAX_QUANTITY,
    TEXT_FIELDS,
    raw_json,
    safe_text,
    storable_id,
    storage_violations,
)
from bookspot_tripletex.staging.schema import pending_corrections, quarantine, vouchers
from bookspot_tripletex.staging.upsert import insert_ignore
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.timeutil import as_utc, iso_utc

try:  # msgspec writes the same text as json.dumps(sort_keys=True) for such records, several times faster
    import msgspec

    _encode_sorted: Callable[[Any], bytes] | None = msgspec.json.Encoder(order="sorted").encode
    _format_json = msgspec.json.format
    _ENCODE_ERRORS: tuple[type[Exception], ...] = (
        msgspec.EncodeError,
        UnicodeEncodeError,
        TypeError,
        ValueError,
    )
except ImportError:  # pragma: no cover - Airflow brings msgspec
    _encode_sorted = None

BATCH = 5000
GC_THRESHOLD = 50_000
BOOKING_ID_LENGTH, GIFT_CARD_CODE_LENGTH = TEXT_FIELDS["booking_id"], TEXT_FIELDS["gift_card_code"]
PRODUCT_ID_LENGTH, PRODUCT_NAME_LENGTH = LINE_TEXT_FIELDS["product_id"], LINE_TEXT_FIELDS["product_name"]


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


def _plain_json(raw: dict[str, Any]) -> str | None:
    """`raw_json` of a record holding only strings, integers, null and lists of such objects, or None
    where it would differ (a lone surrogate) or the record holds a NUL (which no column takes)."""
    if _encode_sorted is None:
        return None
    try:
        text = _format_json(_encode_sorted(raw), indent=0)
    except _ENCODE_ERRORS:
        return None
    if b"\\u0000" in text:
        return None
    return text.decode()


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
        "raw_hash": hashlib.sha256(text.encode()).hexdigest(),
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


def check_record(raw: Any, tenant: TenantConfig) -> Transaction:
    """Parse and check one raw record for this tenant; raises InvalidRecord naming the reason."""
    if isinstance(raw, UndecodableLine):
        raise InvalidRecord(
            None, [Violation(f"line {raw.line_no}", "not_json", f"is not JSON ({raw.error})")]
        )
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
    """Stage records in batches; the caller's transaction makes the whole pass atomic.

    Memory holds a chunk or two, whatever the feed's length. On PostgreSQL a writer thread stores one
    chunk while the next is checked.
    """
    now = now or dt.datetime.now(dt.UTC)
    writer = writer_for(conn, tenant.tenant, now)
    prepared = (_prepare(tenant, writer, chunk, now) for chunk in _chunks(records, BATCH))
    total = StageResult()
    with _few_collections():
        if not writer.threaded:
            for chunk in prepared:
                total.merge(_apply(conn, tenant, writer, chunk, now))
            return total
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
    """A checked chunk: quarantine rows, the latest valid version per id, and what was skipped."""

    bad: list[dict[str, Any]] = field(default_factory=list)
    latest: dict[str, Staged] = field(default_factory=dict)
    before_start: int = 0
    days: set[dt.date] = field(default_factory=set)


def _prepare(tenant: TenantConfig, writer: Writer, chunk: list[Any], now: dt.datetime) -> _Prepared:
    out = _Prepared()
    latest = out.latest
    tz = tenant.tz
    for raw in chunk:
        staged = _plain_record(raw, tenant, tz, writer)
        if staged is None:
            try:
                tx = check_record(raw, tenant)
            except InvalidRecord as error:
                row = _quarantine_row(tenant, raw, error, now)
                out.bad.append(row)
                if row["local_date"] is not None:
                    out.days.add(row["local_date"])
                continue
            staged = _staged(tx, tz, writer)
        if staged.local_date < tenant.start_date:
            out.before_start += 1
            continue
        seen = latest.get(staged.id)
        if seen is None or seen.updated_at <= staged.updated_at:
            latest[staged.id] = staged
    return out


def _staged(tx: Transaction, tz: dt.tzinfo, writer: Writer) -> Staged:
    lines = [
        (line.product_id, line.product_name, line.category, line.quantity, line.gross_ore, line.vat_rate,
         line.vat_ore, line.service_date)
        for line in tx.lines
    ]  # fmt: skip
    return writer.staged(
        tx.id, tx.kind, tx.status, tx.booking_id, as_utc(tx.occurred_at), as_utc(tx.updated_at),
        tx.local_date(tz), tx.currency, tx.amount_ore, tx.payment_method, tx.provider_fee_ore,
        tx.gift_card_code, _raw_text(tx.raw), lines,
    )  # fmt: skip


def _plain_record(raw: Any, tenant: TenantConfig, tz: dt.tzinfo, writer: Writer) -> Staged | None:
    """The common case without building a Transaction: a record that plainly keeps the contract and
    fits the columns (see `check_record`), with the JSON keys the contract names and nothing else.
    None sends the record through `check_record`, which decides and names every problem."""
    fields = fast_fields(raw, tenant.currency)
    if fields is None:
        return None
    (
        tx_id,
        account_id,
        kind,
        status,
        booking_id,
        occurred,
        updated,
        currency,
        amount,
        method,
        fee,
        gift,
        lines,
    ) = fields
    if (
        account_id != tenant.tenant
        or len(tx_id) > ID_LENGTH
        or (booking_id is not None and len(booking_id) > BOOKING_ID_LENGTH)
        or (gift is not None and len(gift) > GIFT_CARD_CODE_LENGTH)
        or amount > MAX_ORE
        or len(raw) != len(RECORD_KEYS)
    ):
        return None
    for (product_id, name, _, quantity, gross, _, vat, _), raw_line in zip(lines, raw["lines"], strict=True):
        if (
            len(product_id) > PRODUCT_ID_LENGTH
            or len(name) > PRODUCT_NAME_LENGTH
            or quantity > MAX_QUANTITY
            or gross > MAX_ORE
            or vat > MAX_ORE
            or len(raw_line) != len(LINE_KEYS)
        ):
            return None
    text = _plain_json(raw)
    if text is None:
        return None
    try:
        occurred_utc = occurred.astimezone(dt.UTC)
        updated_utc = occurred_utc if updated is occurred else updated.astimezone(dt.UTC)
        local_date = occurred.astimezone(tz).date()
    except (OverflowError, ValueError):
        return None
    if not (1 < occurred_utc.year < 9999 and 1 < updated_utc.year < 9999):
        return None
    return writer.staged(
        tx_id, kind, status, booking_id, occurred_utc, updated_utc, local_date, currency, amount, method, fee,
        gift, text, lines,
    )  # fmt: skip


def _apply(
    conn: Connection, tenant: TenantConfig, writer: Writer, chunk: _Prepared, now: dt.datetime
) -> StageResult:
    result = StageResult(before_start=chunk.before_start, days=set(chunk.days))
    if chunk.bad:
        insert_ignore(conn, quarantine, chunk.bad, ["tenant_id", "raw_hash"])
        result.quarantined += len(chunk.bad)
    if chunk.latest:
        _stage_valid(conn, tenant, writer, chunk.latest, now, result)
    return result


def _stage_valid(
    conn: Connection,
    tenant: TenantConfig,
    writer: Writer,
    latest: dict[str, Staged],
    now: dt.datetime,
    result: StageResult,
) -> None:
    candidates = list(latest.values())
    existing = writer.existing(candidates)
    fresh = [s for s in candidates if s.id not in existing or existing[s.id].updated_at < s.updated_at]
    result.stale += len(candidates) - len(fresh)
    if not fresh:
        return
    replaced = [s.id for s in fresh if s.id in existing]
    days = {s.local_date for s in fresh} | {existing[tx_id].local_date for tx_id in replaced}
    posted_days = _posted_days(conn, tenant.tenant, days)
    corrections = []
    for s in fresh if posted_days else ():
        old = existing.get(s.id)
        touched = {s.local_date} | ({old.local_date} if old is not None else set())
        for touched_day in sorted(touched & posted_days):
            change = "void" if s.status == "voided" else ("update" if old is not None else "late")
            corrections.append(
                {
                    "tenant_id": tenant.tenant,
                    "transaction_id": s.id,
                    "local_date": touched_day,
                    "change": change,
                    "raw": s.raw,
                    "detected_at": now,
                }
            )
    result.days |= days
    writer.write(fresh, replaced)
    if corrections:
        conn.execute(pending_corrections.insert(), corrections)
        result.corrections += len(corrections)
    result.staged += len(fresh)
    result.released += _release(conn, writer, fresh, now)


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


def _release(conn: Connection, writer: Writer, fresh: list[Staged], now: dt.datetime) -> int:
    """A valid newer version of a quarantined record releases the quarantined versions."""
    held = writer.held(fresh)
    if not held:
        return 0
    by_id = {s.id: s for s in fresh}
    release_ids = [
        row.id
        for row in held
        if row.updated_at is None or row.updated_at <= iso_utc(by_id[row.record_id].updated_at)
    ]
    if release_ids:
        conn.execute(
            update(quarantine)
            .where(quarantine.c.id.in_(release_ids))
            .values(released_at=now, released_by="corrected record")
        )
    return len(release_ids)
