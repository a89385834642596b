"""Emulator configuration: companies, tokens, chart additions, rate limit and faults (YAML or JSON)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

LEDGER_TYPES = ("GENERAL", "CUSTOMER", "VENDOR", "EMPLOYEE", "ASSET")


@dataclass
class AccountSpec:
    """An account added to (or overriding one in) a company's default chart; VAT by SAF-T number."""

    number: int
    name: str
    vat_number: str | None = None
    vat_locked: bool = False
    legal_vat_numbers: list[str] | None = None
    ledger_type: str = "GENERAL"
    is_inactive: bool = False
    requires_department: bool = False
    requires_project: bool = False
    is_bank_account: bool = False

    def __post_init__(self) -> None:
        self.number = int(self.number)
        if self.vat_number is not None:
            self.vat_number = str(self.vat_number)
        if self.legal_vat_numbers is not None:
            self.legal_vat_numbers = [str(n) for n in self.legal_vat_numbers]
        if self.ledger_type not in LEDGER_TYPES:
            raise ValueError(f"ledger_type must be one of {LEDGER_TYPES}, not {self.ledger_type!r}")


@dataclass
class ClosedPeriod:
    """Dates from `start` (inclusive) to `end` (exclusive) in which no voucher may be dated."""

    start: date
    end: date

    def __post_init__(self) -> None:
        self.start = _to_date(self.start)
        self.end = _to_date(self.end)
        if self.end <= self.start:
            raise ValueError("closed period end must be after start")

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


@dataclass
class CompanyConfig:
    """One Tripletex company: its tokens (consumer + employee pair) and how its chart differs."""

    id: int
    name: str
    consumer_token: str
    employee_token: str
    consumer_tokens: list[str] = field(default_factory=list)
    employee_tokens: list[str] = field(default_factory=list)
    employee_id: int | None = None
    organization_number: str = ""
    extra_accounts: list[AccountSpec] = field(default_factory=list)
    disabled_vat_numbers: list[str] = field(default_factory=list)
    closed_periods: list[ClosedPeriod] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.id = int(self.id)
        self.extra_accounts = [
            a if isinstance(a, AccountSpec) else AccountSpec(**a) for a in self.extra_accounts
        ]
        self.disabled_vat_numbers = [str(n) for n in self.disabled_vat_numbers]
        self.closed_periods = [_closed_period(p) for p in self.closed_periods]

    def all_consumer_tokens(self) -> list[str]:
        return [self.consumer_token, *self.consumer_tokens]

    def all_employee_tokens(self) -> list[str]:
        return [self.employee_token, *self.employee_tokens]


@dataclass
class RateLimitConfig:
    """At most `limit` calls per `period_seconds` window per (company, employee token)."""

    limit: int
    period_seconds: float = 60.0
    omit_reset_on_429: bool = False


@dataclass
class FaultRule:
    """A targeted fault: `action` is error | latency | timeout | drop | error_after | late_commit.

    Rules are tried in order; at most one error and one after-action (drop / error_after) fire per
    request, latencies add up. `path` is an fnmatch pattern on the path below /v2 (e.g.
    "/ledger/voucher"); `times` limits how often the rule fires (None = unlimited); `rate` is the
    probability per matching request.
    `drop` and `error_after` let the request run (a POST commits) and then lose the response
    (connection closed) or replace it with the error `status`. `late_commit` holds the request for
    `seconds` (the client gives up), then lets it run and commit as Tripletex's application would.
    """

    action: str
    method: str = "*"
    path: str = "*"
    status: int = 500
    seconds: float = 0.0
    rate: float = 1.0
    times: int | None = 1

    def __post_init__(self) -> None:
        if self.action not in ("error", "latency", "timeout", "drop", "error_after", "late_commit"):
            raise ValueError(f"unknown fault action {self.action!r}")
        self.method = self.method.upper()


@dataclass
class FaultConfig:
    """Random faults on /v2 calls plus targeted rules; `seed` makes the random ones repeatable.

    `lookup_lag_seconds`: `GET /ledger/voucher/>externalVoucherNumber` (a search index) shows a voucher
    only that long after it entered the ledger.
    """

    error_rates: dict[int, float] = field(default_factory=dict)
    latency_seconds: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 5.0
    drop_rate: float = 0.0
    rules: list[FaultRule] = field(default_factory=list)
    seed: int | None = None
    lookup_lag_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.error_rates = {int(k): float(v) for k, v in self.error_rates.items()}
        self.rules = [r if isinstance(r, FaultRule) else FaultRule(**r) for r in self.rules]


@dataclass
class EmulatorConfig:
    """Everything the emulator needs at start-up; `today` pins the emulator's calendar."""

    companies: list[CompanyConfig] = field(default_factory=list)
    rate_limit: RateLimitConfig | None = None
    faults: FaultConfig | None = None
    today: date | None = None

    def __post_init__(self) -> None:
        self.companies = [c if isinstance(c, CompanyConfig) else CompanyConfig(**c) for c in self.companies]
        if isinstance(self.rate_limit, dict):
            self.rate_limit = RateLimitConfig(**self.rate_limit)
        if isinstance(self.faults, dict):
            self.faults = FaultConfig(**self.faults)
        if self.today is not None:
            self.today = _to_date(self.today)
        ids = [c.id for c in self.companies]
        if len(ids) != len(set(ids)):
            raise ValueError("company ids must be unique")
        pairs = [
            (ct, et)
            for c in self.companies
            for ct in c.all_consumer_tokens()
            for et in c.all_employee_tokens()
        ]
        if len(pairs) != len(set(pairs)):
            raise ValueError("a consumer/employee token pair may belong to one company only")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmulatorConfig:
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _to_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _closed_period(value: ClosedPeriod | dict[str, Any] | list[Any] | tuple[Any, ...]) -> ClosedPeriod:
    if isinstance(value, ClosedPeriod):
        return value
    if isinstance(value, dict):
        return ClosedPeriod(**value)
    start, end = value
    return ClosedPeriod(start, end)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def load_config(path: str | Path) -> EmulatorConfig:
    """Read a config written by `write_config` (or by hand): `.json` as JSON, anything else as YAML."""
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    return EmulatorConfig.from_dict(data or {})


def write_config(path: str | Path, cfg: EmulatorConfig) -> Path:
    """Write `cfg` as JSON (`.json`) or YAML; the file holds tokens, so it is created mode 0600."""
    target = Path(path)
    data = cfg.to_dict()
    text = json.dumps(data, indent=2) if target.suffix == ".json" else yaml.safe_dump(data, sort_keys=False)
    target.touch(mode=0o600, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
