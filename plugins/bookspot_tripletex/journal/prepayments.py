"""Open customer prepayments (revenue on delivery), read from staging: what the ledger's prepayment
accounts hold on a day, by account and service month, and what a tenant's history left undeferred."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from bookspot_tripletex.domain import PREPAYMENTS
from bookspot_tripletex.money import format_nok, parse_nok
from bookspot_tripletex.sqlfiles import sql
from bookspot_tripletex.staging.day_mapping import mapping_for_day
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.tenants.diff import list_versions
from bookspot_tripletex.tenants.store import StoredMapping, load_tenant, mapping_in_force, stored_mapping

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
            "net": format_nok(self.net_ore),
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


def staging_balances(lines: list[PrepaidLine]) -> dict[int, int]:
    """Per prepayment account: what the ledger should hold (øre, debit positive, so owed is negative)."""
    sums: dict[int, int] = defaultdict(int)
    for line in lines:
        if line.account is not None:
            sums[line.account] -= line.net_ore
    return dict(sums)


def ledger_balances(client: Any, accounts: set[int], since: dt.date, as_of: dt.date) -> dict[int, int]:
    """Per account, the balance Tripletex holds from `since` to `as_of` (inclusive), read back posting by
    posting (øre, debit positive); `client` is a TripletexClient."""
    sums: dict[int, int] = dict.fromkeys(accounts, 0)
    fields = "amount,account(number)"
    for posting in client.postings(since, as_of + dt.timedelta(days=1), fields=fields):
        number = int(posting["account"]["number"])
        if number in sums:
            sums[number] += parse_nok(Decimal(str(posting["amount"])))
    return sums


def prepayments_report(
    conn: Connection, tenant: str, as_of: dt.date, lines: bool = False, history: bool = False
) -> dict[str, Any]:
    """Open prepayments on `as_of` by account and service month (what a year-end closing needs); with
    `lines` each line, with `history` the lines paid before the option and delivered after it."""
    load_tenant(conn, tenant)
    open_lines = open_prepayments(conn, tenant, as_of)
    months = by_service_month(open_lines)
    out: dict[str, Any] = {
        "tenant": tenant,
        "as_of": as_of.isoformat(),
        "by_service_month": [
            {**{k: v for k, v in row.items() if k != "net_ore"}, "net": format_nok(row["net_ore"])}
            for row in months
        ],
        "balances": {str(a): format_nok(b) for a, b in sorted(staging_balances(open_lines).items())},
    }
    if lines:
        out["lines"] = [line.as_dict() for line in open_lines]
    if history:
        out["not_deferred"] = [line.as_dict() for line in undeferred_history(conn, tenant)]
    return out


def prepayment_accounts(conn: Connection, tenant: str) -> set[int]:
    """Every account a mapping version with the option names as customer_prepayments."""
    accounts = set()
    for version in list_versions(conn, tenant):
        mapping = stored_mapping(conn, version.id)
        if mapping.revenue_on_delivery:
            accounts.add(mapping.accounts[PREPAYMENTS])
    return accounts


def check_ledger(conn: Connection, tenant: TenantConfig, client: Any, as_of: dt.date) -> dict[str, Any]:
    """The prepayment accounts' balances in Tripletex (from the tenant's start date to `as_of`) against the
    open prepayments in staging; `match` is whether they agree on every account."""
    staged = staging_balances(open_prepayments(conn, tenant.tenant, as_of))
    accounts = prepayment_accounts(conn, tenant.tenant) | set(staged)
    ledger = ledger_balances(client, accounts, tenant.start_date, as_of)
    return {
        "ledger": {str(a): format_nok(b) for a, b in sorted(ledger.items())},
        "match": all(ledger[a] == staged.get(a, 0) for a in accounts),
    }
