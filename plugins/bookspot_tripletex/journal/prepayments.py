"""Open customer prepayments (revenue on delivery), read from staging: what the ledger's prepayment
accounts hold on a day, by account and service month, and what a tenant's history left undeferred."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from bookspot_tripletex.domain import PREPAYMENTS
from bookspot_tripletex.sqlfiles import sql
from bookspot_tripletex.staging.day_mapping import mapping_for_day
from bookspot_tripletex.tenants.store import StoredMapping, mapping_in_force

FIRST_DAY, LAST_DAY = dt.date(1, 1, 1), dt.date(9999, 12, 31)


@dataclass(frozen=True)
class PrepaidLine:
    """One line paid before its service date; `net_ore` is owed to the customer until then (a refund's
    is negative). `account` is the prepayment account it waits on, None where it was not deferred."""

    transaction_id: str
    line_no: int
    product_name: str
    payment_date: dt.date
    service_date: dt.date
    net_ore: int
    account: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "line_no": self.line_no,
            "product": self.product_name,
            "payment_date": self.payment_date.isoformat(),
            "service_date": self.service_date.isoformat(),
            "net_ore": self.net_ore,
            "account": self.account,
        }


def _lines(conn: Connection, tenant: str, paid_to: dt.date, served_after: dt.date) -> list[Any]:
    params = {"tenant_id": tenant, "paid_to": paid_to, "served_after": served_after}
    return list(conn.execute(sql("prepaid_lines"), params).mappings())


def _line(row: Any, account: int | None) -> PrepaidLine:
    return PrepaidLine(
        row["transaction_id"],
        row["line_no"],
        row["product_name"],
        _date(row["payment_date"]),
        _date(row["service_date"]),
        int(row["net_ore"]),
        account,
    )


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def open_prepayments(conn: Connection, tenant: str, as_of: dt.date) -> list[PrepaidLine]:
    """Lines paid on or before `as_of`, delivered after it, on a payment day whose mapping defers them."""
    mappings: dict[dt.date, StoredMapping | None] = {}
    out = []
    for row in _lines(conn, tenant, as_of, as_of):
        paid = _date(row["payment_date"])
        if paid not in mappings:
            mappings[paid] = mapping_for_day(conn, tenant, paid)
        mapping = mappings[paid]
        if mapping is not None and mapping.revenue_on_delivery:
            out.append(_line(row, mapping.accounts[PREPAYMENTS]))
    return out


def undeferred_history(conn: Connection, tenant: str) -> list[PrepaidLine]:
    """Lines paid on a day without the option but delivered on one with it: posted as revenue on payment,
    never moved; listed for the accountant (turning the option on does not rewrite posted days)."""
    out = []
    paid_maps: dict[dt.date, StoredMapping | None] = {}
    served_maps: dict[dt.date, StoredMapping | None] = {}
    for row in _lines(conn, tenant, LAST_DAY, FIRST_DAY):
        paid, served = _date(row["payment_date"]), _date(row["service_date"])
        if paid not in paid_maps:
            paid_maps[paid] = mapping_for_day(conn, tenant, paid)
        if served not in served_maps:
            served_maps[served] = mapping_in_force(conn, tenant, served)
        before, after = paid_maps[paid], served_maps[served]
        if (
            (before is None or not before.revenue_on_delivery)
            and after is not None
            and after.revenue_on_delivery
        ):
            out.append(_line(row, None))
    return out


def by_service_month(lines: list[PrepaidLine]) -> list[dict[str, Any]]:
    """Per prepayment account and service month (YYYY-MM): lines and net øre, in order."""
    sums: dict[tuple[int | None, str], list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        key = (line.account, line.service_date.strftime("%Y-%m"))
        sums[key][0] += 1
        sums[key][1] += line.net_ore
    return [
        {"account": account, "service_month": month, "lines": n, "net_ore": amount}
        for (account, month), (n, amount) in sorted(sums.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1]))
    ]
