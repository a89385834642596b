"""Voucher request bodies for POST /ledger/voucher, and JSON that writes Decimals as exact numbers."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from .errors import PayloadError

MAX_EXTERNAL_NUMBER = 70


class PostingLike(Protocol):
    row: int
    account: int
    vat_type: int
    amount_ore: int
    description: str


class VoucherLike(Protocol):
    date: datetime.date
    description: str
    external_number: str
    postings: Sequence[PostingLike]


def ore_to_nok(ore: int) -> Decimal:
    """Integer øre as NOK with exactly two decimals: 164627 -> Decimal('1646.27')."""
    if isinstance(ore, bool) or not isinstance(ore, int):
        raise PayloadError(f"amount must be integer øre, got {ore!r}")
    return Decimal(ore).scaleb(-2)


def voucher_payload(
    voucher: VoucherLike,
    account_ids: Mapping[int, int],
    vat_type_ids: Mapping[int, int],
    voucher_type_id: int | None = None,
) -> dict[str, Any]:
    """The body of POST /ledger/voucher for `voucher`, with account and VAT type numbers resolved to ids."""
    external = voucher.external_number
    if not external or len(external) > MAX_EXTERNAL_NUMBER:
        raise PayloadError(
            f"externalVoucherNumber must be 1 to {MAX_EXTERNAL_NUMBER} characters, got {external!r}"
        )
    if not voucher.description:
        raise PayloadError(f"voucher {external} needs a description")
    if not voucher.postings:
        raise PayloadError(f"voucher {external} has no postings")
    date = voucher.date.isoformat()
    postings = []
    rows: set[int] = set()
    total = 0
    for posting in voucher.postings:
        if isinstance(posting.row, bool) or not isinstance(posting.row, int) or posting.row < 1:
            raise PayloadError(f"voucher {external}: posting rows start at 1, got {posting.row!r}")
        if posting.row in rows:
            raise PayloadError(f"voucher {external}: row {posting.row} appears twice")
        rows.add(posting.row)
        if posting.account not in account_ids:
            raise PayloadError(
                f"voucher {external} row {posting.row}: account {posting.account} "
                "was not found in the Tripletex chart of accounts"
            )
        if posting.vat_type not in vat_type_ids:
            raise PayloadError(
                f"voucher {external} row {posting.row}: VAT code {posting.vat_type} "
                f"(account {posting.account}) is not available in the Tripletex company"
            )
        amount = ore_to_nok(posting.amount_ore)
        total += posting.amount_ore
        postings.append(
            {
                "row": posting.row,
                "date": date,
                "description": posting.description,
                "account": {"id": account_ids[posting.account]},
                "vatType": {"id": vat_type_ids[posting.vat_type]},
                "amountGross": amount,
                "amountGrossCurrency": amount,
            }
        )
    if total != 0:
        raise PayloadError(
            f"voucher {external} does not balance: its postings sum to {ore_to_nok(total)} NOK"
        )
    body: dict[str, Any] = {
        "date": date,
        "description": voucher.description,
        "externalVoucherNumber": external,
        "postings": postings,
    }
    if voucher_type_id is not None:
        body["voucherType"] = {"id": voucher_type_id}
    return body


def dumps(value: Any) -> str:
    """JSON text in which a Decimal is written as a plain number (1646.27), never through a float."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PayloadError(f"cannot send {value} to Tripletex")
        return format(value, "f")
    if isinstance(value, float):
        raise PayloadError(f"refusing to send a float ({value!r}) to Tripletex; use Decimal")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, datetime.date):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)
