"""A tenant's recent weeks at a glance: an inline SVG of daily sales and VAT with held, corrected and
empty days marked (for the report and the review screen)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection

from bookspot_tripletex.validation.history import DayFigures, recent_days
from bookspot_tripletex.validation.text import day_text, nok_text

WIDTH, HEIGHT = 760, 210
LEFT, RIGHT, TOP, BOTTOM = 64, 752, 14, 44


def _state(day: DayFigures) -> str:
    parts = ["no sales" if day.empty else (day.status or "not journaled")]
    if day.corrected:
        parts.append("corrected")
    return ", ".join(parts)


def chart_data(days: list[DayFigures], end_day: dt.date, tenant: str) -> dict[str, Any]:
    """The chart's geometry: what the SVG template draws."""
    top_value = max([d.sales_ore for d in days] + [d.vat_ore for d in days] + [1])
    base = HEIGHT - BOTTOM
    scale = (base - TOP) / top_value
    slot = (RIGHT - LEFT) / len(days)

    def height(ore: int) -> float:
        return round(max(ore, 0) * scale, 1)

    bars = []
    for i, d in enumerate(days):
        x = LEFT + i * slot
        sales_h, vat_h = height(d.sales_ore), height(d.vat_ore)
        bars.append(
            {
                "x": round(x, 1),
                "slot": round(slot, 1),
                "mid": round(x + slot / 2, 1),
                "sales_x": round(x + slot * 0.15, 1),
                "sales_w": round(slot * 0.7, 1),
                "sales_y": round(base - sales_h, 1),
                "sales_h": sales_h,
                "vat_x": round(x + slot * 0.3, 1),
                "vat_w": round(slot * 0.4, 1),
                "vat_y": round(base - vat_h, 1),
                "vat_h": vat_h,
                "mark_y": round(max(base - sales_h - 6, TOP + 14), 1),
                "empty": d.empty,
                "held": d.held,
                "corrected": d.corrected,
                "current": d.day == end_day,
                "title": f"{d.day:%a} {day_text(d.day)}: sales {nok_text(d.sales_ore)} NOK, "
                f"VAT {nok_text(d.vat_ore)} NOK ({_state(d)})",
            }
        )
    y_ticks = [
        {"y": round(base - (base - TOP) * f, 1), "text": nok_text(round(top_value * f))} for f in (0, 0.5, 1)
    ]
    x_ticks = [
        {"x": bar["mid"], "text": f"{d.day:%d.%m}"}
        for bar, d in zip(bars, days, strict=True)
        if d.day.weekday() == 0
    ]
    label = (
        f"{tenant}: sales and VAT per day, {day_text(days[0].day)} to {day_text(end_day)} (NOK); "
        f"{sum(d.held for d in days)} held, {sum(d.corrected for d in days)} corrected, "
        f"{sum(d.empty for d in days)} without sales"
    )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": RIGHT,
        "top": TOP,
        "base": base,
        "bars": bars,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "label": label,
    }


def tenant_chart_svg(conn: Connection, tenant: str, end_day: dt.date, weeks: int = 6) -> str:
    """An inline SVG (no scripts, no external references) of the tenant's daily sales and VAT over the
    `weeks` weeks ending on end_day; held, corrected and empty days marked, end_day highlighted."""
    from bookspot_tripletex.validation.page import environment

    days = recent_days(conn, tenant, end_day, weeks * 7)
    data = chart_data(days, end_day, tenant)
    for key in ("bars", "y_ticks", "x_ticks"):  # attributes: the template reads them without a miss
        data[key] = [SimpleNamespace(**item) for item in data[key]]
    return environment().get_template("chart.svg.j2").render(**data)
