"""The voucher of one tenant-day as the pipeline sees it: account and VAT type numbers, øre."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

from bookspot_tripletex.domain import MAX_EXTERNAL_NUMBER, external_number  # noqa: F401  (re-exported)
from bookspot_tripletex.money import format_nok


@dataclass(frozen=True)
class JournalLine:
    transaction_id: str
    line_no: int
    entry: str
    account_type: str
    vat_rate: str | None
    amount_ore: int
    vat_ore: int
    payment_method: str
    account_number: int | None
    sale_vat_rate: str | None = None
    """Deferral and release legs (VAT type 0): the VAT rate of the sale whose revenue they move."""
    sale_vat_type: int | None = None
    """... and its Tripletex VAT type under the payment day's mapping."""

    def as_record(self) -> dict[str, Any]:
        """The line as JSON-ready data (every field is a plain value, so no deep copy is needed)."""
        return {name: getattr(self, name) for name in LINE_FIELDS}


LINE_FIELDS = tuple(f.name for f in fields(JournalLine))


@dataclass(frozen=True)
class Posting:
    row: int
    account: int
    vat_type: int
    amount_ore: int
    description: str
    account_types: tuple[str, ...] = ()
    vat_rate: str | None = None

    def as_preview(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "account": self.account,
            "vatType": self.vat_type,
            "amountGross": format_nok(self.amount_ore),
            "description": self.description,
        }

    def as_record(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "account": self.account,
            "vat_type": self.vat_type,
            "amount_ore": self.amount_ore,
            "description": self.description,
            "account_types": list(self.account_types),
            "vat_rate": self.vat_rate,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Posting:
        return cls(
            row=data["row"],
            account=data["account"],
            vat_type=data["vat_type"],
            amount_ore=data["amount_ore"],
            description=data["description"],
            account_types=tuple(data.get("account_types", ())),
            vat_rate=data.get("vat_rate"),
        )


@dataclass(frozen=True)
class Voucher:
    tenant: str
    date: dt.date
    version: int
    description: str
    external_number: str
    postings: tuple[Posting, ...]
    mapping_version_id: int
    mapping_valid_from: dt.date

    @property
    def balance_ore(self) -> int:
        return sum(p.amount_ore for p in self.postings)

    def as_preview(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "description": self.description,
            "externalVoucherNumber": self.external_number,
            "postings": [p.as_preview() for p in self.postings],
        }


@dataclass
class DayJournal:
    """Everything known about one tenant-day before validation: lines, voucher, why it is held."""

    tenant: str
    date: dt.date
    status: str
    lines: list[JournalLine] = field(default_factory=list)
    voucher: Voucher | None = None
    mapping_version_id: int | None = None
    mapping_valid_from: dt.date | None = None
    missing_account_types: list[str] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    transactions: int = 0

    def as_preview(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tenant": self.tenant,
            "date": self.date.isoformat(),
            "status": self.status,
            "mapping_valid_from": self.mapping_valid_from.isoformat() if self.mapping_valid_from else None,
            "voucher": self.voucher.as_preview() if self.voucher else None,
            "quarantined": self.quarantined,
        }
        if self.missing_account_types:
            out["missing_mappings"] = self.missing_account_types
        return out

    def as_record(self) -> dict[str, Any]:
        """The whole journal as JSON-ready data (kept with its voucher row; `from_record` reads it)."""
        voucher = self.voucher
        return {
            "tenant": self.tenant,
            "date": self.date.isoformat(),
            "status": self.status,
            "lines": [line.as_record() for line in self.lines],
            "voucher": None
            if voucher is None
            else {
                "version": voucher.version,
                "description": voucher.description,
                "external_number": voucher.external_number,
                "postings": [p.as_record() for p in voucher.postings],
            },
            "mapping_version_id": self.mapping_version_id,
            "mapping_valid_from": self.mapping_valid_from.isoformat() if self.mapping_valid_from else None,
            "missing_account_types": list(self.missing_account_types),
            "quarantined": list(self.quarantined),
            "transactions": self.transactions,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> DayJournal:
        day = dt.date.fromisoformat(data["date"])
        valid_from = dt.date.fromisoformat(data["mapping_valid_from"]) if data["mapping_valid_from"] else None
        stored = data["voucher"]
        voucher = None
        if stored is not None:
            assert data["mapping_version_id"] is not None and valid_from is not None
            voucher = Voucher(
                tenant=data["tenant"],
                date=day,
                version=stored["version"],
                description=stored["description"],
                external_number=stored["external_number"],
                postings=tuple(Posting.from_record(p) for p in stored["postings"]),
                mapping_version_id=data["mapping_version_id"],
                mapping_valid_from=valid_from,
            )
        return cls(
            tenant=data["tenant"],
            date=day,
            status=data["status"],
            lines=[JournalLine(**line) for line in data["lines"]],
            voucher=voucher,
            mapping_version_id=data["mapping_version_id"],
            mapping_valid_from=valid_from,
            missing_account_types=list(data["missing_account_types"]),
            quarantined=list(data["quarantined"]),
            transactions=data["transactions"],
        )
