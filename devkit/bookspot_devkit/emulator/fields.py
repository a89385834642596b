"""The `fields=` filter: parse `*,postings(*,account(id,number))` and project objects onto it."""

from __future__ import annotations

from typing import Any

from .errors import ApiError

FieldTree = dict[str, "FieldTree | None"]

UNLISTED = frozenset({"changes"})

MODEL_FIELDS: dict[str, dict[str, str | None]] = {
    "Account": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "number": None,
        "numberPretty": None,
        "name": None,
        "description": None,
        "type": None,
        "legalVatTypes": "VatType",
        "ledgerType": None,
        "balanceGroup": None,
        "vatType": "VatType",
        "vatLocked": None,
        "currency": "Currency",
        "isCloseable": None,
        "isApplicableForSupplierInvoice": None,
        "requireReconciliation": None,
        "isInactive": None,
        "isBankAccount": None,
        "isInvoiceAccount": None,
        "bankAccountNumber": None,
        "bankAccountCountry": "Country",
        "bankName": None,
        "bankAccountIBAN": None,
        "bankAccountSWIFT": None,
        "saftCode": None,
        "groupingCode": None,
        "displayName": None,
        "requiresDepartment": None,
        "requiresProject": None,
        "invoicingDepartment": "Department",
        "isPostingsExist": None,
        "quantityType1": "ProductUnit",
        "quantityType2": "ProductUnit",
        "department": "Department",
    },
    "VatType": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "name": None,
        "number": None,
        "displayName": None,
        "percentage": None,
        "deductionPercentage": None,
        "parentType": "VatType",
    },
    "Voucher": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "date": None,
        "number": None,
        "tempNumber": None,
        "year": None,
        "description": None,
        "voucherType": "VoucherType",
        "reverseVoucher": "Voucher",
        "postings": "Posting",
        "document": "Document",
        "attachment": "Document",
        "externalVoucherNumber": None,
        "ediDocument": "Document",
        "supplierVoucherType": None,
        "wasAutoMatched": None,
        "vendorInvoiceNumber": None,
        "displayName": None,
        "numberAsString": None,
    },
    "Posting": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "voucher": "Voucher",
        "date": None,
        "description": None,
        "account": "Account",
        "amortizationAccount": "Account",
        "amortizationStartDate": None,
        "amortizationEndDate": None,
        "customer": "Customer",
        "supplier": "Supplier",
        "employee": "Employee",
        "project": "Project",
        "product": "Product",
        "department": "Department",
        "vatType": "VatType",
        "amount": None,
        "amountCurrency": None,
        "amountGross": None,
        "amountGrossCurrency": None,
        "currency": "Currency",
        "closeGroup": "CloseGroup",
        "invoiceNumber": None,
        "termOfPayment": None,
        "row": None,
        "type": None,
        "externalRef": None,
        "systemGenerated": None,
        "taxTransactionType": None,
        "taxTransactionTypeId": None,
        "matched": None,
        "quantityAmount1": None,
        "quantityType1": "ProductUnit",
        "quantityAmount2": None,
        "quantityType2": "ProductUnit",
        "isVatReadonly": None,
        "isAmountVatClosed": None,
        "postingRuleId": None,
        "freeAccountingDimension1": "AccountingDimensionValue",
        "freeAccountingDimension2": "AccountingDimensionValue",
        "freeAccountingDimension3": "AccountingDimensionValue",
        "asset": "Asset",
    },
    "VoucherType": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "name": None,
        "displayName": None,
    },
    "Document": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "fileName": None,
        "size": None,
        "mimeType": None,
    },
    "SessionToken": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "consumerToken": "ConsumerToken",
        "employeeToken": "EmployeeToken",
        "expirationDate": None,
        "token": None,
    },
    "ConsumerToken": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "apiConsumer": "ApiConsumer",
        "token": None,
        "expirationDate": None,
    },
    "EmployeeToken": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "employee": "Employee",
        "apiConsumer": "ApiConsumer",
        "token": None,
        "expirationDate": None,
    },
    "LoggedInUserInfo": {
        "employeeId": None,
        "actualEmployeeId": None,
        "employee": "Employee",
        "companyId": None,
        "company": "Company",
        "language": None,
        "loggedInWithConnect": None,
        "employeeIsProxy": None,
    },
    "Employee": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "firstName": None,
        "lastName": None,
        "displayName": None,
        "employeeNumber": None,
        "dateOfBirth": None,
        "email": None,
        "phoneNumberMobileCountry": "Country",
        "phoneNumberMobile": None,
        "phoneNumberHome": None,
        "phoneNumberWork": None,
        "nationalIdentityNumber": None,
        "dnumber": None,
        "internationalId": "InternationalId",
        "bankAccountNumber": None,
        "iban": None,
        "bic": None,
        "creditorBankCountryId": None,
        "usesAbroadPayment": None,
        "userType": None,
        "allowInformationRegistration": None,
        "isContact": None,
        "isProxy": None,
        "comments": None,
        "address": "Address",
        "department": "Department",
        "employments": "Employment",
        "holidayAllowanceEarned": "HolidayAllowanceEarned",
        "employeeCategory": "EmployeeCategory",
        "isAuthProjectOverviewURL": None,
        "pictureId": None,
        "companyId": None,
        "vismaConnect2FAactive": None,
    },
    "Company": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "name": None,
        "displayName": None,
        "startDate": None,
        "endDate": None,
        "organizationNumber": None,
        "email": None,
        "phoneNumber": None,
        "phoneNumberMobile": None,
        "faxNumber": None,
        "address": "Address",
        "type": None,
        "currency": "Currency",
        "accountantOrSimilar": None,
        "companyMigration": None,
        "invoiceShowDeliveryDate": None,
    },
    "Currency": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "code": None,
        "description": None,
        "factor": None,
        "displayName": None,
        "isDisabled": None,
    },
    "AccountingPeriod": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "name": None,
        "number": None,
        "start": None,
        "end": None,
        "isClosed": None,
        "checkLedgerLogEmployeeName": None,
        "checkLedgerLogEmployeePictureId": None,
        "checkLedgerLogTime": None,
        "checkWageLogEmployeeName": None,
        "checkWageLogEmployeePictureId": None,
        "checkWageLogTime": None,
    },
    "Change": {
        "employeeId": None,
        "timestamp": None,
        "changeType": None,
    },
    "ApiConsumer": {
        "id": None,
        "version": None,
        "changes": "Change",
        "url": None,
        "consumerName": None,
        "emails": None,
    },
}


