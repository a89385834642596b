"""Voucher rules as Tripletex applies them: validation, VAT derivation, numbering, reversal."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .chart import VatTypeDef
from .errors import ApiError, validation_failed, validation_message
from .state import Attachment, Company, EmulatorState, Posting, Voucher

CENT = Decimal("0.01")
NULL = "Kan ikke være null."
ROW0 = (
    "Posteringene på rad 0 (guiRow 0) er systemgenererte og kan ikke opprettes eller endres "
    "på utsiden av Tripletex."
)
NEEDS = {
    "CUSTOMER": ("customer", "en kunde"),
    "VENDOR": ("supplier", "en leverandør"),
    "EMPLOYEE": ("employee", "en ansatt"),
}
ATTACHMENT_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
}


def closed_message(day: date) -> str:
    return f"Perioden for {day.isoformat()} er stengt. Bilag kan ikke registreres i en stengt periode."


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def net_of(gross: Decimal, percentage: Decimal) -> Decimal:
    """Net amount of a gross amount at `percentage` VAT, rounded half up to øre."""
    return money(gross * 100 / (100 + percentage))


def _ref_id(value: Any) -> int | None:
    if isinstance(value, dict) and value.get("id") is not None:
        try:
            return int(value["id"])
        except (TypeError, ValueError):
            return None
    return None


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class _Checker:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def fail(self, field: str | None, message: str, path: str | None = None) -> None:
        self.messages.append(validation_message(field, message, path))


def create_voucher(state: EmulatorState, company: Company, body: Any, send_to_ledger: bool) -> Voucher:
    """Validate a POST /ledger/voucher body and store the voucher with its derived VAT postings."""
    if not isinstance(body, dict):
        raise ApiError(422, 16000, "Mapping failed: the body must be a Voucher object.")
    chk = _Checker()
    voucher_date = None
    if body.get("date") in (None, ""):
        chk.fail("date", NULL)
    else:
        voucher_date = _parse_date(body["date"])
        if voucher_date is None:
            chk.fail("date", f"Ugyldig dato: {body['date']}.")
    description = body.get("description")
    if description in (None, ""):
        chk.fail("description", NULL)
    external = body.get("externalVoucherNumber")
    if external is not None and len(str(external)) > 70:
        chk.fail("externalVoucherNumber", "Verdien er for lang. Maksimal lengde er 70.")
    voucher_type_id = _ref_id(body.get("voucherType"))
    if voucher_type_id is not None and voucher_type_id not in company.voucher_types:
        chk.fail("voucherType", f"Bilagstypen med id {voucher_type_id} finnes ikke.")
    raw_postings = body.get("postings")
    if not isinstance(raw_postings, list) or not raw_postings:
        chk.fail("postings", "Et bilag kan ikke registreres uten posteringer.")
        raw_postings = []
    parsed = [_check_posting(state, company, chk, i, p, voucher_date) for i, p in enumerate(raw_postings)]
    postings = [p for p in parsed if p is not None]
    if not chk.messages:
        _check_balance(chk, postings)
    dates = {voucher_date} | {p["date"] for p in postings}
    for day in sorted(d for d in dates if d is not None):
        if company.closed_on(day):
            chk.fail("date", closed_message(day))
    if chk.messages:
        raise validation_failed(chk.messages)
    assert voucher_date is not None
    with state.lock:
        stored = _store_postings(state, company, postings)
        voucher = Voucher(
            id=state.next_id(),
            date=voucher_date,
            description=str(description),
            number=0,
            temp_number=0,
            year=voucher_date.year,
            postings=stored,
            external_voucher_number=None if external is None else str(external),
            voucher_type_id=voucher_type_id,
        )
        _number(company, voucher, send_to_ledger)
        company.vouchers[voucher.id] = voucher
        if send_to_ledger:
            state.mark_committed(voucher.id)
        else:
            state.mark_written(voucher.id)
        return voucher


def is_draft(voucher: Voucher) -> bool:
    """A voucher not sent to the ledger: it has a temporary number only and stays out of the ledger."""
    return voucher.number == 0


def send_to_ledger(state: EmulatorState, company: Company, voucher: Voucher, version: int | None) -> Voucher:
    """`PUT /ledger/voucher/{id}/:sendToLedger`: number a draft; a stale `version` is refused (409)."""
    with state.lock:
        if version is not None and version != voucher.version:
            raise ApiError(
                409,
                8000,
                f"Bilaget er endret (versjon {voucher.version}, ikke {version}); last det inn på nytt.",
            )
        if not is_draft(voucher):
            raise validation_failed([validation_message("voucher", "Bilaget er allerede bokført.")])
        for day in sorted({voucher.date} | {p.date for p in voucher.postings}):
            if company.closed_on(day):
                raise validation_failed([validation_message("date", closed_message(day))])
        _number(company, voucher, True)
        voucher.version += 1
        state.mark_committed(voucher.id)
        return voucher


def delete_draft(state: EmulatorState, company: Company, voucher: Voucher) -> None:
    """`DELETE /ledger/voucher/{id}`: only a draft can go; a voucher in the ledger must be reversed."""
    with state.lock:
        if not is_draft(voucher):
            raise validation_failed(
                [validation_message("voucher", "Bilaget er bokført og kan ikke slettes; tilbakefør det.")]
            )
        del company.vouchers[voucher.id]


def _number(company: Company, voucher: Voucher, send_to_ledger: bool) -> None:
    if send_to_ledger:
        voucher.number = company.next_number.get(voucher.year, 1)
        company.next_number[voucher.year] = voucher.number + 1
    else:
        voucher.temp_number = company.next_temp_number
        company.next_temp_number += 1


def _check_posting(
    state: EmulatorState, company: Company, chk: _Checker, i: int, raw: Any, voucher_date: date | None
) -> dict[str, Any] | None:
    path = f"postings[{i}]"
    if not isinstance(raw, dict):
        chk.fail("postings", "Ugyldig postering.", path)
        return None
    before = len(chk.messages)
    row = raw.get("row")
    if row is None:
        chk.fail("postings.row", NULL, f"{path}.row")
    elif not isinstance(row, int) or isinstance(row, bool) or row < 0:
        chk.fail("postings.row", "Ugyldig radnummer.", f"{path}.row")
    elif row == 0:
        chk.fail("postings.row", ROW0, f"{path}.row")
    day = voucher_date
    if raw.get("date") not in (None, ""):
        day = _parse_date(raw["date"])
        if day is None:
            chk.fail("postings.date", f"Ugyldig dato: {raw['date']}.", f"{path}.date")
    gross = _decimal(raw.get("amountGross"))
    if raw.get("amountGross") is None:
        chk.fail("postings.amountGross", NULL, f"{path}.amountGross")
    elif gross is None:
        chk.fail("postings.amountGross", "Ugyldig beløp.", f"{path}.amountGross")
    currency_id = _ref_id(raw.get("currency"))
    gross_currency = _decimal(raw.get("amountGrossCurrency"))
    if gross is not None and gross_currency is not None and currency_id in (None, 1):
        if money(gross_currency) != money(gross):
            chk.fail(
                "postings.amountGrossCurrency",
                "Beløp i valuta må være lik beløp når valuta er NOK.",
                f"{path}.amountGrossCurrency",
            )
    account = _check_account(company, chk, raw, path)
    vat = _check_vat(state, company, chk, raw, path)
    if account is not None and vat is not None:
        _check_account_rules(company, chk, raw, path, account, vat)
    if len(chk.messages) > before or gross is None or account is None or vat is None:
        return None
    return {
        "row": row,
        "date": day,
        "description": str(raw.get("description") or ""),
        "account": account,
        "vat": vat,
        "gross": money(gross),
        "refs": {
            k: rid
            for k in ("customer", "supplier", "employee", "department", "project", "product")
            if (rid := _ref_id(raw.get(k))) is not None
        },
    }


def _check_account(company: Company, chk: _Checker, raw: dict[str, Any], path: str) -> Any:
    account_ref = raw.get("account")
    if not isinstance(account_ref, dict):
        chk.fail("postings.account", NULL, f"{path}.account")
        return None
    account_id = _ref_id(account_ref)
    if account_id is None:
        chk.fail("postings.account.name", NULL, f"{path}.account.name")
        return None
    account = company.accounts.get(account_id)
    if account is None:
        chk.fail("postings.account", f"Kontoen med id {account_id} finnes ikke.", f"{path}.account.id")
        return None
    return account


def _check_vat(state: EmulatorState, company: Company, chk: _Checker, raw: dict[str, Any], path: str) -> Any:
    vat_ref = raw.get("vatType")
    if vat_ref is None:
        return state.vat_by_number("0")
    vat_id = _ref_id(vat_ref)
    vat = state.vat_types.get(vat_id) if vat_id is not None else None
    if vat is None:
        chk.fail("postings.vatType", f"Ugyldig mva-kode (id {vat_id}).", f"{path}.vatType.id")
        return None
    if not company.vat_enabled(vat):
        chk.fail(
            "postings.vatType", f"Mva-kode {vat.number} er ikke aktivert for firmaet.", f"{path}.vatType.id"
        )
        return None
    return vat


def _check_account_rules(
    company: Company, chk: _Checker, raw: dict[str, Any], path: str, account: Any, vat: VatTypeDef
) -> None:
    spec = account.spec
    label = f"{spec.number} {spec.name}"
    if spec.is_inactive:
        chk.fail("postings.account", f"Kontoen {label} er inaktiv og kan ikke brukes.", f"{path}.account.id")
    if spec.vat_locked and spec.vat_number is not None and vat.number != spec.vat_number:
        chk.fail(
            "postings.vatType",
            f"Kontoen {label} er låst til mva-kode {spec.vat_number}.",
            f"{path}.vatType.id",
        )
    elif spec.legal_vat_numbers is not None and vat.number not in spec.legal_vat_numbers:
        chk.fail(
            "postings.vatType",
            f"Mva-kode {vat.number} er ikke gyldig for kontoen {label}.",
            f"{path}.vatType.id",
        )
    needed = NEEDS.get(spec.ledger_type)
    if needed and _ref_id(raw.get(needed[0])) is None:
        chk.fail(f"postings.{needed[0]}", f"Kontoen {label} krever {needed[1]}.", f"{path}.{needed[0]}")
    if spec.requires_department and _ref_id(raw.get("department")) is None:
        chk.fail("postings.department", f"Kontoen {label} krever avdeling.", f"{path}.department")
    if spec.requires_project and _ref_id(raw.get("project")) is None:
        chk.fail("postings.project", f"Kontoen {label} krever prosjekt.", f"{path}.project")


def _check_balance(chk: _Checker, postings: list[dict[str, Any]]) -> None:
    per_date: dict[date, Decimal] = defaultdict(Decimal)
    per_row: dict[int, list[Decimal]] = defaultdict(list)
    for p in postings:
        per_date[p["date"]] += p["gross"]
        per_row[p["row"]].append(p["gross"])
    for day, total in sorted(per_date.items()):
        if total != 0:
            chk.fail("postings", f"Summen av posteringene for {day.isoformat()} er ikke lik 0.")
    for row, amounts in sorted(per_row.items()):
        if len(amounts) > 1 and sum(amounts) != 0 and len(per_row) > 1:
            chk.fail("postings.row", f"Summen av posteringene på rad {row} er ikke lik 0.")


def _store_postings(state: EmulatorState, company: Company, postings: list[dict[str, Any]]) -> list[Posting]:
    stored: list[Posting] = []
    system: list[Posting] = []
    for p in postings:
        vat: VatTypeDef = p["vat"]
        gross: Decimal = p["gross"]
        net = gross
        if vat.percentage and vat.vat_account:
            net = net_of(gross, vat.percentage)
            vat_account = company.account_by_number(vat.vat_account)
            if net != gross and vat_account is not None:
                system.append(
                    Posting(
                        id=state.next_id(),
                        row=0,
                        date=p["date"],
                        description=p["description"],
                        account_id=vat_account.id,
                        vat_type_id=vat.id,
                        amount=gross - net,
                        amount_gross=gross - net,
                        system_generated=True,
                    )
                )
        stored.append(
            Posting(
                id=state.next_id(),
                row=p["row"],
                date=p["date"],
                description=p["description"],
                account_id=p["account"].id,
                vat_type_id=vat.id,
                amount=net,
                amount_gross=gross,
                refs=p["refs"],
            )
        )
    return system + stored


def reverse_voucher(state: EmulatorState, company: Company, voucher: Voucher, day: date) -> Voucher:
    """Book the reversal of `voucher` on `day` and link both ways through `reverseVoucher`."""
    if voucher.reverse_voucher_id is not None:
        raise validation_failed([validation_message("reverseVoucher", "Bilaget er allerede tilbakeført.")])
    if is_draft(voucher):
        raise validation_failed([validation_message("voucher", "Et foreløpig bilag kan ikke tilbakeføres.")])
    if company.closed_on(day):
        raise validation_failed([validation_message("date", closed_message(day))])
    with state.lock:
        postings = [
            Posting(
                id=state.next_id(),
                row=p.row,
                date=day,
                description=p.description,
                account_id=p.account_id,
                vat_type_id=p.vat_type_id,
                amount=-p.amount,
                amount_gross=-p.amount_gross,
                system_generated=p.system_generated,
                refs=dict(p.refs),
            )
            for p in voucher.postings
        ]
        reversal = Voucher(
            id=state.next_id(),
            date=day,
            description=f"Tilbakeføring av bilag {voucher.number}-{voucher.year}",
            number=0,
            temp_number=0,
            year=day.year,
            postings=postings,
            external_voucher_number=voucher.external_voucher_number,
            voucher_type_id=voucher.voucher_type_id,
            reverse_voucher_id=voucher.id,
        )
        _number(company, reversal, True)
        company.vouchers[reversal.id] = reversal
        state.mark_committed(reversal.id)
        voucher.reverse_voucher_id = reversal.id
        voucher.version += 1
        return reversal


def attach(state: EmulatorState, voucher: Voucher, file_name: str, mime_type: str, data: bytes) -> Voucher:
    """Store an attachment (PDF, PNG, JPEG or TIFF) on a voucher."""
    mime = (mime_type or "").split(";")[0].strip().lower()
    if mime in ("", "application/octet-stream"):
        mime = next((m for m, ext in ATTACHMENT_TYPES.items() if file_name.lower().endswith(ext)), mime)
        if file_name.lower().endswith((".jpeg", ".tiff")):
            mime = "image/jpeg" if file_name.lower().endswith(".jpeg") else "image/tiff"
    if mime not in ATTACHMENT_TYPES:
        raise validation_failed([validation_message("file", f"Filtypen {mime or 'ukjent'} støttes ikke.")])
    if not data:
        raise validation_failed([validation_message("file", "Filen er tom.")])
    with state.lock:
        voucher.attachment = Attachment(state.next_id(), file_name or "vedlegg", mime, data)
        voucher.version += 1
        return voucher
