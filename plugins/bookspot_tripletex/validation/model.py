"""The report of one tenant-day as data: a pydantic model built from the journal, the validation result
and the voucher's state; the renderers (validation/html.py, validation/pdf.py) only read it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bookspot_tripletex.domain import PAYMENT_METHOD_LABELS
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
from bookspot_tripletex.validation.text import day_text, nok_text

REPORT_FORMAT = 2
LISTED_FAILURES = 10
STATUS_TEXT = {
    "ready": "Ready: the voucher passed every check and will be posted to Tripletex.",
    "awaiting_approval": (
        "Awaiting approval: the voucher passed every check; a person approves it on the review screen "
        "before it is posted to Tripletex."
    ),
    "held": "Held: nothing is posted for this day until the problems below are resolved.",
    "empty": "Empty: no completed transactions on this day, so nothing is posted.",
    "posting": "Posting: the voucher is being sent to Tripletex.",
    "posted": "Posted: the voucher is in Tripletex.",
    "failed": "Failed: Tripletex refused the voucher; nothing is posted for this day.",
}
STATUSES = tuple(STATUS_TEXT)


class Report(BaseModel):
    """One tenant-day's report; money as NOK strings, every field JSON-ready. Extra keys are kept."""

    model_config = ConfigDict(extra="allow")

    report_format: int = REPORT_FORMAT
    tenant: str
    tenant_name: str | None = None
    date: str
    version: int = 1
    status: str
    transactions: int = 0
    mapping: dict[str, Any] = Field(default_factory=dict)
    validation: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    totals: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    vat_derivation: dict[str, Any] = Field(default_factory=dict)
    quarantined: list[dict[str, Any]] = Field(default_factory=list)
    missing_mappings: list[str] = Field(default_factory=list)
    voucher: dict[str, Any] | None = None
    tripletex_number: str | None = None
    tripletex_voucher_id: int | None = None
    posted_at: str | None = None
    tripletex_link: str | None = None
    note: str | None = None
    """What happened to the voucher since (moved, reversed, a duplicate reversed by reconciliation)."""
    held_reason: str | None = None
    corrections: list[dict[str, Any]] = Field(default_factory=list)
    prepayments: list[dict[str, Any]] = Field(default_factory=list)
    """Revenue on delivery: net deferred and released per leg, account and the sale's VAT type."""
    net: list[dict[str, Any]] = Field(default_factory=list)
    generated_at: str = ""
    summary: list[str] = Field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


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
    return PAYMENT_METHOD_LABELS.get(method, method)


def _value(value: Any, unit: str | None) -> str:
    if unit == "ore" and isinstance(value, int) and not isinstance(value, bool):
        return f"{nok_text(value)} NOK"
    return "empty" if value is None else str(value)


def _row_text(row: dict[str, Any]) -> str:
    parts = []
    for key, value in row.items():
        if key.endswith("_ore") and isinstance(value, int) and not isinstance(value, bool):
            parts.append(f"{key.removesuffix('_ore')} {nok_text(value)}")
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


PREPAID_LEGS = {"deferral": "deferred", "release": "delivered"}


def prepayment_rows(journal: DayJournal) -> list[dict[str, Any]]:
    """The day's revenue-on-delivery legs summed per (leg, account, sale's VAT type), debit positive."""
    sums: dict[tuple[str, int | None, str, int | None, str | None], list[int]] = {}
    for line in journal.lines:
        if line.entry in PREPAID_LEGS:
            key = (line.entry, line.account_number, line.account_type, line.sale_vat_type, line.sale_vat_rate)
            total = sums.setdefault(key, [0, 0])
            total[0] += line.amount_ore
            total[1] += 1
    return [
        {
            "leg": PREPAID_LEGS[entry],
            "account": account,
            "account_type": account_type,
            "vat_type": 0,
            "sale_vat_type": vat_type,
            "sale_vat_rate": rate_label(rate),
            "lines": n,
            "amount": nok(amount),
        }
        for (entry, account, account_type, vat_type, rate), (amount, n) in sorted(
            sums.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][3] or 0, kv[0][2])
        )
    ]


def report_status(journal: DayJournal, result: ValidationResult | None) -> str:
    """ready only with a voucher, a complete day and a passing validation; empty when there is nothing."""
    if journal.voucher is None:
        return "held" if journal.status == "held" else "empty"
    if journal.status != "ready" or result is None or not result.success:
        return "held"
    return "ready"


def _status_line(report: Report) -> str:
    if report.status == "posted" and report.tripletex_number:
        return (
            f"Posted: the voucher is in Tripletex as voucher number {report.tripletex_number} "
            f"(id {report.tripletex_voucher_id})."
        )
    return STATUS_TEXT.get(report.status, f"Status: {report.status}.")


