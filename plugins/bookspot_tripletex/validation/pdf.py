"""The report as an A4 PDF for accountants (fpdf2, core font Helvetica), attached to the posted voucher."""

from __future__ import annotations

import json
from typing import Any

from bookspot_tripletex.timeutil import day_text
from bookspot_tripletex.validation.sections import sections, text

PDF_REPLACEMENTS = str.maketrans(
    {"–": "-", "—": "-", "−": "-", "…": "...", "’": "'", "‘": "'", "“": '"', "”": '"', "≤": "<=", "≥": ">=",
     "→": "->", "€": "EUR", "\u00a0": " ", "•": "-", "\t": "    "}
)  # fmt: skip
PDF_RAW_CHARS = 700
BADGE_RGB = {
    "READY": (26, 127, 55),
    "HELD": (207, 34, 46),
    "EMPTY": (110, 119, 129),
    "POSTED": (9, 105, 218),
    "FAILED": (207, 34, 46),
}


def latin1(value: Any) -> str:
    """Text a PDF core font can draw: Latin-1 kept (æ, ø, å too), common symbols spelled out, the rest '?'."""
    return text(value).translate(PDF_REPLACEMENTS).encode("latin-1", "replace").decode("latin-1")


def _pdf_raw(raw: str) -> str:
    """A raw record compact and cut short: a table row cannot run over a page."""
    if len(raw) <= PDF_RAW_CHARS * 4:
        try:
            raw = json.dumps(json.loads(raw), ensure_ascii=False, separators=(", ", ": "))
        except (ValueError, RecursionError):
            pass
    if len(raw) <= PDF_RAW_CHARS:
        return raw
    return raw[:PDF_RAW_CHARS] + " ... (cut; the HTML report has it all)"


def render_pdf(report: dict[str, Any]) -> bytes:
    """The report as an A4 PDF (fpdf2, core font Helvetica), with the same sections as the HTML page."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(latin1(f"BookSpot to Tripletex {report.get('tenant')} {report.get('date')}"))
    pdf.set_creator("bookspot_tripletex")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    heading = FontFace(emphasis="BOLD", fill_color=(240, 242, 245))

    def para(text: str, size: float = 8, style: str = "") -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, size * 0.55, latin1(text), align="L", new_x="LMARGIN", new_y="NEXT")

    status = text(report.get("status")).upper() or "?"
    para(
        f"{report.get('tenant_name') or report.get('tenant')}: sales of {day_text(report.get('date'))}",
        15,
        "B",
    )
    pdf.set_font("Helvetica", "B", 11)
    pdf.set_fill_color(*BADGE_RGB.get(status, (154, 103, 0)))
    pdf.set_text_color(255, 255, 255)
    pdf.cell(pdf.get_string_width(latin1(status)) + 8, 7, latin1(status), fill=True, align="C")
    pdf.set_text_color(0, 0, 0)
    pdf.set_fill_color(255, 255, 255)
    pdf.ln(9)
    para(
        f"BookSpot to Tripletex validation report. Tenant {report.get('tenant')}, voucher version "
        f"{report.get('version')}. Amounts in NOK, debit positive (credits negative)."
    )
    pdf.ln(2)
    para("Summary", 12, "B")
    for line in report.get("summary", []):
        para(f"- {line}")
    for section in sections(report):
        if pdf.get_y() > pdf.h - 50:
            pdf.add_page()
        pdf.ln(3)
        para(section.title, 12, "B")
        if section.note:
            para(section.note)
        if section.link:
            para(f"In Tripletex: {section.link}")
        if not section.rows:
            para(section.empty)
            continue
        pdf.set_font("Helvetica", "", 7.5)
        align = tuple("RIGHT" if i in section.num else "LEFT" for i in range(len(section.headers)))
        rows = [*section.rows, *([section.foot] if section.foot else [])]
        with pdf.table(
            col_widths=section.widths, headings_style=heading, line_height=3.8, text_align=align, padding=0.8
        ) as table:
            for values in [section.headers, *rows]:
                row = table.row()
                for i, value in enumerate(values):
                    row.cell(latin1(_pdf_raw(value) if i in section.pre else value))
    return bytes(pdf.output())
