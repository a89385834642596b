"""Activation check: does the API key work, does the tenant's voucher type exist, and can every mapped
account take the postings it will get."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .client import TripletexClient
from .errors import AuthError, PermissionDenied, ResultCapExceeded, TripletexError

SUBLEDGERS = {
    "CUSTOMER": "a customer",
    "VENDOR": "a supplier",
    "EMPLOYEE": "an employee",
    "ASSET": "an asset",
}
OVERRIDE_PREFIXES = ("product.", "category.")
NO_VAT = 0
WHO_AM_I_FIELDS = "*,company(id,name)"

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding, worded for the customer; errors block activation, warnings do not."""

    message: str
    severity: Severity = "error"
    account_number: int | None = None
    account_types: tuple[str, ...] = ()


@dataclass
class ActivationReport:
    """The result of `check_activation`; `account_ids` / `vat_type_ids` map numbers to this company's ids."""

    api_key_ok: bool = False
    company: str | None = None
    company_id: int | None = None
    problems: list[Problem] = field(default_factory=list)
    account_ids: dict[int, int] = field(default_factory=dict)
    vat_type_ids: dict[int, int] = field(default_factory=dict)
    voucher_type_ids: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.api_key_ok and not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def messages(self) -> list[str]:
        return [p.message for p in self.problems]

    def __str__(self) -> str:
        lines = [
            f"The API key works ({self.company})." if self.api_key_ok else "The API key does not work.",
        ]
        lines += [f"{p.severity.upper()}: {p.message}" for p in self.problems]
        lines.append(
            "Ready to post." if self.ok else "Not ready: fix the errors above in Tripletex or the mapping."
        )
        return "\n".join(lines)


def check_activation(
    client: TripletexClient,
    mapping_accounts: Mapping[str, int],
    vat_types: Mapping[str, int],
    expected_company_id: int | None = None,
    voucher_type: str | None = None,
) -> ActivationReport:
    """Check the API key and each mapped account against the company's chart and VAT codes.

    `mapping_accounts` maps account types (`sales.25`, `settlement.stripe`, `product.kayak`, ...) to
    account numbers; `vat_types` maps VAT rates (`25`, `15`, `12`, `0`, `exempt`) to VAT code numbers.
    With `expected_company_id`, a key of another company is refused before anything else is checked.
    `voucher_type`: the tenant file's voucher type name, which must exist in the company.
    """
    report = ActivationReport()
    try:
        me = client.who_am_i(fields=WHO_AM_I_FIELDS)
    except AuthError as exc:
        report.problems.append(
            Problem(
                "Tripletex did not accept the API key: create a new API key for BookSpot in Tripletex "
                f"and enter it again ({_reason(exc)})."
            )
        )
        return report
    except TripletexError as exc:
        report.problems.append(
            Problem(f"Could not check the API key: Tripletex did not answer ({_reason(exc)}).")
        )
        return report
    report.api_key_ok = True
    report.company = _company(me)
    report.company_id = _int(me.get("companyId"))
    if expected_company_id is not None and report.company_id not in (None, int(expected_company_id)):
        report.problems.append(
            Problem(
                f"The API key belongs to company {report.company_id}, but this tenant's Tripletex company is "
                f"{expected_company_id}; create the API key in the right company."
            )
        )
        return report

    try:
        all_vat_types = list(client.iter_vat_types())
        chart, whole_chart = _chart(client, mapping_accounts.values())
        found_type = client.voucher_type_by_name(voucher_type) if voucher_type else None
    except PermissionDenied as exc:
        report.problems.append(
            Problem(
                "The API key works but may not read the chart of accounts or VAT codes; give the "
                f"employee behind it access to accounting ({_reason(exc)})."
            )
        )
        return report

    if voucher_type and (found_type is None or found_type.get("id") is None):
        report.problems.append(
            Problem(
                f"Voucher type {voucher_type!r} (voucher_type in the tenant file) does not exist in your "
                "Tripletex company; create it in Tripletex or correct the tenant file."
            )
        )
    elif voucher_type and found_type is not None:
        report.voucher_type_ids[voucher_type] = int(found_type["id"])
    vat_by_number = {n: vt for vt in all_vat_types if (n := _int(vt.get("number"))) is not None}
    vat_number_by_id = {vt.get("id"): n for n, vt in vat_by_number.items()}
    if whole_chart:
        legal_anywhere = {
            vt.get("id") for a in chart for vt in a.get("legalVatTypes") or [] if isinstance(vt, Mapping)
        }
        if legal_anywhere:
            vat_by_number = {n: vt for n, vt in vat_by_number.items() if vt.get("id") in legal_anywhere}
    wanted = {int(n) for n in mapping_accounts.values()}
    accounts = {number: a for a in chart if (number := _int(a.get("number"))) in wanted}
    sales_vat = {rate: int(number) for rate, number in vat_types.items()}
    _check_vat_codes(report, mapping_accounts, sales_vat, vat_by_number)

    by_number: dict[int, list[str]] = {}
    for account_type, number in sorted(mapping_accounts.items()):
        by_number.setdefault(int(number), []).append(account_type)
    for number, types in sorted(by_number.items()):
        account = accounts.get(number)
        if account is None:
            report.problems.append(
                Problem(
                    f"Account {number} ({', '.join(types)}) does not exist in your Tripletex chart; "
                    "create it in Tripletex or choose another account.",
                    account_number=number,
                    account_types=tuple(types),
                )
            )
            continue
        if account.get("id") is not None:
            report.account_ids[number] = int(account["id"])
        _check_account(report, account, number, types, sales_vat, vat_number_by_id)
    return report


