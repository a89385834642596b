"""The report as one self-contained HTML page: Jinja2 templates (autoescaped), inline CSS, no scripts."""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bookspot_tripletex.validation.model import STATUSES
from bookspot_tripletex.validation.sections import MARKS, Section, sections, text
from bookspot_tripletex.validation.text import day_text


@functools.cache
def environment() -> Environment:
    """The templates in validation/templates/, every value escaped (HTML and SVG)."""
    env = Environment(
        loader=PackageLoader("bookspot_tripletex.validation", "templates"),
        autoescape=select_autoescape(["html", "svg", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(cell_class=_cell_class, row_failed=_row_failed, day_text=day_text)
    return env


def _cell_class(section: Section, index: int, value: str, tag: str) -> Markup:
    classes = ["num"] if index in section.num else []
    if tag == "td" and value in MARKS and index not in section.num:
        classes.append(MARKS[value])
    return Markup(' class="{}"').format(" ".join(classes)) if classes else Markup("")


def _row_failed(row: list[str]) -> bool:
    return any(MARKS.get(c) == "fail" for c in row)


def render_html(report: dict[str, Any], chart: str | None = None) -> str:
    """One self-contained page (inline CSS and SVG, no scripts, no external references); every value
    escaped. `chart`: the tenant's recent weeks as SVG (validation/chart.py), already escaped."""
    status = text(report.get("status"))
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            status=status,
            badge=status if status in STATUSES else "other",
            sections=sections(report),
            chart=Markup(chart) if chart else None,
        )
    )
