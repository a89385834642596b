"""The report's tables in reading order, as plain text: what the HTML template and the PDF both show."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bookspot_tripletex.validation.model import Report

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


def text(value: Any) -> str:
    return "" if value is None else str(value)


def _diff(row: dict[str, Any], *keys: str) -> str:
    values = [row.get(k) for k in keys]
    if all(v is None for v in values):
        return "not compared"
    return " / ".join(text(v) for v in values)


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
        ("Tripletex voucher number", report.get("tripletex_number")),
        ("Tripletex voucher id", report.get("tripletex_voucher_id")),
        ("Posted at", report.get("posted_at")),
        ("Why held", report.get("held_reason")),
        ("Mapping version", mapping_text),
        ("Completed transactions", report.get("transactions")),
        ("Validated at", validation.get("validated_at")),
        ("Great Expectations", validation.get("gx_version")),
        ("Report generated at", report.get("generated_at")),
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
                [text(w.get("message")), text(w.get("observed")), text(w.get("range"))]
                for w in report.get("warnings") or []
            ],
            (4, 1.5, 2.5),
            note="Warnings do not hold the day; they point at figures worth a look.",
        ),
        Section(
            "Totals per VAT rate",
            ["VAT rate", "Gross", "VAT", "Net", "Feed gross", "Feed VAT", "Difference (gross / VAT)"],
            [
                [text(r.get(k)) for k in ("label", "gross", "vat", "net", "feed_gross", "feed_vat")]
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
                    text(r.get(k))
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
                    text(r.get(k))
                    for k in ("label", "postings", "gross", "bookspot_vat", "tripletex_vat", "diff")
                ]
                + [text(vat.get("tolerance")), "OK" if r.get("within_tolerance") else "OVER"]
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
    corrections = report.get("corrections") or []
    if corrections:
        out.append(
            Section(
                "Corrections",
                ["Version", "Status", "External number", "Tripletex number", "Tripletex id", "Note"],
                [
                    [
                        *(
                            text(c.get(k))
                            for k in (
                                "version",
                                "status",
                                "external_number",
                                "tripletex_number",
                                "tripletex_voucher_id",
                            )
                        ),
                        text("; ".join(str(c[k]) for k in ("note", "error") if c.get(k))),
                    ]
                    for c in corrections
                ],
                (0.6, 0.8, 2.6, 1.2, 1, 2),
                note="Corrections and re-posts (version 2 and later) posted for this day after the first.",
            )
        )
    postings = voucher.get("postings") or []
    out.append(
        Section(
            "Voucher",
            ["Row", "Account", "VAT type", "Description", "Amount (NOK)"],
            [
                [text(p.get(k)) for k in ("row", "account", "vat_type", "description", "amount")]
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
            foot=["", "", "", "Sum", text(voucher.get("sum"))] if postings else None,
        )
    )
    return out
