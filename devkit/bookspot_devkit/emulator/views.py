"""Full JSON objects (Tripletex DTO shapes) for the emulator's records; `fields` trims them later."""

from __future__ import annotations

import calendar
import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

from .chart import VatTypeDef, account_type, balance_group
from .state import Account, Company, EmulatorState, Posting, Session, Voucher

WRITTEN_VOUCHER_FIELDS = "*,postings(*)"
"""What a voucher write answers without `fields`: the voucher and its postings (row 0 included) in full."""

NOK = {"id": 1, "code": "NOK", "description": "Norge", "factor": 1, "displayName": "NOK"}


def ref(base: str, kind: str, obj_id: int) -> dict[str, Any]:
    return {"id": obj_id, "url": f"{base}/{kind}/{obj_id}"}


def vat_type(base: str, vat: VatTypeDef) -> dict[str, Any]:
    return {
        "id": vat.id,
        "version": 0,
        "url": f"{base}/ledger/vatType/{vat.id}",
        "name": vat.name,
        "number": vat.number,
        "displayName": f"{vat.number} {vat.name}",
        "percentage": vat.percentage,
        "deductionPercentage": Decimal("100"),
    }


def account(
    base: str, state: EmulatorState, company: Company, acc: Account, used: set[int] | None = None
) -> dict[str, Any]:
    spec = acc.spec
    default_vat = state.vat_by_number(spec.vat_number or "0")
    legal = (
        spec.legal_vat_numbers
        if spec.legal_vat_numbers is not None
        else [v.number for v in state.vat_types.values()]
    )
    legal_types = [state.vat_by_number(n) for n in legal]
    return {
        "id": acc.id,
        "version": acc.version,
        "url": f"{base}/ledger/account/{acc.id}",
        "number": spec.number,
        "numberPretty": str(spec.number),
        "name": spec.name,
        "description": "",
        "type": account_type(spec.number),
        "legalVatTypes": [vat_type(base, v) for v in legal_types if v is not None and company.vat_enabled(v)],
        "ledgerType": spec.ledger_type,
        "balanceGroup": balance_group(spec.number),
        "vatType": vat_type(base, default_vat) if default_vat else None,
        "vatLocked": spec.vat_locked,
        "currency": dict(NOK, url=f"{base}/currency/1"),
        "isCloseable": spec.ledger_type != "GENERAL",
        "isApplicableForSupplierInvoice": 4000 <= spec.number < 8000,
        "requireReconciliation": spec.is_bank_account,
        "isInactive": spec.is_inactive,
        "isBankAccount": spec.is_bank_account,
        "isInvoiceAccount": False,
        "saftCode": str(spec.number)[:2],
        "groupingCode": str(spec.number)[:2],
        "displayName": f"{spec.number} {spec.name}",
        "requiresDepartment": spec.requires_department,
        "requiresProject": spec.requires_project,
        "isPostingsExist": None if used is None else acc.id in used,
    }


def voucher_type(base: str, type_id: int, name: str) -> dict[str, Any]:
    return {
        "id": type_id,
        "version": 0,
        "url": f"{base}/ledger/voucherType/{type_id}",
        "name": name,
        "displayName": name,
    }


def posting(
    base: str, state: EmulatorState, company: Company, voucher: Voucher, p: Posting
) -> dict[str, Any]:
    acc = company.accounts[p.account_id]
    vat = state.vat_types.get(p.vat_type_id) if p.vat_type_id is not None else None
    out: dict[str, Any] = {
        "id": p.id,
        "version": p.version,
        "url": f"{base}/ledger/posting/{p.id}",
        "voucher": ref(base, "ledger/voucher", voucher.id),
        "date": p.date.isoformat(),
        "description": p.description,
        "account": account(base, state, company, acc),
        "vatType": vat_type(base, vat) if vat else None,
        "amount": p.amount,
        "amountCurrency": p.amount,
        "amountGross": p.amount_gross,
        "amountGrossCurrency": p.amount_gross,
        "currency": dict(NOK, url=f"{base}/currency/1"),
        "row": p.row,
        "systemGenerated": p.system_generated,
        "isVatReadonly": p.system_generated,
        "matched": False,
    }
    for kind, rid in p.refs.items():
        out[kind] = ref(base, kind, rid)
    return out


