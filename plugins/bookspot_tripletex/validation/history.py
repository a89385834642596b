"""A tenant's recent days: sales and VAT per day (sql/validate_daily_totals.sql) and how each day stands
(posted, held, corrected, empty), and the range check that warns when a day is far from its usual.

The range check (`range_warnings`): the reference is the tenant's days with completed transactions in the
RANGE_WEEKS weeks before the day (the day itself excluded). With at least MIN_REFERENCE_DAYS of them, a
day's gross sales and its VAT must each lie within [min / RANGE_FACTOR, max × RANGE_FACTOR] of the
reference days' values; outside it, the day gets a warning. A warning never holds the day: it is shown
in the report and listed as `warnings` in the validation summary. Min/max over several weeks follows the
tenant's own season (busy weekends, quiet weekdays) without a model, and a factor of 3 beyond the widest
day of six weeks only flags what a person would call far out (a missing export, a figure off by 100).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select

from bookspot_tripletex.money import format_nok, nok_text
from bookspot_tripletex.sqlfiles import sql
from bookspot_tripletex.staging.schema import vouchers

RANGE_WEEKS = 6
RANGE_FACTOR = 3
MIN_REFERENCE_DAYS = 7
HELD_STATUSES = frozenset({"held", "failed"})


@dataclass(frozen=True)
class DayFigures:
    """One local day of a tenant: feed totals (øre, sales positive) and the day's voucher state."""

    day: dt.date
    transactions: int = 0
    sales_ore: int = 0
    vat_ore: int = 0
    status: str | None = None
    corrected: bool = False

    @property
    def empty(self) -> bool:
        return self.transactions == 0

    @property
    def held(self) -> bool:
        return self.status in HELD_STATUSES


def daily_totals(
    conn: Connection, tenant: str, date_from: dt.date, date_to: dt.date
) -> dict[dt.date, DayFigures]:
    """Days with completed transactions in [date_from, date_to], by day."""
    rows = conn.execute(
        sql("validate_daily_totals"), {"tenant_id": tenant, "date_from": date_from, "date_to": date_to}
    ).mappings()
    out = {}
    for r in rows:
        day = (
            r["local_date"]
            if isinstance(r["local_date"], dt.date)
            else dt.date.fromisoformat(r["local_date"])
        )
        out[day] = DayFigures(day, int(r["transactions"]), int(r["sales_ore"] or 0), int(r["vat_ore"] or 0))
    return out


def recent_days(conn: Connection, tenant: str, end_day: dt.date, days: int) -> list[DayFigures]:
    """Every day of the `days` ending on end_day (empty ones too), with voucher status and corrections."""
    start = end_day - dt.timedelta(days=days - 1)
    totals = daily_totals(conn, tenant, start, end_day)
    status: dict[dt.date, str] = {}
    corrected: set[dt.date] = set()
    rows = conn.execute(
        select(vouchers.c.local_date, vouchers.c.version, vouchers.c.status).where(
            vouchers.c.tenant_id == tenant, vouchers.c.local_date >= start, vouchers.c.local_date <= end_day
        )
    )
    for day, version, state in rows:
        if version == 1:
            status[day] = state
        else:
            corrected.add(day)
    out = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        base = totals.get(day, DayFigures(day))
        out.append(
            DayFigures(
                day, base.transactions, base.sales_ore, base.vat_ore, status.get(day), day in corrected
            )
        )
    return out


def _nok_range(low: float, high: float) -> str:
    return f"{nok_text(round(low))} to {nok_text(round(high))} NOK"


def range_warnings(
    conn: Connection, tenant: str, day: dt.date, weeks: int = RANGE_WEEKS
) -> list[dict[str, str]]:
    """Warnings for a day whose sales or VAT lie far outside the tenant's recent range (see the module)."""
    reference_from = day - dt.timedelta(weeks=weeks)
    totals = daily_totals(conn, tenant, reference_from, day)
    today = totals.pop(day, None)
    if today is None or len(totals) < MIN_REFERENCE_DAYS:
        return []
    out = []
    for check, label, value, history in (
        ("sales_in_range", "Sales", today.sales_ore, [d.sales_ore for d in totals.values()]),
        ("vat_in_range", "VAT", today.vat_ore, [d.vat_ore for d in totals.values()]),
    ):
        low, high = min(history) / RANGE_FACTOR, max(history) * RANGE_FACTOR
        if low <= value <= high:
            continue
        side = "above" if value > high else "below"
        out.append(
            {
                "check": check,
                "message": (
                    f"{label} of {nok_text(value)} NOK are far {side} this tenant's usual range "
                    f"({_nok_range(low, high)}: 1/{RANGE_FACTOR} of the smallest to {RANGE_FACTOR} times the "
                    f"largest of the {len(history)} days with sales in the {weeks} weeks before)."
                ),
                "observed": format_nok(value),
                "range": _nok_range(low, high),
            }
        )
    return out
