"""Read and check a tenant YAML file (contracts/tenant-config.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bookspot_tripletex.feed.model import VAT_RATES
from bookspot_tripletex.money import parse_nok

ACCOUNT_TYPE = re.compile(
    r"^(sales\.(25|15|12|0|exempt)|settlement\.(stripe|dintero|vipps|card_terminal|cash|invoice|bank_transfer)"
    r"|gift_card_liability|provider_fees|customer_prepayments|product\.[^\s]+|category\.[a-z_]+)$"
)


class TenantConfigError(ValueError):
    """A tenant file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class MappingVersion:
    valid_from: dt.date
    accounts: dict[str, int]
    vat_types: dict[str, int]

    @property
    def content_hash(self) -> str:
        body = json.dumps({"accounts": self.accounts, "vat_types": self.vat_types}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class TenantConfig:
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
    mappings: tuple[MappingVersion, ...] = field(default_factory=tuple)
    attach_report: bool = False

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise TenantConfigError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")


def _mapping(entry: Any, where: str) -> MappingVersion:
    if not isinstance(entry, dict):
        raise TenantConfigError(f"{where}: must be a mapping with valid_from, accounts and vat_types")
    valid_from = _date(entry.get("valid_from"), f"{where}.valid_from")
    accounts = entry.get("accounts")
    if not isinstance(accounts, dict) or not accounts:
        raise TenantConfigError(f"{where}.accounts: must map account types to account numbers")
    checked: dict[str, int] = {}
    for account_type, number in accounts.items():
        if not ACCOUNT_TYPE.match(str(account_type)):
            raise TenantConfigError(f"{where}.accounts: unknown account type {account_type!r}")
        if isinstance(number, bool) or not isinstance(number, int) or not 1000 <= number <= 99999:
            raise TenantConfigError(f"{where}.accounts.{account_type}: {number!r} is not an account number")
        checked[str(account_type)] = number
    vat_types = entry.get("vat_types")
    if not isinstance(vat_types, dict):
        raise TenantConfigError(f"{where}.vat_types: must map VAT rates to Tripletex VAT type numbers")
    vat_checked: dict[str, int] = {}
    for rate, number in vat_types.items():
        if str(rate) not in VAT_RATES:
            raise TenantConfigError(f"{where}.vat_types: unknown VAT rate {rate!r}")
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise TenantConfigError(f"{where}.vat_types.{rate}: {number!r} is not a VAT type number")
        vat_checked[str(rate)] = number
    return MappingVersion(valid_from, checked, vat_checked)


def parse_tenant(data: Any, source: str = "<tenant file>") -> TenantConfig:
    if not isinstance(data, dict):
        raise TenantConfigError(f"{source}: must be a YAML mapping")

    def req(key: str) -> Any:
        if data.get(key) in (None, ""):
            raise TenantConfigError(f"{source}: {key} is required")
        return data[key]

    timezone = str(data.get("timezone") or "Europe/Oslo")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise TenantConfigError(f"{source}: unknown time zone {timezone!r}") from exc
    try:
        tolerance = parse_nok(str(data.get("vat_tolerance_nok", "1.00")))
    except (ValueError, ArithmeticError) as exc:
        raise TenantConfigError(f"{source}: vat_tolerance_nok must be a NOK amount") from exc
    mappings = data.get("mappings")
    if not isinstance(mappings, list) or not mappings:
        raise TenantConfigError(f"{source}: mappings must list at least one mapping version")
    versions = tuple(_mapping(m, f"{source}: mappings[{i}]") for i, m in enumerate(mappings))
    if len({v.valid_from for v in versions}) != len(versions):
        raise TenantConfigError(f"{source}: two mapping versions share a valid_from date")
    active = data.get("active", True)
    attach_report = data.get("attach_report", False)
    for key, value in (("active", active), ("attach_report", attach_report)):
        if not isinstance(value, bool):
            raise TenantConfigError(f"{source}: {key} must be true or false")
    return TenantConfig(
        tenant=str(req("tenant")),
        name=str(req("name")),
        timezone=timezone,
        currency=str(data.get("currency") or "NOK"),
        start_date=_date(req("start_date"), f"{source}: start_date"),
        active=active,
        tripletex_conn_id=str(req("tripletex_conn_id")),
        bookspot_conn_id=str(req("bookspot_conn_id")),
        voucher_type=data.get("voucher_type"),
        vat_tolerance_ore=tolerance,
        mappings=tuple(sorted(versions, key=lambda v: v.valid_from)),
        attach_report=attach_report,
    )


def load_tenant_file(path: str | Path) -> TenantConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TenantConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_tenant(data, str(path))