def voucher(base: str, state: EmulatorState, company: Company, v: Voucher, depth: int = 0) -> dict[str, Any]:
    reverse = company.vouchers.get(v.reverse_voucher_id) if v.reverse_voucher_id else None
    out: dict[str, Any] = {
        "id": v.id,
        "version": v.version,
        "url": f"{base}/ledger/voucher/{v.id}",
        "date": v.date.isoformat(),
        "number": v.number,
        "tempNumber": v.temp_number,
        "year": v.year,
        "description": v.description,
        "voucherType": (
            voucher_type(base, v.voucher_type_id, company.voucher_types[v.voucher_type_id])
            if v.voucher_type_id
            else None
        ),
        "reverseVoucher": (
            voucher(base, state, company, reverse, depth + 1)
            if reverse and depth == 0
            else (ref(base, "ledger/voucher", reverse.id) if reverse else None)
        ),
        "postings": [posting(base, state, company, v, p) for p in v.postings],
        "externalVoucherNumber": v.external_voucher_number,
        "wasAutoMatched": False,
        "displayName": f"{v.number}-{v.year}" if v.number else f"Foreløpig {v.temp_number}",
        "numberAsString": f"{v.number}-{v.year}" if v.number else "",
    }
    if v.attachment is not None:
        out["attachment"] = {
            "id": v.attachment.id,
            "version": 0,
            "url": f"{base}/document/{v.attachment.id}",
            "fileName": v.attachment.file_name,
            "size": len(v.attachment.data),
            "mimeType": v.attachment.mime_type,
        }
    return out


def session_token(base: str, s: Session, show_token: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.id,
        "version": 0,
        "url": f"{base}/token/session/{s.id}",
        "consumerToken": {"id": s.consumer_token_id, "url": f"{base}/token/consumer/{s.consumer_token_id}"},
        "employeeToken": {"id": s.employee_token_id, "url": f"{base}/token/employee/{s.employee_token_id}"},
        "expirationDate": s.expiration_date.isoformat(),
    }
    if show_token:
        out["token"] = s.token
    return out


def who_am_i(base: str, company: Company) -> dict[str, Any]:
    return {
        "employeeId": company.employee_id,
        "actualEmployeeId": company.employee_id,
        "employee": {
            "id": company.employee_id,
            "url": f"{base}/employee/{company.employee_id}",
            "firstName": "BookSpot",
            "lastName": "Integrasjon",
            "displayName": "BookSpot Integrasjon",
        },
        "companyId": company.id,
        "company": {
            "id": company.id,
            "url": f"{base}/company/{company.id}",
            "name": company.name,
            "displayName": company.name,
            "organizationNumber": company.cfg.organization_number,
        },
        "language": "no",
        "loggedInWithConnect": False,
        "employeeIsProxy": False,
    }


def accounting_periods(base: str, company: Company, today: date) -> list[dict[str, Any]]:
    out = []
    for year in range(today.year - 1, today.year + 2):
        for month in range(1, 13):
            start = date(year, month, 1)
            end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            pid = year * 100 + month
            out.append(
                {
                    "id": pid,
                    "version": 0,
                    "url": f"{base}/ledger/accountingPeriod/{pid}",
                    "name": f"{calendar.month_name[month]} {year}",
                    "number": month,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "isClosed": company.closed_between(start, end),
                }
            )
    return out


def version_digest(values: list[dict[str, Any]]) -> str:
    text = ",".join(f"{v.get('id')}:{v.get('version')}" for v in values)
    return hashlib.sha1(text.encode()).hexdigest()
