"""Read and check a tenant YAML file (contracts/tenant-config.md) with pydantic models.

Everything the staging database or Tripletex would truncate, reject or misread is refused here, when
the file is loaded, with the file and the field named (`fjord-kayak.yaml: mappings[0].accounts.sales.25:
…`): unknown or duplicate keys, a currency other than NOK, negative or fractional-øre tolerances, texts
longer than their staging columns, unknown time zones, account numbers outside 1000–9999, unknown VAT
types, and a Tripletex binding that is not an integer company id and a valid organisation number.

Binding: `tripletex_company_id` is the id of the Tripletex company the tenant posts into (the
connection's whoAmI company must equal it) and `organization_number` that company's nine-digit
organisation number (mod-11 checked). Two tenants on one company are refused at import unless each
file names the other in `shares_company_with` (a list of tenant ids), so a copied file cannot post one
customer's sales into another's books by accident.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass

from bookspot_tripletex.domain import (
    ACCOUNT_NUMBERS,
    ACCOUNT_TYPE,
    ACCOUNT_TYPE_LENGTH,
    APPROVAL_ALERT_HOURS,
    APPROVAL_DAYS,
    CONN_ID_LENGTH,
    CURRENCY,
    MAX_ORE,
    NAME_LENGTH,
    SALES_VAT_TYPES,
    TENANT_ID_LENGTH,
    TENANT_ID_PATTERN,
    TIMEZONE_LENGTH,
    VAT_RATES,
    VOUCHER_TYPE_LENGTH,
    is_organization_number,
)
from bookspot_tripletex.money import parse_nok

MAX_COMPANY_ID = 2**63 - 1
MAX_APPROVAL_DAYS = 366
MAX_APPROVAL_ALERT_HOURS = 24 * 31


class TenantConfigError(ValueError):
    """A tenant file that cannot be used; the message names the file and the field."""


BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Unicode bidirectional controls: shown on a page, they reorder the text around them."""


def _storable(value: str) -> str:
    """Text both databases store as written and pages show as written: no NUL, no control characters,
    no bidirectional controls, no lone surrogates."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    bidi = sorted({f"U+{ord(c):04X}" for c in value if c in BIDI_CONTROLS})
    if bidi:
        raise ValueError(f"must not contain Unicode bidirectional control characters ({', '.join(bidi)})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("is not valid Unicode (a lone surrogate)") from exc
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    return value


def _text(max_length: int, pattern: str | None = None) -> Any:
    return Annotated[
        str,
        StringConstraints(strict=True, min_length=1, max_length=max_length, pattern=pattern),
        AfterValidator(_storable),
    ]


def _date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def _tolerance(value: Any) -> int:
    """A NOK amount as a quoted decimal string or an integer; floats would round silently."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('must be a NOK amount written as a quoted string, e.g. "1.00"')
    try:
        ore = parse_nok(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError, ArithmeticError):
        raise ValueError(f"{value!r} is not a NOK amount with at most two decimals") from None
    if not 0 <= ore <= MAX_ORE:
        raise ValueError(f"must be between 0 and {MAX_ORE // 100} NOK")
    return ore


