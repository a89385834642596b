"""The demo's check against the worked example: our rows, gross, Tripletex's VAT rows left out."""

import datetime as dt
import json
from pathlib import Path

from bookspot_devkit.demo_report import matches_expected

EXPECTED = json.loads((Path(__file__).parent / "data" / "worked_example.json").read_text(encoding="utf-8"))
DAY = dt.date.fromisoformat(EXPECTED["date"])


def posting(row: int, account: int, vat: int, gross: str, net: str) -> dict:
    return {
        "row": row,
        "account": {"number": account},
        "vatType": {"number": vat},
        "amountGross": gross,
        "amount": net,
    }


def voucher(extra: list[dict] | None = None) -> dict:
    rows = [posting(0, 2700, 3, "-265.80", "-265.80")]
    for i, e in enumerate(EXPECTED["postings"], start=1):
        rows.append(posting(i, e["account"], e["vat_type"], e["amount"], "0"))
    return {"postings": rows + (extra or [])}


def test_the_worked_example_matches_with_the_vat_rows_tripletex_added() -> None:
    assert matches_expected(EXPECTED["tenant"], DAY, [voucher()], EXPECTED)


def test_an_extra_row_of_ours_differs() -> None:
    assert not matches_expected(
        EXPECTED["tenant"], DAY, [voucher([posting(9, 1920, 0, "1.00", "1.00")])], EXPECTED
    )


def test_two_vouchers_for_the_day_differ() -> None:
    assert not matches_expected(EXPECTED["tenant"], DAY, [voucher(), voucher()], EXPECTED)
