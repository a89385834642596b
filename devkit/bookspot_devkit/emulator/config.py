"""Emulator configuration: companies, tokens, chart additions, rate limit and faults (YAML or JSON).

pydantic dataclasses: values are checked and converted on construction, unknown keys are refused, and
`load_config` names the file and the field of every problem.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.dataclasses import dataclass

from ..configfile import ConfigError as ConfigError
from ..configfile import read_mapping, validated

STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
LedgerType = Literal["GENERAL", "CUSTOMER", "VENDOR", "EMPLOYEE", "ASSET"]
FaultAction = Literal["error", "latency", "timeout", "drop", "error_after", "late_commit"]


@dataclass(config=STRICT)
class AccountSpec:
    """An account added to (or overriding one in) a company's default chart; VAT by SAF-T number."""

    number: int
    name: str
    vat_number: str | None = None
    vat_locked: bool = False
    legal_vat_numbers: list[str] | None = None
    ledger_type: LedgerType = "GENERAL"
    is_inactive: bool = False
    requires_department: bool = False
    requires_project: bool = False
    is_bank_account: bool = False


@dataclass(config=STRICT)
class ClosedPeriod:
    """Dates from `start` (inclusive) to `end` (exclusive) in which no voucher may be dated."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> ClosedPeriod:
        if self.end <= self.start:
            raise ValueError("closed period end must be after start")
        return self

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


@dataclass(config=STRICT)
class CompanyConfig:
    """One Tripletex company: its tokens (consumer + employee pair) and how its chart differs."""

    id: int
    name: str
    consumer_token: str = Field(min_length=1)
    employee_token: str = Field(min_length=1)
    consumer_tokens: list[str] = field(default_factory=list)
    employee_tokens: list[str] = field(default_factory=list)
    employee_id: int | None = None
    organization_number: str = ""
    extra_accounts: list[AccountSpec] = field(default_factory=list)
    disabled_vat_numbers: list[str] = field(default_factory=list)
    closed_periods: list[ClosedPeriod] = field(default_factory=list)

    @field_validator("closed_periods", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        """A closed period may be written as a [start, end] pair."""
        if isinstance(value, list):
            return [
                {"start": p[0], "end": p[1]} if isinstance(p, list | tuple) and len(p) == 2 else p
                for p in value
            ]
        return value

    def all_consumer_tokens(self) -> list[str]:
        return [self.consumer_token, *self.consumer_tokens]

    def all_employee_tokens(self) -> list[str]:
        return [self.employee_token, *self.employee_tokens]


@dataclass(config=STRICT)
class RateLimitConfig:
    """At most `limit` calls per `period_seconds` window per consumer and employee token pair."""

    limit: int = Field(ge=0)
    period_seconds: float = Field(default=60.0, gt=0)
    omit_reset_on_429: bool = False


DEFAULT_RATE_LIMIT = RateLimitConfig(limit=10_000, period_seconds=60.0)


@dataclass(config=STRICT)
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

    action: FaultAction
    method: str = "*"
    path: str = "*"
    status: int = Field(default=500, ge=400, le=599)
    seconds: float = Field(default=0.0, ge=0)
    rate: float = Field(default=1.0, ge=0, le=1)
    times: int | None = 1

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


@dataclass(config=STRICT)
class FaultConfig:
    """Random faults on /v2 calls plus targeted rules; `seed` makes the random ones repeatable.

    `lookup_lag_seconds`: `GET /ledger/voucher/>externalVoucherNumber` (a search index) shows a voucher
    only that long after it entered the ledger.
    `listing_lag_seconds`: the listings `GET /ledger/voucher` (by date) and `GET /ledger/voucher/>nonPosted`
    show a voucher only that long after it was written (created as a draft, sent to the ledger, or booked
    as a reversal), as Tripletex's listings lag behind writes by up to two minutes; `GET
    /ledger/voucher/{id}` always answers at once. A late draft (one that lands after the client gave up)
    is a `late_commit` rule on `POST /ledger/voucher`.
    """

    error_rates: dict[int, float] = field(default_factory=dict)
    latency_seconds: float = Field(default=0.0, ge=0)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_seconds: float = Field(default=5.0, ge=0)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    rules: list[FaultRule] = field(default_factory=list)
    seed: int | None = None
    lookup_lag_seconds: float = 0.0
    listing_lag_seconds: float = Field(default=0.0, ge=0)


@dataclass(config=STRICT)
class EmulatorConfig:
    """Everything the emulator needs at start-up; `today` pins the emulator's calendar."""

    companies: list[CompanyConfig] = field(default_factory=list)
    rate_limit: RateLimitConfig | None = None
    faults: FaultConfig | None = None
    today: date | None = None

    @model_validator(mode="after")
    def _unique(self) -> EmulatorConfig:
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
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "emulator config") -> EmulatorConfig:
        """Validate plain data; a `ConfigError` names `source` and each bad field."""
        return validated(cls, data, source)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


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
    return EmulatorConfig.from_dict(read_mapping(path), Path(path).name)


def write_config(path: str | Path, cfg: EmulatorConfig) -> Path:
    """Write `cfg` as JSON (`.json`) or YAML; the file holds tokens, so it is created mode 0600."""
    target = Path(path)
    data = cfg.to_dict()
    text = json.dumps(data, indent=2) if target.suffix == ".json" else yaml.safe_dump(data, sort_keys=False)
    target.touch(mode=0o600, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