def _digits(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _organization_number(value: str) -> str:
    if not is_organization_number(value):
        raise ValueError(f"{value!r} is not a Norwegian organisation number (9 digits, mod-11 check digit)")
    return value


def _vat_rate(value: str) -> str:
    if value not in VAT_RATES:
        raise ValueError(f"unknown VAT rate {value!r} (one of {', '.join(VAT_RATES)})")
    return value


def _sales_vat_type(value: int) -> int:
    if value not in SALES_VAT_TYPES:
        known = ", ".join(str(n) for n in sorted(SALES_VAT_TYPES))
        raise ValueError(f"{value!r} is not a Tripletex sales VAT type ({known})")
    return value


Date = Annotated[dt.date, BeforeValidator(_date), Field(strict=True)]
TenantId = _text(TENANT_ID_LENGTH, TENANT_ID_PATTERN)
Name = _text(NAME_LENGTH)
TimeZone = Annotated[_text(TIMEZONE_LENGTH), AfterValidator(_timezone)]
ConnId = _text(CONN_ID_LENGTH)
VoucherType = _text(VOUCHER_TYPE_LENGTH)
AccountType = _text(ACCOUNT_TYPE_LENGTH, ACCOUNT_TYPE.pattern)
AccountNumber = Annotated[StrictInt, Field(ge=ACCOUNT_NUMBERS[0], le=ACCOUNT_NUMBERS[1])]
VatRate = Annotated[str, BeforeValidator(_digits), Field(strict=True), AfterValidator(_vat_rate)]
VatType = Annotated[StrictInt, AfterValidator(_sales_vat_type)]
FORBID = ConfigDict(extra="forbid")


@pydantic_dataclass(frozen=True, config=FORBID)
class MappingVersion:
    """One effective-dated mapping: account type -> account number, VAT rate -> Tripletex VAT type."""

    valid_from: Date
    accounts: Annotated[dict[AccountType, AccountNumber], Field(min_length=1)]
    vat_types: dict[VatRate, VatType]

    @property
    def content_hash(self) -> str:
        body = json.dumps({"accounts": self.accounts, "vat_types": self.vat_types}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()


class TenantFile(BaseModel):
    """The tenant YAML file as written; `config()` gives the run-time TenantConfig."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: TenantId
    name: Name
    timezone: TimeZone = "Europe/Oslo"
    currency: str = CURRENCY
    start_date: Date
    active: StrictBool = True
    tripletex_conn_id: ConnId
    bookspot_conn_id: ConnId
    tripletex_company_id: Annotated[StrictInt, Field(ge=1, le=MAX_COMPANY_ID)]
    organization_number: Annotated[
        str, BeforeValidator(_digits), Field(strict=True), AfterValidator(_organization_number)
    ]
    shares_company_with: tuple[TenantId, ...] = ()
    voucher_type: VoucherType | None = None
    vat_tolerance_nok: Annotated[int, BeforeValidator(_tolerance)] = 100
    """Read as NOK from the file ("1.00"), held as øre."""
    attach_report: StrictBool = False
    approval_days: Annotated[StrictInt, Field(ge=0, le=MAX_APPROVAL_DAYS)] = APPROVAL_DAYS
    """The tenant's first posting days that wait for a person's approval (0: none)."""
    approval_new_mapping: StrictBool = True
    """The first day posted under a new mapping version waits for approval too."""
    approval_alert_hours: Annotated[StrictInt, Field(ge=1, le=MAX_APPROVAL_ALERT_HOURS)] = (
        APPROVAL_ALERT_HOURS
    )
    """A day waiting longer than this alerts again (at each run that finds it still waiting)."""
    mappings: Annotated[tuple[MappingVersion, ...], Field(min_length=1)]

    @field_validator("currency", mode="before")
    @classmethod
    def _nok_only(cls, value: Any) -> Any:
        if value != CURRENCY:
            raise ValueError(f"{value!r}: only {CURRENCY} is supported (amounts are posted as NOK øre)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TenantFile:
        dates = [m.valid_from for m in self.mappings]
        if len(set(dates)) != len(dates):
            raise ValueError("mappings: two mapping versions share a valid_from date")
        if self.tenant in self.shares_company_with:
            raise ValueError("shares_company_with: a tenant does not share a company with itself")
        return self

    def config(self) -> TenantConfig:
        fields = self.model_dump(exclude={"vat_tolerance_nok", "mappings"})
        return TenantConfig(
            **fields,
            vat_tolerance_ore=self.vat_tolerance_nok,
            mappings=tuple(sorted(self.mappings, key=lambda v: v.valid_from)),
        )


@dataclass(frozen=True)
class TenantConfig:
    """A tenant as the pipeline runs it (from its file, or from the staging tenants table)."""

    tenant: str
    name: str
    timezone: str
    currency: str
    start_date: dt.date
    active: bool
    tripletex_conn_id: str
    bookspot_conn_id: str
    voucher_type: str | None
    vat_tolerance_ore: int
    tripletex_company_id: int
    organization_number: str
    shares_company_with: tuple[str, ...] = ()
    mappings: tuple[MappingVersion, ...] = ()
    attach_report: bool = False
    approval_days: int = APPROVAL_DAYS
    approval_new_mapping: bool = True
    approval_alert_hours: int = APPROVAL_ALERT_HOURS

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        elif not part.startswith(("function-", "constrained-", "lax-", "json-")):
            part = part if len(part) <= 60 else f"{part[:57]}..."
            out += f".{part}" if out else part
    return out


def _message(error: Any) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key (not in the tenant file format)"
    if kind == "missing":
        return "is required"
    if kind == "string_pattern_mismatch" and error["loc"][-1:] == ("[key]",):
        return f"unknown account type {error['input']!r}"
    if kind == "string_unicode":
        return "is not valid Unicode (a lone surrogate)"
    if kind == "string_type":
        return "must be text (quote it in YAML)"
    if kind in ("int_type", "int_parsing"):
        return "must be a whole number"
    if kind == "bool_type":
        return "must be true or false"
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is longer than {error['ctx']['max_length']} characters (the staging column's limit)"
    return msg.removeprefix("Value error, ")


def parse_tenant(data: Any, source: str = "<tenant file>") -> TenantConfig:
    """Check the parsed YAML of a tenant file; TenantConfigError lists every problem with its field."""
    if not isinstance(data, dict):
        raise TenantConfigError(f"{source}: must be a YAML mapping")
    try:
        return TenantFile.model_validate(data).config()
    except ValidationError as exc:
        errors = exc.errors()
        failed = {e["loc"][:1] for e in errors if len(e["loc"]) > 1}
        problems = []
        for error in errors:
            if error["type"] == "too_short" and error["loc"] in failed:
                continue
            where = _where(error["loc"])
            problems.append(f"{source}: {where + ': ' if where else ''}{_message(error)}")
        raise TenantConfigError("\n".join(problems)) from None


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping naming one key twice (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if isinstance(key, list | dict):
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_tenant_file(path: str | Path) -> TenantConfig:
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise TenantConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_tenant(data, str(path))
