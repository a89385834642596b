"""The validation report of one tenant-day: JSON, a self-contained HTML page and a PDF for accountants."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bookspot_tripletex.journal.build import METHOD_LABELS
from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.money import format_nok
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.validation.frames import (
    day_totals_frame,
    journal_totals,
    records,
    totals_by_payment_method,
    totals_by_vat_rate,
    vat_derivation_frame,
)
from bookspot_tripletex.validation.run import Check, ValidationResult

REPORT_FORMAT = 1
STATUSES = ("ready", "held", "empty", "posted")
LISTED_FAILURES = 10
STATUS_TEXT = {
    "ready": "Ready: the voucher passed every check and will be posted to Tripletex.",
    "held": "Held: nothing is posted for this day until the problems below are resolved.",
    "empty": "Empty: no completed transactions on this day, so nothing is posted.",
    "posted": "Posted: the voucher is in Tripletex.",
}
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def nok(ore: Any) -> str | None:
    """øre as a NOK string; anything that is not whole øre is shown as it is rather than hidden."""
    if ore is None:
        return None
    return format_nok(ore) if isinstance(ore, int) and not isinstance(ore, bool) else str(ore)


def rate_label(rate: str | None) -> str:
    if rate is None:
        return "unknown rate"
    if rate == "gift_card":
        return "gift cards (no VAT)"
    if rate == "exempt":
        return "exempt (outside the VAT act)"
    return f"{rate} %"


def method_label(method: str) -> str:
    return {**METHOD_LABELS, "gift_card": "gift card"}.get(method, method)


def _value(value: Any, unit: str | None) -> str:
    if unit == "ore" and isinstance(value, int) and not isinstance(value, bool):
        return f"{format_nok(value)} NOK"
    return "empty" if value is None else str(value)


def _row_text(row: dict[str, Any]) -> str:
    parts = []
    for key, value in row.items():
        if key.endswith("_ore") and isinstance(value, int) and not isinstance(value, bool):
            parts.append(f"{key.removesuffix('_ore')} {format_nok(value)}")
        else:
            parts.append(f"{key} {'empty' if value is None else value}")
    return ", ".join(parts)


def observed_text(check: Check) -> str:
    """What GX saw, in words: a value, or which rows failed."""
    if check.error:
        return f"could not be evaluated: {check.error}"
    if check.rows_checked is None:
        return _value(check.observed, check.unit)
    if not check.unexpected_count:
        return f"all {check.rows_checked} rows pass" if check.rows_checked else "no rows to check"
    lines = [f"{check.unexpected_count} of {check.rows_checked} rows fail"]
    lines += [_row_text(row) for row in check.failures[:LISTED_FAILURES]]
    if check.unexpected_count > LISTED_FAILURES:
        lines.append(f"... and {check.unexpected_count - LISTED_FAILURES} more")
    return "\n".join(lines)


def _check_entry(check: Check) -> dict[str, Any]:
    return {
        **check.as_dict(),
        "result": "pass" if check.passed else "fail",
        "observed_text": observed_text(check),
    }


def _money_fields(row: dict[str, Any]) -> dict[str, Any]:
    """øre fields (name_ore) as NOK strings (name)."""
    return {
        (k.removesuffix("_ore") if k.endswith("_ore") else k): (nok(v) if k.endswith("_ore") else v)
        for k, v in row.items()
    }


def _totals(journal: DayJournal, result: ValidationResult | None) -> dict[str, list[dict[str, Any]]]:
    if result is not None:
        by_rate, by_method = result.totals_by_vat_rate, result.totals_by_payment_method
    else:
        frame = day_totals_frame({}, journal_totals(journal))
        feed = ("feed_", "diff_")
        by_rate = [
            {k: (None if k.startswith(feed) else v) for k, v in r.items()} for r in totals_by_vat_rate(frame)
        ]
        by_method = [
            {k: (None if k.startswith(feed) else v) for k, v in r.items()}
            for r in totals_by_payment_method(frame)
        ]
    return {
        "by_vat_rate": [{**_money_fields(r), "label": rate_label(r["vat_rate"])} for r in by_rate],
        "by_payment_method": [
            {**_money_fields(r), "label": method_label(r["payment_method"])} for r in by_method
        ],
    }


def _vat_derivation(
    journal: DayJournal, tenant: TenantConfig, result: ValidationResult | None
) -> dict[str, Any]:
    tolerance = result.vat_tolerance_ore if result is not None else tenant.vat_tolerance_ore
    rows = result.vat_derivation if result is not None else records(vat_derivation_frame(journal))
    return {
        "tolerance": nok(tolerance),
        "rows": [
            {
                **_money_fields(r),
                "label": rate_label(r["vat_rate"]),
                "within_tolerance": r["vat_rate"] is not None and r["abs_diff_ore"] <= tolerance,
            }
            for r in rows
        ],
    }


def _voucher(journal: DayJournal) -> dict[str, Any] | None:
    voucher = journal.voucher
    if voucher is None:
        return None
    return {
        "date": voucher.date.isoformat(),
        "description": voucher.description,
        "external_number": voucher.external_number,
        "postings": [
            {
                "row": p.row,
                "account": p.account,
                "vat_type": p.vat_type,
                "vat_rate": p.vat_rate,
                "amount": nok(p.amount_ore),
                "description": p.description,
            }
            for p in voucher.postings
        ],
        "sum": nok(voucher.balance_ore),
    }


def report_status(journal: DayJournal, result: ValidationResult | None) -> str:
    """ready only with a voucher, a complete day and a passing validation; empty when there is nothing."""
    if journal.voucher is None:
        return "held" if journal.status == "held" else "empty"
    if journal.status != "ready" or result is None or not result.success:
        return "held"
    return "ready"


def _summary(report: dict[str, Any], result: ValidationResult | None) -> list[str]:
    out = [STATUS_TEXT.get(report["status"], f"Status: {report['status']}.")]
    n = report["transactions"]
    out.append(f"{n} completed transaction{'s' if n != 1 else ''} on {report['date']}.")
    voucher = report["voucher"]
    if voucher is not None:
        postings = len(voucher["postings"])
        out.append(f"Voucher {voucher['external_number']}: {postings} postings, sum {voucher['sum']} NOK.")
    if report["status"] == "empty" and voucher is None:
        out.append("No voucher: nothing to validate or post.")
    elif result is None:
        out.append("Not validated.")
    elif result.success:
        out.append(f"All {len(result.checks)} checks passed.")
    else:
        out.append(f"{len(result.failed)} of {len(result.checks)} checks failed: {', '.join(result.failed)}.")
    if report["quarantined"]:
        q = len(report["quarantined"])
        out.append(
            f"{q} record{'s' if q != 1 else ''} of this day quarantined (reasons below): the day is held "
            "until corrected records arrive from BookSpot or the data team releases the day."
        )
    if report["missing_mappings"]:
        out.append("Missing mappings: " + ", ".join(report["missing_mappings"]) + ".")
    return out


def build_report(
    tenant: TenantConfig,
    journal: DayJournal,
    result: ValidationResult | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON report. `extra` is merged on top, e.g. {"status": "posted", "tripletex_number": "12-2026"}."""
    report: dict[str, Any] = {
        "report_format": REPORT_FORMAT,
        "tenant": tenant.tenant,
        "tenant_name": tenant.name,
        "date": journal.date.isoformat(),
        "version": journal.voucher.version if journal.voucher is not None else 1,
        "status": report_status(journal, result),
        "transactions": journal.transactions,
        "mapping": {
            "version_id": journal.mapping_version_id,
            "valid_from": journal.mapping_valid_from.isoformat() if journal.mapping_valid_from else None,
        },
        "validation": None,
        "checks": [_check_entry(c) for c in result.checks] if result is not None else [],
        "totals": _totals(journal, result),
        "vat_derivation": _vat_derivation(journal, tenant, result),
        "quarantined": [
            {"id": q.get("id"), "reason": q.get("reason"), "rules": q.get("rules", []), "raw": q.get("raw")}
            for q in journal.quarantined
        ],
        "missing_mappings": list(journal.missing_account_types),
        "voucher": _voucher(journal),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if result is not None:
        report["validation"] = {
            **result.summary(),
            "gx_version": result.gx_version,
            "duration_s": result.duration_s,
        }
    report.update(extra or {})
    report["summary"] = _summary(report, result)
    return json.loads(json.dumps(report, default=str))


def _safe(part: str) -> str:
    cleaned = SAFE_NAME.sub("_", part)
    return "_" + cleaned if cleaned.startswith(".") or not cleaned else cleaned


def report_paths(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    folder = Path(out_dir) / _safe(str(report["tenant"])) / _safe(str(report["date"]))
    stem = f"v{int(report.get('version') or 1)}"
    return folder / f"{stem}.json", folder / f"{stem}.html"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write <out_dir>/<tenant>/<date>/v<version>.json and .html (each replaced atomically)."""
    json_path, html_path = report_paths(report, out_dir)
    _write(json_path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    _write(html_path, render_html(report))
    return json_path, html_path


# ---------------------------------------------------------------- sections shared by HTML and PDF

MARKS = {"PASS": "pass", "OK": "pass", "FAIL": "fail", "OVER": "fail"}
KNOWN_KEYS = {
    "report_format", "tenant", "tenant_name", "date", "version", "status", "transactions", "mapping",
    "validation", "checks", "totals", "vat_derivation", "quarantined", "missing_mappings", "voucher",
    "generated_at", "summary",
}  # fmt: skip


@dataclass
class Section:
    """One titled table of the report; `num` are the amount columns, `widths` relative PDF widths."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    widths: tuple[float, ...]
    num: frozenset[int] = frozenset()
    note: str = ""
    empty: str = "None."
    foot: list[str] | None = None
    pre: frozenset[int] = frozenset()


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _diff(row: dict[str, Any], *keys: str) -> str:
    values = [row.get(k) for k in keys]
    if all(v is None for v in values):
        return "not compared"
    return " / ".join(_s(v) for v in values)


def _raw_text(raw: Any) -> str:
    if isinstance(raw, str):
        try:
            return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
        except ValueError:
            return raw
    return json.dumps(raw, indent=2, ensure_ascii=False, default=str)


def _details(report: dict[str, Any]) -> list[list[str]]:
    mapping = report.get("mapping") or {}
    validation = report.get("validation") or {}
    voucher = report.get("voucher") or {}
    mapping_text = (
        f"{mapping.get('version_id')} (valid from {mapping.get('valid_from')})"
        if mapping.get("version_id") is not None
        else "none"
    )
    rows: list[tuple[str, Any]] = [
        ("Tenant", f"{report.get('tenant_name') or ''} ({report.get('tenant')})"),
        ("Accounting day", report.get("date")),
        ("Voucher version", report.get("version")),
        ("External voucher number", voucher.get("external_number")),
        ("Mapping version", mapping_text),
        ("Completed transactions", report.get("transactions")),
        ("Validated at", validation.get("validated_at")),
        ("Great Expectations", validation.get("gx_version")),
        ("Report generated at", report.get("generated_at")),
    ]
    for key in sorted(set(report) - KNOWN_KEYS):
        value = report[key]
        rows.append((key, value if isinstance(value, str | int | float) else json.dumps(value, default=str)))
    return [[k, _s(v)] for k, v in rows if v is not None]


def sections(report: dict[str, Any]) -> list[Section]:
    """The report's tables in reading order, as plain text (the renderers escape or transliterate)."""
    totals = report.get("totals") or {}
    vat = report.get("vat_derivation") or {}
    voucher = report.get("voucher") or {}
    missing = report.get("missing_mappings") or []
    out = [
        Section("Details", ["Item", "Value"], _details(report), (1, 3)),
        Section(
            "Checks",
            ["Result", "Check", "Expected", "Observed"],
            [
                [
                    "PASS" if c.get("result") == "pass" else "FAIL",
                    f"{c.get('name')}: {c.get('description')}",
                    _s(c.get("expected")),
                    _s(c.get("observed_text")),
                ]
                for c in report.get("checks") or []
            ],
            (0.6, 3.2, 1.8, 2.4),
            empty="The day was not validated.",
        ),
        Section(
            "Totals per VAT rate",
            ["VAT rate", "Gross", "VAT", "Net", "Feed gross", "Feed VAT", "Difference (gross / VAT)"],
            [
                [_s(r.get(k)) for k in ("label", "gross", "vat", "net", "feed_gross", "feed_vat")]
                + [_diff(r, "diff_gross", "diff_vat")]
                for r in totals.get("by_vat_rate", [])
            ],
            (1.6, 1, 1, 1, 1, 1, 1.2),
            frozenset(range(1, 7)),
            note="Sales are credits, so they are negative. Feed columns are computed straight from the "
            "BookSpot feed, apart from the journal.",
            empty="No sales.",
        ),
        Section(
            "Totals per payment method",
            [
                "Payment method",
                "Received",
                "Provider fees",
                "Net settled",
                "Feed received",
                "Feed fees",
                "Difference (received / fees)",
            ],  # fmt: skip
            [
                [
                    _s(r.get(k))
                    for k in ("label", "amount", "provider_fee", "net", "feed_amount", "feed_provider_fee")
                ]
                + [_diff(r, "diff_amount", "diff_provider_fee")]
                for r in totals.get("by_payment_method", [])
            ],
            (1.6, 1, 1, 1, 1, 1, 1.2),
            frozenset(range(1, 7)),
            empty="No payments.",
        ),
        Section(
            "VAT: BookSpot against Tripletex's derivation",
            ["VAT rate", "Postings", "Gross", "BookSpot VAT", "Tripletex VAT", "Difference", "Tolerance", ""],
            [
                [
                    _s(r.get(k))
                    for k in ("label", "postings", "gross", "bookspot_vat", "tripletex_vat", "diff")
                ]
                + [_s(vat.get("tolerance")), "OK" if r.get("within_tolerance") else "OVER"]
                for r in vat.get("rows", [])
            ],
            (1.6, 0.8, 1, 1, 1, 1, 1, 0.6),
            frozenset(range(1, 7)),
            note="Tripletex derives VAT from each posting's gross (net = gross / (1 + rate), rounded to "
            f"øre, VAT = the rest). The difference may be at most {vat.get('tolerance')} NOK per rate.",
            empty="No postings with VAT.",
        ),
        Section(
            "Quarantined records",
            ["Record", "Reason", "Record as received"],
            [
                [_s(q.get("id")), _s(q.get("reason")), _raw_text(q.get("raw"))]
                for q in report.get("quarantined") or []
            ],
            (1, 2.5, 4.5),
            pre=frozenset({2}),
        ),
    ]
    if missing:
        out.append(
            Section("Missing mappings", ["Account type or VAT rate"], [[_s(m)] for m in missing], (1,))
        )
    postings = voucher.get("postings") or []
    out.append(
        Section(
            "Voucher",
            ["Row", "Account", "VAT type", "Description", "Amount (NOK)"],
            [
                [_s(p.get(k)) for k in ("row", "account", "vat_type", "description", "amount")]
                for p in postings
            ],
            (0.5, 0.8, 0.8, 3.4, 1.2),
            frozenset({0, 1, 2, 4}),
            note=(
                f"{voucher.get('date')}: {voucher.get('description')} ({voucher.get('external_number')})"
                if voucher
                else ""
            ),
            empty="No voucher for this day.",
            foot=["", "", "", "Sum", _s(voucher.get("sum"))] if postings else None,
        )
    )
    return out


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:Helvetica,Arial,sans-serif;color:#1d2329;margin:24px auto;max-width:1100px;padding:0 16px;
line-height:1.4}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.sub,.muted{color:#57606a}
.badge{display:inline-block;padding:3px 12px;border-radius:12px;font-weight:bold;color:#fff;font-size:14px;
letter-spacing:.05em;vertical-align:middle}
.ready{background:#1a7f37}.held{background:#cf222e}.empty{background:#6e7781}.posted{background:#0969da}
.other{background:#9a6700}
table{border-collapse:collapse;width:100%;font-size:13px;margin:4px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;white-space:pre-wrap}
th{background:#f6f8fa}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.failed td{background:#ffebe9}
td.pass{color:#1a7f37;font-weight:bold}td.fail{color:#cf222e;font-weight:bold}
tfoot td{font-weight:bold;background:#f6f8fa}
pre{white-space:pre-wrap;word-break:break-all;margin:0;font-size:12px}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _cell(tag: str, text: str, index: int, section: Section) -> str:
    classes = ["num"] if index in section.num else []
    if tag == "td" and text in MARKS and index not in section.num:
        classes.append(MARKS[text])
    attr = f' class="{" ".join(classes)}"' if classes else ""
    body = f"<pre>{_e(text)}</pre>" if tag == "td" and index in section.pre else _e(text)
    return f"<{tag}{attr}>{body}</{tag}>"


def _section_html(section: Section) -> str:
    out = [f"<h2>{_e(section.title)}</h2>"]
    if section.note:
        out.append(f'<p class="muted">{_e(section.note)}</p>')
    if not section.rows:
        return "\n".join([*out, f'<p class="muted">{_e(section.empty)}</p>'])
    out.append("<table><thead><tr>")
    out.append("".join(_cell("th", h, i, section) for i, h in enumerate(section.headers)))
    out.append("</tr></thead><tbody>")
    for row in section.rows:
        failed = ' class="failed"' if any(MARKS.get(c) == "fail" for c in row) else ""
        out.append(f"<tr{failed}>" + "".join(_cell("td", c, i, section) for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody>")
    if section.foot:
        cells = "".join(_cell("td", c, i, section) for i, c in enumerate(section.foot))
        out.append(f"<tfoot><tr>{cells}</tr></tfoot>")
    out.append("</table>")
    return "\n".join(out)


def render_html(report: dict[str, Any]) -> str:
    """One self-contained page (inline CSS, no scripts, no external references); every value escaped."""
    status = _s(report.get("status"))
    badge = status if status in STATUSES else "other"
    name = report.get("tenant_name") or report.get("tenant")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(report.get('tenant'))} {_e(report.get('date'))} {_e(status.upper())}: "
        f"BookSpot to Tripletex</title>",
        f"<style>{CSS}</style></head><body>",
        f'<h1>{_e(name)}: sales of {_e(report.get("date"))} <span class="badge {badge}">{_e(status.upper())}'
        "</span></h1>",
        f'<p class="sub">BookSpot to Tripletex validation report. Tenant {_e(report.get("tenant"))}, voucher '
        f"version {_e(report.get('version'))}. Amounts in NOK, debit positive (credits negative).</p>",
        "<h2>Summary</h2><ul>",
        *[f"<li>{_e(s)}</li>" for s in report.get("summary", [])],
        "</ul>",
        *[_section_html(s) for s in sections(report)],
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------- PDF

PDF_REPLACEMENTS = str.maketrans(
    {"–": "-", "—": "-", "−": "-", "…": "...", "’": "'", "‘": "'", "“": '"', "”": '"', "≤": "<=", "≥": ">=",
     "→": "->", "€": "EUR", "\u00a0": " ", "•": "-", "\t": "    "}
)  # fmt: skip
PDF_RAW_CHARS = 700
BADGE_RGB = {"READY": (26, 127, 55), "HELD": (207, 34, 46), "EMPTY": (110, 119, 129), "POSTED": (9, 105, 218)}


def latin1(text: Any) -> str:
    """Text a PDF core font can draw: Latin-1 kept (æ, ø, å too), common symbols spelled out, the rest '?'."""
    return _s(text).translate(PDF_REPLACEMENTS).encode("latin-1", "replace").decode("latin-1")


def _pdf_raw(text: str) -> str:
    """A raw record compact and cut short: a table row cannot run over a page."""
    try:
        text = json.dumps(json.loads(text), ensure_ascii=False, separators=(", ", ": "))
    except ValueError:
        pass
    return (
        text
        if len(text) <= PDF_RAW_CHARS
        else text[:PDF_RAW_CHARS] + " ... (cut; the HTML report has it all)"
    )


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

    status = _s(report.get("status")).upper() or "?"
    para(f"{report.get('tenant_name') or report.get('tenant')}: sales of {report.get('date')}", 15, "B")
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
