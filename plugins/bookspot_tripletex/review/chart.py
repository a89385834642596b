"""A tenant's recent days as an inline SVG bar chart: gross sales per day, coloured by status."""

from __future__ import annotations

import datetime as dt
from html import escape

from sqlalchemy import Connection

from bookspot_tripletex.money import format_nok
from bookspot_tripletex.review.data import daily_sales

COLOURS = {
    "posted": "#0969da",
    "ready": "#1a7f37",
    "held": "#cf222e",
    "failed": "#cf222e",
    "empty": "#8c959f",
}
WIDTH, HEIGHT, PAD = 720, 160, 28


def tenant_chart_svg(conn: Connection, tenant: str, end_day: dt.date, weeks: int = 6) -> str:
    """Bars for the `weeks` weeks up to end_day; a day without a voucher is left blank."""
    days = weeks * 7
    by_day = {d: (status, ore) for d, status, ore in daily_sales(conn, tenant, end_day, days)}
    top = max([ore for _, ore in by_day.values()] + [1])
    step = (WIDTH - 2 * PAD) / days
    bars = []
    for i in range(days):
        day = end_day - dt.timedelta(days=days - 1 - i)
        if day not in by_day:
            continue
        status, ore = by_day[day]
        h = max(2.0, (HEIGHT - 2 * PAD) * max(ore, 0) / top)
        x, y = PAD + i * step, HEIGHT - PAD - h
        title = escape(f"{day.isoformat()}: {status}, sales {format_nok(ore)} NOK")
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="{COLOURS.get(status, "#9a6700")}"><title>{title}</title></rect>'
        )
    start = end_day - dt.timedelta(days=days - 1)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(tenant)}: sales per day" class="chart">'
        f'<text x="{PAD}" y="16" font-size="12">{escape(tenant)}: gross sales per day (max '
        f"{format_nok(top)} NOK)</text>"
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#d0d7de"/>'
        + "".join(bars)
        + f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{start.isoformat()}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">'
        f"{end_day.isoformat()}</text>"
        "</svg>"
    )
