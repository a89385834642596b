"""Build the day journal of one tenant: run sql/journal_lines.sql and sum it into a voucher.

With revenue on delivery (docs/revenue-on-delivery.md) the day also defers the net revenue of its lines
delivered later, and releases that of earlier days' lines delivered on it (sql/journal_prepayments.sql)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, func, or_, select

from bookspot_tripletex.domain import NO_VAT_TYPE as NO_VAT
from bookspot_tripletex.domain import PAYMENT_METHOD_LABELS as METHOD_LABELS
from bookspot_tripletex.domain import (
    PREPAYMENTS,
    REVENUE_DEFERRAL,
    VoucherStatus,
    external_number,
    voucher_description,
)
from bookspot_tripletex.journal.model import DayJournal, JournalLine, Posting, Voucher
from bookspot_tripletex.sqlfiles import sql
from bookspot_tripletex.staging.day_mapping import mapping_for_day, mappings_for_days
from bookspot_tripletex.staging.schema import quarantine, transactions
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.tenants.store import StoredMapping


def describe(account_type: str) -> str:
    kind, _, rest = account_type.partition(".")
    if kind == "sales":
        return "sales exempt from VAT" if rest == "exempt" else f"sales {rest} % VAT"
    if kind == "settlement":
        return f"{METHOD_LABELS.get(rest, rest)} settlement"
    if kind in ("product", "category"):
        return f"sales {kind} {rest}"
    return {
        "gift_card_liability": "gift cards",
        "provider_fees": "provider fees",
        PREPAYMENTS: "customer prepayments",
        REVENUE_DEFERRAL: "revenue deferral",
    }.get(account_type, account_type)


PREPAID_WORDS = {"deferral": "prepaid revenue deferred", "release": "prepaid revenue delivered"}
"""How a posting's description names the revenue-on-delivery legs summed into it."""

LAST_DAY = dt.date(9999, 12, 31)


UNDATED = (
    "its day cannot be read, so it holds every unposted day of the tenant until it is released "
    "(release-day, or release by record)"
)


def quarantined_for_day(conn: Connection, tenant: str, day: dt.date) -> list[dict[str, Any]]:
    """The unreleased quarantined records that hold the day: the day's own and those without a day."""
    rows = conn.execute(
        select(
            quarantine.c.record_id,
            quarantine.c.local_date,
            quarantine.c.reason,
            quarantine.c.rules,
            quarantine.c.raw,
        )
        .where(
            quarantine.c.tenant_id == tenant,
            or_(quarantine.c.local_date == day, quarantine.c.local_date.is_(None)),
            quarantine.c.released_at.is_(None),
        )
        .order_by(quarantine.c.id)
    )
    return [
        {
            "id": r.record_id,
            "reason": r.reason if r.local_date is not None else f"{r.reason}; {UNDATED}",
            "rules": list(r.rules),
            "raw": r.raw,
        }
        for r in rows
    ]


def journal_lines(conn: Connection, tenant: str, day: dt.date, mapping_version_id: int) -> list[JournalLine]:
    params = {"tenant_id": tenant, "local_date": day, "mapping_version_id": mapping_version_id}
    return [JournalLine(**row) for row in conn.execute(sql("journal_lines"), params).mappings()]


def prepayment_lines(
    conn: Connection,
    tenant: str,
    payment_date: dt.date,
    mapping: StoredMapping,
    service_from: dt.date,
    service_to: dt.date,
    leg_sign: int,
) -> list[JournalLine]:
    """The deferral (`leg_sign` 1) or release (-1) legs of `payment_date`'s prepaid lines under `mapping`."""
    params = {
        "tenant_id": tenant,
        "payment_date": payment_date,
        "service_from": service_from,
        "service_to": service_to,
        "mapping_version_id": mapping.id,
        "leg_sign": leg_sign,
    }
    return [
        JournalLine(**row, sale_vat_type=mapping.vat_types.get(row["sale_vat_rate"]))
        for row in conn.execute(sql("journal_prepayments"), params).mappings()
    ]


def deferrals(conn: Connection, tenant: str, day: dt.date, mapping: StoredMapping) -> list[JournalLine]:
    """The day's lines delivered later wait on customer_prepayments, if the day's mapping says so."""
    if not mapping.revenue_on_delivery:
        return []
    return prepayment_lines(conn, tenant, day, mapping, day + dt.timedelta(days=1), LAST_DAY, 1)


