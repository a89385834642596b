"""The report's tables in reading order, as plain text: what the HTML template and the PDF both show.
Amounts and dates are written as Norwegians read them ("1 190,00", "24.11.2026")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bookspot_tripletex.timeutil import moment_text
from bookspot_tripletex.validation.model import Report, changes_text
from bookspot_tripletex.validation.text import day_text, nok_text

MARKS = {"PASS": "pass", "OK": "pass", "FAIL": "fail", "OVER": "fail"}
KNOWN_KEYS = frozenset(Report.model_fields)


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
    link: str | None = None
    """The voucher of this table in Tripletex's own UI."""


def text(value: Any) -> str:
    return "" if value is None else str(value)


def amount(value: Any) -> str:
    """A NOK amount of the report (a string such as "-1190.00") as Norwegians read it."""
    return nok_text(value) if isinstance(value, str | int) and not isinstance(value, bool) else text(value)


def _diff(row: dict[str, Any], *keys: str) -> str:
    values = [row.get(k) for k in keys]
    if all(v is None for v in values):
        return "not compared"
    return " / ".join(amount(v) for v in values)


def _raw_text(raw: Any) -> str:
    if isinstance(raw, str):
        try:
            return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            return raw
    return json.dumps(raw, indent=2, ensure_ascii=False, default=str)


def _details(report: dict[str, Any]) -> list[list[str]]:
    mapping = report.get("mapping") or {}
    validation = report.get("validation") or {}
    voucher = report.get("voucher") or {}
    mapping_text = (
        f"{mapping.get('version_id')} (valid from {day_text(mapping.get('valid_from'))})"
        if mapping.get("version_id") is not None
        else "none"
    )
    rows: list[tuple[str, Any]] = [
        ("Tenant", f"{report.get('tenant_name') or ''} ({report.get('tenant')})"),
        ("Accounting day", day_text(report.get("date"))),
        ("Voucher version", report.get("version")),
        ("External voucher number", voucher.get("external_number")),
        ("Tripletex voucher number", report.get("tripletex_number")),
        ("Tripletex voucher id", report.get("tripletex_voucher_id")),
        ("In Tripletex", report.get("tripletex_link")),
        ("Posted at", moment_text(report.get("posted_at")) or None),
        (
            "Why waiting" if report.get("status") == "awaiting_approval" else "Why held",
            report.get("held_reason"),
        ),
        ("Note", report.get("note")),
        ("Mapping version", mapping_text),
        ("Completed transactions", report.get("transactions")),
        ("Validated at", moment_text(validation.get("validated_at")) or None),
        ("Great Expectations", validation.get("gx_version")),
        ("Report generated at", moment_text(report.get("generated_at")) or None),
    ]
    for key in sorted(set(report) - KNOWN_KEYS):
        value = report[key]
        rows.append((key, value if isinstance(value, str | int | float) else json.dumps(value, default=str)))
    return [[k, text(v)] for k, v in rows if v is not None]


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
                    text(c.get("expected")),
                    text(c.get("observed_text")),
                ]
                for c in report.get("checks") or []
            ],
            (0.6, 3.2, 1.8, 2.4),
            empty="The day was not validated.",
        ),
        Section(
            "Warnings",
            ["Warning", "Observed", "Usual range"],
            [
                [text(w.get("message")), amount(w.get("observed")), text(w.get("range"))]
                for w in report.get("warnings") or []
            ],
            (4, 1.5, 2.5),
            note="Warnings do not hold the day; they point at figures worth a look.",
        ),
        Section(
            "Totals per VAT rate",
            ["VAT rate", "Gross", "VAT", "Net", "Feed gross", "Feed VAT", "Difference (gross / VAT)"],
            [
                [text(r.get("label"))]
                + [amount(r.get(k)) for k in ("gross", "vat", "net", "feed_gross", "feed_vat")]
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
                [text(r.get("label"))]
                + [
                    amount(r.get(k))
                    for k in ("amount", "provider_fee", "net", "feed_amount", "feed_provider_fee")
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
                [text(r.get("label")), text(r.get("postings"))]
                + [amount(r.get(k)) for k in ("gross", "bookspot_vat", "tripletex_vat", "diff")]
                + [amount(vat.get("tolerance")), "OK" if r.get("within_tolerance") else "OVER"]
                for r in vat.get("rows", [])
            ],
            (1.6, 0.8, 1, 1, 1, 1, 1, 0.6),
            frozenset(range(1, 7)),
            note="Tripletex derives VAT from each posting's gross (net = gross / (1 + rate), rounded to "
            f"øre, VAT = the rest). The difference may be at most {amount(vat.get('tolerance'))} NOK "
            "per rate.",
            empty="No postings with VAT.",
        ),
        Section(
            "Quarantined records",
            ["Record", "Reason", "Record as received"],
            [
                [text(q.get("id")), text(q.get("reason")), _raw_text(q.get("raw"))]
                for q in report.get("quarantined") or []
            ],
            (1, 2.5, 4.5),
            pre=frozenset({2}),
        ),
    ]
    if missing:
        out.append(
            Section("Missing mappings", ["Account type or VAT rate"], [[text(m)] for m in missing], (1,))
        )
    prepaid = report.get("prepayments") or []
    if prepaid:
        out.append(
            Section(
                "Revenue on delivery",
                ["Leg", "Account", "Account type", "VAT type", "Sale's VAT type", "Lines", "Amount (NOK)"],
                [
                    [
                        text(r.get(k))
                        for k in (
                            "leg",
                            "account",
                            "account_type",
                            "vat_type",
                            "sale_vat_type",
                            "lines",
                            "amount",
                        )
                    ]
                    for r in prepaid
                ],
                (0.8, 0.8, 1.8, 0.7, 1.2, 0.6, 1.2),
                frozenset({1, 3, 4, 5, 6}),
                note="Deferred: the net of lines delivered later moves from revenue to customer prepayments "
                "(its VAT stays on this day). Delivered: the net of earlier payments delivered today moves "
                "back to revenue, with no VAT. Both legs carry VAT type 0; the sale's VAT type is the one "
                "its VAT was booked with on the payment day.",
            )
        )
    postings = voucher.get("postings") or []
    out.append(
        Section(
            "Voucher",
            ["Row", "Account", "VAT type", "Description", "Amount (NOK)"],
            [
                [text(p.get(k)) for k in ("row", "account", "vat_type", "description")]
                + [amount(p.get("amount"))]
                for p in postings
            ],
            (0.5, 0.8, 0.8, 3.4, 1.2),
            frozenset({0, 1, 2, 4}),
            note=(
                f"{day_text(voucher.get('date'))}: {voucher.get('description')} "
                f"({voucher.get('external_number')})"
                if voucher
                else ""
            ),
            empty="No voucher for this day.",
            foot=["", "", "", "Sum", amount(voucher.get("sum"))] if postings else None,
            link=report.get("tripletex_link"),
        )
    )
    out.extend(_correction_sections(report))
    return out