def _chart(client: TripletexClient, numbers: Iterable[int]) -> tuple[list[dict[str, Any]], bool]:
    """The whole chart, whose legal VAT lists show which VAT codes are on; only `numbers` if it is huge."""
    try:
        return list(client.iter_accounts()), True
    except ResultCapExceeded:
        return list(client.accounts_by_number(numbers).values()), False


def _check_vat_codes(
    report: ActivationReport,
    mapping_accounts: Mapping[str, int],
    sales_vat: Mapping[str, int],
    vat_by_number: Mapping[int, dict[str, Any]],
) -> None:
    needs: dict[int, list[str]] = {}
    for account_type in sorted(mapping_accounts):
        for number in _carried(account_type, sales_vat) or ():
            needs.setdefault(number, []).append(account_type)
    for rate, number in sorted(sales_vat.items()):
        if number not in needs:
            vat_type = vat_by_number.get(number)
            if vat_type is None:
                report.problems.append(
                    Problem(
                        f"VAT code {number} (mapped for the {rate} rate) is not switched on in your "
                        "Tripletex company; sales at that rate could not be posted.",
                        severity="warning",
                    )
                )
            elif vat_type.get("id") is not None:
                report.vat_type_ids[number] = int(vat_type["id"])
    for number, users in sorted(needs.items()):
        vat_type = vat_by_number.get(number)
        if vat_type is None:
            report.problems.append(
                Problem(
                    f"VAT code {number} is not switched on in your Tripletex company, but {', '.join(users)} "
                    "needs it; switch it on in Tripletex (VAT settings) or change the VAT mapping.",
                    account_types=tuple(users),
                )
            )
        elif vat_type.get("id") is not None:
            report.vat_type_ids[number] = int(vat_type["id"])


