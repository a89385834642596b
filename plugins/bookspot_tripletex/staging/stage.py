"""Stage raw feed records for one tenant: upsert the latest version, quarantine the bad ones."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import Connection, delete, select, update

from bookspot_tripletex.feed.model import InvalidRecord, Transaction, Violation, parse_record
from bookspot_tripletex.feed.source import UndecodableLine
from bookspot_tripletex.staging.schema import (
    pending_corrections,
    quarantine,
    transaction_lines,
    transactions,
    vouchers,
)
from bookspot_tripletex.staging.upsert import insert_ignore, upsert
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.timeutil import as_utc, iso_utc

BATCH = 2000
TX_UPDATE_COLUMNS = [
    "kind", "status", "booking_id", "occurred_at", "updated_at", "local_date", "currency", "amount_ore",
    "payment_method", "provider_fee_ore", "gift_card_code", "raw", "staged_at",
]  # fmt: skip


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
        return raw.text
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)


def _quarantine_row(tenant: TenantConfig, raw: Any, error: InvalidRecord, now: dt.datetime) -> dict[str, Any]:
    text = _raw_text(raw)
    local_date = updated = None
    if isinstance(raw, dict):
        local_date = _local_date_of(raw.get("occurred_at"), tenant)
        try:
            updated = iso_utc(dt.datetime.fromisoformat(raw["updated_at"]))
        except (KeyError, TypeError, ValueError):
            updated = None
    return {
        "tenant_id": tenant.tenant,
        "record_id": error.record_id,
        "local_date": local_date,
        "updated_at": updated,
        "reason": str(error),
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
    return parsed.astimezone(tenant.tz).date()


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
    return tx


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def stage_records(
    conn: Connection, tenant: TenantConfig, records: Iterable[Any], now: dt.datetime | None = None
) -> StageResult:
    """Stage records in batches; the caller's transaction makes the whole pass atomic."""
    now = now or dt.datetime.now(dt.UTC)
    total = StageResult()
    for chunk in _chunks(records, BATCH):
        total.merge(_stage_chunk(conn, tenant, chunk, now))
    return total


def _stage_chunk(conn: Connection, tenant: TenantConfig, chunk: list[Any], now: dt.datetime) -> StageResult:
    result = StageResult()
    bad: list[dict[str, Any]] = []
    latest: dict[str, Transaction] = {}
    for raw in chunk:
        try:
            tx = check_record(raw, tenant)
        except InvalidRecord as error:
            row = _quarantine_row(tenant, raw, error, now)
            bad.append(row)
            if row["local_date"] is not None:
                result.days.add(row["local_date"])
            continue
        if tx.local_date(tenant.tz) < tenant.start_date:
            result.before_start += 1
            continue
        seen = latest.get(tx.id)
        if seen is None or seen.updated_at <= tx.updated_at:
            latest[tx.id] = tx
    if bad:
        insert_ignore(conn, quarantine, bad, ["tenant_id", "raw_hash"])
        result.quarantined += len(bad)
    if latest:
        _stage_valid(conn, tenant, latest, now, result)
    return result


def _stage_valid(
    conn: Connection,
    tenant: TenantConfig,
    latest: dict[str, Transaction],
    now: dt.datetime,
    result: StageResult,
) -> None:
    ids = list(latest)
    existing = {
        row.transaction_id: row
        for row in conn.execute(
            select(
                transactions.c.transaction_id,
                transactions.c.updated_at,
                transactions.c.local_date,
                transactions.c.status,
                transactions.c.raw,
            ).where(transactions.c.tenant_id == tenant.tenant, transactions.c.transaction_id.in_(ids))
        )
    }
    fresh: list[Transaction] = []
    for tx_id, tx in latest.items():
        old = existing.get(tx_id)
        if old is not None and as_utc(old.updated_at) > as_utc(tx.updated_at):
            result.stale += 1
            continue
        if old is not None and as_utc(old.updated_at) == as_utc(tx.updated_at):
            result.stale += 1
            continue
        fresh.append(tx)
    if not fresh:
        return
    days = {tx.local_date(tenant.tz) for tx in fresh} | {
        existing[tx.id].local_date for tx in fresh if tx.id in existing
    }
    posted_days = _posted_days(conn, tenant.tenant, days)
    corrections = []
    for tx in fresh:
        day = tx.local_date(tenant.tz)
        old = existing.get(tx.id)
        touched = {day} | ({old.local_date} if old is not None else set())
        for touched_day in sorted(touched & posted_days):
            change = "void" if tx.status == "voided" else ("update" if old is not None else "late")
            corrections.append(
                {
                    "tenant_id": tenant.tenant,
                    "transaction_id": tx.id,
                    "local_date": touched_day,
                    "change": change,
                    "raw": _raw_text(tx.raw),
                    "detected_at": now,
                }
            )
        result.days |= touched
    tx_rows = [
        {
            "tenant_id": tenant.tenant,
            "transaction_id": tx.id,
            "kind": tx.kind,
            "status": tx.status,
            "booking_id": tx.booking_id,
            "occurred_at": as_utc(tx.occurred_at),
            "updated_at": as_utc(tx.updated_at),
            "local_date": tx.local_date(tenant.tz),
            "currency": tx.currency,
            "amount_ore": tx.amount_ore,
            "payment_method": tx.payment_method,
            "provider_fee_ore": tx.provider_fee_ore,
            "gift_card_code": tx.gift_card_code,
            "raw": _raw_text(tx.raw),
            "staged_at": now,
        }
        for tx in fresh
    ]
    upsert(conn, transactions, tx_rows, ["tenant_id", "transaction_id"], TX_UPDATE_COLUMNS)
    fresh_ids = [tx.id for tx in fresh]
    conn.execute(
        delete(transaction_lines).where(
            transaction_lines.c.tenant_id == tenant.tenant, transaction_lines.c.transaction_id.in_(fresh_ids)
        )
    )
    conn.execute(
        transaction_lines.insert(),
        [
            {
                "tenant_id": tenant.tenant,
                "transaction_id": tx.id,
                "line_no": no,
                "product_id": line.product_id,
                "product_name": line.product_name,
                "category": line.category,
                "quantity": line.quantity,
                "gross_ore": line.gross_ore,
                "vat_rate": line.vat_rate,
                "vat_ore": line.vat_ore,
                "service_date": line.service_date,
            }
            for tx in fresh
            for no, line in enumerate(tx.lines, start=1)
        ],
    )
    if corrections:
        conn.execute(pending_corrections.insert(), corrections)
        result.corrections += len(corrections)
    result.staged += len(fresh)
    result.released += _release(conn, tenant.tenant, fresh, now)


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


def _release(conn: Connection, tenant: str, fresh: list[Transaction], now: dt.datetime) -> int:
    """A valid newer version of a quarantined record releases the quarantined versions."""
    by_id = {tx.id: iso_utc(tx.updated_at) for tx in fresh}
    held = conn.execute(
        select(quarantine.c.id, quarantine.c.record_id, quarantine.c.updated_at).where(
            quarantine.c.tenant_id == tenant,
            quarantine.c.released_at.is_(None),
            quarantine.c.record_id.in_(list(by_id)),
        )
    ).all()
    release_ids = [row.id for row in held if row.updated_at is None or row.updated_at <= by_id[row.record_id]]
    if release_ids:
        conn.execute(
            update(quarantine)
            .where(quarantine.c.id.in_(release_ids))
            .values(released_at=now, released_by="corrected record")
        )
    return len(release_ids)