def correction_title(c: dict[str, Any]) -> str:
    label = "Forced re-post" if c.get("kind") == "repost" else "Correction"
    number = (
        f"Tripletex voucher {c['tripletex_number']}" if c.get("tripletex_number") else "not in Tripletex yet"
    )
    return f"{label} {c.get('external_number')} (version {c.get('version')}, {number})"


def correction_note(c: dict[str, Any]) -> str:
    """Date (and why it moved), status, the records that changed and the change to the day's sales."""
    parts = [f"Dated {day_text(c.get('date'))}"]
    if c.get("moved"):
        parts[0] += f" (moved: {c.get('note') or 'the period was closed'})"
    elif c.get("note"):
        parts.append(text(c.get("note")))
    parts.append(f"status {c.get('status')}")
    if c.get("error"):
        parts.append(f"error: {c.get('error')}")
    parts.append(f"records since the version before: {changes_text(c.get('changes'))}")
    if c.get("sales_change") is not None:
        parts.append(f"the day's sales changed by {amount(c.get('sales_change'))} NOK")
    return ". ".join(parts) + "."


def _amount_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [[text(r.get("account")), text(r.get("vat_type")), amount(r.get("amount"))] for r in rows]


def _correction_sections(report: dict[str, Any]) -> list[Section]:
    """One table per correction voucher (its amounts per account and VAT type), then the day's net."""
    corrections = report.get("corrections") or []
    out = [
        Section(
            correction_title(c),
            ["Account", "VAT type", "Amount (NOK)"],
            _amount_rows(c.get("postings") or []),
            (1, 1, 1.4),
            frozenset({0, 1, 2}),
            note=correction_note(c),
            empty="No postings.",
            link=c.get("tripletex_link"),
        )
        for c in corrections
    ]
    if corrections:
        out.append(
            Section(
                "The day in Tripletex now (net of every posted version)",
                ["Account", "VAT type", "Amount (NOK)"],
                _amount_rows(report.get("net") or []),
                (1, 1, 1.4),
                frozenset({0, 1, 2}),
                note="The day's voucher and its corrections summed per account and VAT type.",
                empty="Nothing: the day's vouchers cancel out.",
            )
        )
    return out