def parse_fields(text: str | None) -> FieldTree:
    """Parse a fields expression; empty means `*`."""
    text = (text or "").strip()
    if not text:
        return {"*": None}
    tree, pos = _parse(text, 0)
    if pos != len(text):
        raise _illegal(text, "unbalanced parentheses")
    return tree


def _parse(text: str, pos: int) -> tuple[FieldTree, int]:
    tree: FieldTree = {}
    name = ""
    while pos < len(text):
        ch = text[pos]
        if ch in "([":
            sub, pos = _parse(text, pos + 1)
            if pos >= len(text) or text[pos] not in ")]":
                raise _illegal(text, "unbalanced parentheses")
            _add(tree, name.strip(), sub, text)
            name = ""
            pos += 1
            if pos < len(text) and text[pos] == ",":
                pos += 1
            continue
        if ch in ")]":
            break
        if ch == ",":
            _add(tree, name.strip(), None, text)
            name = ""
        else:
            name += ch
        pos += 1
    if name.strip():
        _add(tree, name.strip(), None, text)
    return tree, pos


def _add(tree: FieldTree, name: str, sub: FieldTree | None, text: str) -> None:
    if not name:
        raise _illegal(text, "empty field name")
    if sub is not None or name not in tree:
        tree[name] = sub


def _illegal(field: str, reason: str, model: str | None = None) -> ApiError:
    detail = f"{field} does not match a field in the model: {model}DTO" if model else reason
    return ApiError(400, 11000, f"Illegal field in fields filter: {field}. {detail}")


def validate(tree: FieldTree, model: str) -> None:
    """Refuse field names the model does not have (Tripletex answers 400/11000)."""
    known = MODEL_FIELDS.get(model)
    if known is None:
        return
    for name, sub in tree.items():
        if name == "*":
            continue
        if name not in known:
            raise _illegal(name, "", model)
        if sub is not None and known[name] is not None:
            validate(sub, known[name])  # type: ignore[arg-type]


def project(obj: dict[str, Any], tree: FieldTree, model: str) -> dict[str, Any]:
    """Keep the selected fields of a full object, as Tripletex does: `*` is every field of the model
    (null when it has no value; `changes` only when asked for), nested objects not expanded become
    {id, url}."""
    known = MODEL_FIELDS.get(model)
    names: list[str] = []
    if "*" in tree:
        names = [n for n in known if n not in UNLISTED] if known else []
        names += [n for n in obj if n not in names and (known is None or n not in UNLISTED)]
    names += [n for n in tree if n != "*" and n not in names]
    out: dict[str, Any] = {}
    for name in names:
        value = obj.get(name)
        sub = tree.get(name)
        nested = (known or {}).get(name) or "?"
        if isinstance(value, dict):
            out[name] = _nested(value, sub, nested)
        elif isinstance(value, list):
            out[name] = [_nested(v, sub, nested) if isinstance(v, dict) else v for v in value]
        else:
            out[name] = value
    return out


def _nested(value: dict[str, Any], sub: FieldTree | None, model: str) -> dict[str, Any]:
    if sub is not None:
        return project(value, sub, model)
    if "id" in value:
        return {k: value[k] for k in ("id", "url") if value.get(k) is not None}
    return project(value, {"*": None}, model)