def summarise(report: Report) -> list[str]:
    """The report's summary lines, from its own fields (so a refreshed report is summed up again)."""
    out = [_status_line(report)]
    if report.held_reason and report.status in ("held", "failed", "awaiting_approval"):
        out.append(f"Why: {report.held_reason}")
    n = report.transactions
    out.append(f"{n} completed transaction{'s' if n != 1 else ''} on {day_text(report.date)}.")
    voucher = report.voucher
    if voucher is not None:
        postings = len(voucher["postings"])
        out.append(
            f"Voucher {voucher['external_number']}: {postings} postings, sum {nok_text(voucher['sum'])} NOK."
        )
    validation = report.validation
    if report.status == "empty" and voucher is None:
        out.append("No voucher: nothing to validate or post.")
    elif validation is None:
        out.append("Not validated.")
    elif validation["success"]:
        out.append(f"All {validation['checks']} checks passed.")
    else:
        failed = validation["failed"]
        out.append(f"{len(failed)} of {validation['checks']} checks failed: {', '.join(failed)}.")
    for warning in report.warnings:
        out.append(f"Warning (does not hold the day): {warning['message']}")
    if report.quarantined:
        q = len(report.quarantined)
        out.append(
            f"{q} record{'s' if q != 1 else ''} of this day quarantined (reasons below): the day is held "
            "until corrected records arrive from BookSpot or the data team releases the day."
        )
    if report.missing_mappings:
        out.append("Missing mappings: " + ", ".join(report.missing_mappings) + ".")
    if report.corrections:
        out.append(f"{len(report.corrections)} correction voucher(s) for this day (each listed below).")
        out += [_correction_line(c) for c in report.corrections]
    legs = {row["leg"] for row in report.prepayments}
    if legs:
        what = " and ".join(w for w in ("deferred", "delivered") if w in legs)
        out.append(f"Revenue on delivery: prepaid revenue {what} on this day (listed below).")
    return out


CHANGE_WORDS = {"added": "added", "voided": "voided", "removed": "no longer on the day", "changed": "changed"}


def changes_text(changes: list[dict[str, Any]] | None) -> str:
    """The records a correction answers, by id: "added tx_9; voided tx_2"."""
    if changes is None:
        return "not recorded"
    if not changes:
        return "none (the amounts moved without a record changing)"
    groups: dict[str, list[str]] = {}
    for change in changes:
        groups.setdefault(str(change.get("change")), []).append(str(change.get("id")))
    return "; ".join(f"{CHANGE_WORDS.get(k, k)} {', '.join(ids)}" for k, ids in groups.items())


def _correction_line(c: dict[str, Any]) -> str:
    number = f"Tripletex voucher {c['tripletex_number']}" if c.get("tripletex_number") else c.get("status")
    line = f"Correction {c.get('external_number')} ({number}), dated {day_text(c.get('date'))}"
    if c.get("moved"):
        line += f" ({c.get('note') or 'moved: the period was closed'})"
    if c.get("sales_change") is not None:
        line += f": sales {nok_text(c['sales_change'])} NOK"
    return f"{line}; records: {changes_text(c.get('changes'))}."


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def build_report(
    tenant: TenantConfig,
    journal: DayJournal,
    result: ValidationResult | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON report. `extra` is merged on top, e.g. {"status": "posted", "tripletex_number": "12-2026"}."""
    fields: dict[str, Any] = {
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
        "checks": [_check_entry(c) for c in result.checks] if result is not None else [],
        "warnings": list(result.warnings) if result is not None else [],
        "totals": _totals(journal, result),
        "vat_derivation": _vat_derivation(journal, tenant, result),
        "quarantined": [
            {
                "id": q.get("id"),
                "reason": q.get("reason"),
                "rules": q.get("rules", []),
                "raw": _raw_shown(q.get("raw")),
            }
            for q in journal.quarantined
        ],
        "missing_mappings": list(journal.missing_account_types),
        "voucher": _voucher(journal),
        "prepayments": prepayment_rows(journal),
        "generated_at": now_text(),
    }
    if result is not None:
        fields["validation"] = {
            **result.summary(),
            "gx_version": result.gx_version,
            "duration_s": result.duration_s,
        }
    fields.update(extra or {})
    return finish(Report.model_validate(fields))


def finish(report: Report) -> dict[str, Any]:
    """The report with its summary written, as JSON-ready data."""
    report.summary = summarise(report)
    return report.as_json()


RAW_CHARS = 4000
"""Of a quarantined record's raw text, a report keeps this much (staging keeps what it received)."""


def _raw_shown(raw: Any) -> Any:
    if isinstance(raw, str) and len(raw) > RAW_CHARS:
        return f"{raw[:RAW_CHARS]} ... (cut: {len(raw):,} characters in all, kept in staging)"
    return raw