def _check_account(
    report: ActivationReport,
    account: Mapping[str, Any],
    number: int,
    types: list[str],
    sales_vat: Mapping[str, int],
    vat_number_by_id: Mapping[Any, int],
) -> None:
    label = f"Account {number}" + (f" '{account['name']}'" if account.get("name") else "")
    used_as = ", ".join(types)

    def add(message: str, severity: Severity = "error", for_types: Iterable[str] = types) -> None:
        report.problems.append(Problem(message, severity, number, tuple(for_types)))

    if account.get("isInactive"):
        add(f"{label} ({used_as}) is inactive; activate it in Tripletex or choose another account.")
    ledger = str(account.get("ledgerType") or "GENERAL").upper()
    if ledger in SUBLEDGERS:
        add(
            f"{label} ({used_as}) requires {SUBLEDGERS[ledger]} on every posting; choose an account "
            "without a customer, supplier or employee link."
        )
    for flag, what in (("requiresDepartment", "a department"), ("requiresProject", "a project")):
        if account.get(flag):
            add(
                f"{label} ({used_as}) requires {what} on every posting, which BookSpot does not set; "
                f"turn that off for the account in Tripletex or choose another account."
            )

    own_vat = _vat_number(account.get("vatType"), vat_number_by_id)
    locked = bool(account.get("vatLocked"))
    legal = {
        n for vt in account.get("legalVatTypes") or [] if (n := _vat_number(vt, vat_number_by_id)) is not None
    }

    def refusal(vat: int) -> str | None:
        if locked and own_vat != vat:
            return f"is locked to VAT code {own_vat}"
        if legal and vat not in legal:
            return f"only allows VAT codes {', '.join(map(str, sorted(legal)))}"
        return None

    for account_type in types:
        carried = _carried(account_type, sales_vat)
        if carried is None:
            rate = account_type.removeprefix("sales.")
            add(
                f"No VAT code is mapped for the {rate} rate, so {account_type} cannot be posted; "
                "add it to the VAT mapping.",
                for_types=[account_type],
            )
            continue
        if not account_type.startswith(OVERRIDE_PREFIXES):
            vat = carried[0]
            reason = refusal(vat)
            if reason:
                add(
                    f"{label} {reason} but {account_type} needs VAT code {vat}"
                    f"{' (no VAT)' if vat == NO_VAT else ''}; choose another account or change the lock in "
                    "Tripletex.",
                    for_types=[account_type],
                )
            continue
        refused = sorted(v for v in set(carried) if refusal(v))
        allowed = sorted(set(carried) - set(refused))
        if not allowed:
            add(
                f"{label} ({account_type}) accepts none of the sales VAT codes "
                f"({', '.join(map(str, sorted(set(carried))))}); its lines would all be refused.",
                for_types=[account_type],
            )
        elif refused:
            add(
                f"{label} ({account_type}) {refusal(refused[0])}: lines of {account_type} sold at "
                f"VAT code {', '.join(map(str, refused))} would be refused by Tripletex.",
                severity="warning",
                for_types=[account_type],
            )


def _carried(account_type: str, sales_vat: Mapping[str, int]) -> list[int] | None:
    """The VAT code numbers an account type's postings carry; None for a sales rate with no mapping."""
    if account_type.startswith("sales."):
        number = sales_vat.get(account_type.removeprefix("sales."))
        return None if number is None else [number]
    if account_type.startswith(OVERRIDE_PREFIXES):
        return sorted(set(sales_vat.values()))
    return [NO_VAT]


def _vat_number(vat_type: Any, number_by_id: Mapping[Any, int]) -> int | None:
    if not isinstance(vat_type, Mapping):
        return None
    number = _int(vat_type.get("number"))
    return number if number is not None else number_by_id.get(vat_type.get("id"))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _company(me: Mapping[str, Any]) -> str:
    company = me.get("company") or {}
    name = company.get("name") if isinstance(company, Mapping) else None
    return f"{name}, company id {me.get('companyId')}" if name else f"company id {me.get('companyId')}"


def _reason(exc: TripletexError) -> str:
    bits = [f"HTTP {exc.status}" if exc.status else type(exc).__name__, exc.message]
    if exc.request_id:
        bits.append(f"request id {exc.request_id}")
    return ", ".join(b for b in bits if b)
