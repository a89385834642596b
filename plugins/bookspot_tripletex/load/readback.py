"""Read-back of one voucher: what Tripletex holds under a posted row's id against what was posted.

Used right after each post (on the answer that put the voucher in the ledger) and by reconciliation.
A difference is said in words: the voucher gone, reversed by someone else, postings not those of the
journal, or net amounts not balancing.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.load.errors import ReconcileMismatch
from bookspot_tripletex.load.protocol import VOUCHER_FIELDS
from bookspot_tripletex.load.state import VoucherRow


def ore(value: Any) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def ledger_lines(voucher: dict[str, Any]) -> Counter[tuple[int, int, int]]:
    """(account, VAT type, gross øre) of a voucher's own rows (row 0 is Tripletex's VAT rows)."""
    held: Counter[tuple[int, int, int]] = Counter()
    for p in voucher.get("postings") or []:
        if int(p.get("row") or 0) >= 1:
            vat = (p.get("vatType") or {}).get("number")
            held[(int(p["account"]["number"]), int(vat or 0), ore(p["amountGross"]))] += 1
    return held


def differences(row: VoucherRow, voucher: dict[str, Any] | None) -> list[str]:
    """What differs between a posted row and the voucher Tripletex holds under its id, in words."""
    ext = row.external_number
    if voucher is None:
        return [f"{ext}: voucher {row.tripletex_voucher_id} is gone from Tripletex (deleted there)"]
    problems = []
    if voucher.get("reverseVoucher") and row.status == VoucherStatus.POSTED:
        problems.append(f"{ext}: voucher {voucher['id']} was reversed in Tripletex by someone else")
    net_total = sum(ore(p.get("amount", p.get("amountGross", 0))) for p in voucher.get("postings") or [])
    held = ledger_lines(voucher)
    wanted = Counter((p.account, p.vat_type, p.amount_ore) for p in row.postings)
    if held != wanted:
        missing = wanted - held
        extra = held - wanted
        bits = [
            f"missing {_words(missing)}" if missing else "",
            f"unexpected {_words(extra)}" if extra else "",
        ]
        problems.append(f"{ext}: postings differ from the journal: " + "; ".join(b for b in bits if b))
    if net_total != 0:
        problems.append(
            f"{ext}: net amounts with Tripletex's VAT rows sum to {net_total / 100:.2f} NOK, not 0"
        )
    return problems


def _words(lines: Counter[tuple[int, int, int]]) -> str:
    return ", ".join(
        f"account {acc} VAT {vat} {amount / 100:.2f} NOK" + (f" ×{n}" if n > 1 else "")
        for (acc, vat, amount), n in sorted(lines.items())
    )


def check_voucher(engine: Engine, client: Any, row: VoucherRow, answer: dict[str, Any] | None = None) -> None:
    """Read one just-posted voucher back; raise ReconcileMismatch if it is not what was posted.

    `answer`: the voucher as Tripletex answered the call that put it in the ledger (`PUT :sendToLedger`,
    or the read by id or listing that found it there), with its postings: that answer is the read-back,
    no `GET` by id is made. Without an answer carrying this voucher's postings, it is read by id."""
    assert row.tripletex_voucher_id is not None
    voucher = answer if _readable(answer, row) else None
    if voucher is None:
        voucher = client.get_voucher(row.tripletex_voucher_id, VOUCHER_FIELDS)
    problems = differences(row, voucher)
    if problems:
        raise ReconcileMismatch("; ".join(problems))


def _readable(answer: dict[str, Any] | None, row: VoucherRow) -> bool:
    return (
        isinstance(answer, dict)
        and isinstance(answer.get("postings"), list)
        and answer.get("id") is not None
        and int(answer["id"]) == row.tripletex_voucher_id
    )