def releases(conn: Connection, tenant: str, day: dt.date) -> list[JournalLine]:
    """Earlier days' prepaid lines delivered on `day`, each under its payment day's mapping version."""
    out: list[JournalLine] = []
    params = {"tenant_id": tenant, "local_date": day}
    payment_dates = conn.execute(sql("journal_release_days"), params).scalars().all()
    mappings = mappings_for_days(conn, tenant, payment_dates)
    for payment_date in payment_dates:
        mapping = mappings[payment_date]
        if mapping is not None and mapping.revenue_on_delivery:
            out += prepayment_lines(conn, tenant, payment_date, mapping, day, day, -1)
    return out


def vat_type_of(line: JournalLine, vat_types: dict[str, int]) -> int | None:
    if line.vat_rate is None:
        return NO_VAT
    return vat_types.get(line.vat_rate)


def sum_postings(lines: list[JournalLine], vat_types: dict[str, int]) -> tuple[Posting, ...]:
    """Sum journal lines per (account, VAT type) into numbered postings; zero sums drop out."""
    sums: dict[tuple[int, int], int] = defaultdict(int)
    types: dict[tuple[int, int], set[str]] = defaultdict(set)
    rates: dict[tuple[int, int], set[str]] = defaultdict(set)
    prepaid: dict[tuple[int, int], set[str]] = defaultdict(set)
    for line in lines:
        vat_type = vat_type_of(line, vat_types)
        assert line.account_number is not None and vat_type is not None
        key = (line.account_number, vat_type)
        sums[key] += line.amount_ore
        types[key].add(line.account_type)
        if line.entry in PREPAID_WORDS:
            prepaid[key].add(PREPAID_WORDS[line.entry])
        if line.vat_rate is not None:
            rates[key].add(line.vat_rate)
    postings = []
    for key in sorted(k for k, amount in sums.items() if amount != 0):
        labels = sorted(types[key])
        postings.append(
            Posting(
                row=len(postings) + 1,
                account=key[0],
                vat_type=key[1],
                amount_ore=sums[key],
                description="BookSpot " + ", ".join([*(describe(t) for t in labels), *sorted(prepaid[key])]),
                account_types=tuple(labels),
                vat_rate=next(iter(rates[key])) if len(rates[key]) == 1 else None,
            )
        )
    return tuple(postings)


def missing_mappings(lines: list[JournalLine], mapping: StoredMapping) -> list[str]:
    missing = {line.account_type for line in lines if line.account_number is None}
    missing |= {
        f"vat_types.{line.vat_rate}"
        for line in lines
        if line.vat_rate is not None and line.vat_rate not in mapping.vat_types
    }
    return sorted(missing)


def build_day(
    conn: Connection,
    tenant: TenantConfig,
    day: dt.date,
    version: int = 1,
    mapping: StoredMapping | None = None,
) -> DayJournal:
    """The journal of one tenant-day: `ready`, `held` (quarantine or missing mappings) or `empty`; with
    the day's mapping version (`staging.day_mapping`) unless `mapping` names another."""
    journal = DayJournal(tenant=tenant.tenant, date=day, status=VoucherStatus.EMPTY)
    journal.quarantined = quarantined_for_day(conn, tenant.tenant, day)
    journal.transactions = conn.execute(
        select(func.count()).where(
            transactions.c.tenant_id == tenant.tenant,
            transactions.c.local_date == day,
            transactions.c.status == "completed",
        )
    ).scalar_one()
    mapping = mapping or mapping_for_day(conn, tenant.tenant, day)
    if mapping is None:
        if journal.transactions or journal.quarantined:
            journal.status = VoucherStatus.HELD
            journal.missing_account_types = [f"mapping version valid on {day.isoformat()}"]
        return journal
    journal.mapping_version_id = mapping.id
    journal.mapping_valid_from = mapping.valid_from
    journal.lines = [
        *journal_lines(conn, tenant.tenant, day, mapping.id),
        *deferrals(conn, tenant.tenant, day, mapping),
        *releases(conn, tenant.tenant, day),
    ]
    journal.missing_account_types = missing_mappings(journal.lines, mapping)
    if journal.missing_account_types:
        journal.status = VoucherStatus.HELD
        return journal
    postings = sum_postings(journal.lines, mapping.vat_types)
    if postings:
        journal.voucher = Voucher(
            tenant=tenant.tenant,
            date=day,
            version=version,
            description=voucher_description(day),
            external_number=external_number(tenant.tenant, day, version),
            postings=postings,
            mapping_version_id=mapping.id,
            mapping_valid_from=mapping.valid_from,
        )
    if journal.quarantined:
        journal.status = VoucherStatus.HELD
    elif journal.voucher is not None:
        journal.status = VoucherStatus.READY
    return journal
