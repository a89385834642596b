"""In-memory Tripletex: companies with charts and vouchers, session tokens, rate-limit windows."""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .chart import DEFAULT_ACCOUNTS, VAT_TYPES, VatTypeDef
from .config import (
    DEFAULT_RATE_LIMIT,
    AccountSpec,
    ClosedPeriod,
    CompanyConfig,
    EmulatorConfig,
    RateLimitConfig,
)
from .faults import FaultInjector

if TYPE_CHECKING:
    from .persistence import StateStore

VOUCHER_TYPE_NAMES = (
    "Utgående faktura",
    "Leverandørfaktura",
    "Purring",
    "Betaling",
    "Lønnsbilag",
    "Terminoppgave",
    "Mva-melding",
    "Betaling med KID-nummer",
    "Tollbilag",
    "Bank",
    "Åpningsbalanse",
    "Reiseregning",
    "Ansattutlegg",
)


FIRST_ID = 195_000_001


_ID = re.compile(r"/\d+")


class IdSequence:
    """The one id sequence of an emulator (ids are unique across object kinds, as in Tripletex)."""

    def __init__(self, start: int = FIRST_ID) -> None:
        self.next_value = start

    def __iter__(self) -> IdSequence:
        return self

    def __next__(self) -> int:
        value = self.next_value
        self.next_value += 1
        return value


class Clock:
    """The emulator's calendar and stopwatch; both can be moved by tests."""

    def __init__(self, today: date | None = None) -> None:
        self._today = today
        self._offset = 0.0

    def today(self) -> date:
        return self._today or date.today()

    def set_today(self, day: date | None) -> None:
        self._today = day

    def now(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def reset(self, today: date | None) -> None:
        self._today = today
        self._offset = 0.0


@dataclass
class Account:
    id: int
    spec: AccountSpec
    version: int = 1


@dataclass
class Posting:
    id: int
    row: int
    date: date
    description: str
    account_id: int
    vat_type_id: int | None
    amount: Decimal
    amount_gross: Decimal
    system_generated: bool = False
    refs: dict[str, int] = field(default_factory=dict)
    version: int = 1


@dataclass
class Attachment:
    id: int
    file_name: str
    mime_type: str
    data: bytes


@dataclass
class Voucher:
    id: int
    date: date
    description: str
    number: int
    temp_number: int
    year: int
    postings: list[Posting]
    external_voucher_number: str | None = None
    voucher_type_id: int | None = None
    reverse_voucher_id: int | None = None
    attachment: Attachment | None = None
    version: int = 1


@dataclass
class Session:
    id: int
    token: str
    company_id: int
    consumer_token: str
    employee_token: str
    expiration_date: date
    consumer_token_id: int
    employee_token_id: int
    expired: bool = False


class Company:
    """One company's chart, VAT settings, voucher types, periods and vouchers."""

    def __init__(
        self, cfg: CompanyConfig, ids: Iterator[int], accounts: Iterable[Account] | None = None
    ) -> None:
        """A new company (ids from `ids`), or with `accounts` one read back (no ids drawn)."""
        self.cfg = cfg
        self.id = cfg.id
        self.name = cfg.name
        self.employee_id = cfg.employee_id or (next(ids) if accounts is None else 0)
        self.accounts: dict[int, Account] = {}
        self._by_number: dict[int, Account] = {}
        self.voucher_types = {} if accounts is not None else {next(ids): name for name in VOUCHER_TYPE_NAMES}
        self.disabled_vat_numbers: set[str] = set(cfg.disabled_vat_numbers)
        self.closed_periods: list[ClosedPeriod] = list(cfg.closed_periods)
        self.vouchers: dict[int, Voucher] = {}
        self.next_number: dict[int, int] = {}
        self.next_temp_number = 1
        if accounts is None:
            for spec in (*DEFAULT_ACCOUNTS, *cfg.extra_accounts):
                self.put_account(spec, ids)
        for account in accounts or ():
            self.accounts[account.id] = self._by_number[account.spec.number] = account

    def add_missing_accounts(self, ids: Iterator[int]) -> bool:
        """Give the company the default chart's and the config's accounts it lacks; True if any."""
        wanted = (*DEFAULT_ACCOUNTS, *self.cfg.extra_accounts)
        missing = [spec for spec in wanted if spec.number not in self._by_number]
        for spec in missing:
            self.put_account(spec, ids)
        return bool(missing)

    def put_account(self, spec: AccountSpec, ids: Iterator[int]) -> Account:
        existing = self._by_number.get(spec.number)
        if existing is not None:
            existing.spec = spec
            existing.version += 1
            return existing
        account = Account(next(ids), spec)
        self.accounts[account.id] = self._by_number[spec.number] = account
        return account

    def account_by_number(self, number: int) -> Account | None:
        return self._by_number.get(number)

    def closed_on(self, day: date) -> bool:
        return any(p.contains(day) for p in self.closed_periods)

    def closed_between(self, start: date, end: date) -> bool:
        """Whether any day from `start` up to `end` is closed (the accounting period shows closed)."""
        return any(p.start < end and start < p.end for p in self.closed_periods)

    def vat_enabled(self, vat: VatTypeDef) -> bool:
        return vat.number not in self.disabled_vat_numbers


class RateLimiter:
    """Fixed windows per key: `limit` calls, then 429 until `period_seconds` have passed.

    Without a configuration the emulator counts against `DEFAULT_RATE_LIMIT`, so every answer
    carries the three X-Rate-Limit headers as Tripletex's do.
    """

    def __init__(self, cfg: RateLimitConfig | None, clock: Clock) -> None:
        self.cfg = cfg or DEFAULT_RATE_LIMIT
        self.clock = clock
        self._windows: dict[Any, list[float]] = {}

    def hit(self, key: Any) -> tuple[bool, dict[str, str]]:
        """Count one call; returns (allowed, headers)."""
        window = self._window(key)
        window[1] += 1
        allowed = window[1] <= self.cfg.limit
        return allowed, self._headers(window, allowed)

    def peek(self, key: Any) -> dict[str, str]:
        """The headers for `key`'s window without counting a call."""
        return self._headers(self._window(key), True)

    def _window(self, key: Any) -> list[float]:
        now = self.clock.now()
        window = self._windows.get(key)
        if window is None or now >= window[0] + self.cfg.period_seconds:
            window = [now, 0]
            self._windows[key] = window
        return window

    def _headers(self, window: list[float], allowed: bool) -> dict[str, str]:
        reset = max(0, math.ceil(window[0] + self.cfg.period_seconds - self.clock.now()))
        headers = {
            "X-Rate-Limit-Limit": str(self.cfg.limit),
            "X-Rate-Limit-Remaining": str(max(0, self.cfg.limit - int(window[1]))),
        }
        if allowed or not self.cfg.omit_reset_on_429:
            headers["X-Rate-Limit-Reset"] = str(reset)
        return headers

    def reset(self) -> None:
        self._windows.clear()


class EmulatorState:
    """All emulator data behind one re-entrant lock; `reset()` rebuilds it from the config.

    With a `state_file` (a SQLite database) the companies (accounts, vouchers, numbering, id
    sequence) are read from it at start if it exists, and `save()` writes the changed rows of the
    named companies back; sessions, clock, faults and rate limit are not kept.
    """

    def __init__(self, config: EmulatorConfig, state_file: str | Path | None = None) -> None:
        self.config = config
        self.state_file = Path(state_file) if state_file is not None else None
        self.lock = threading.RLock()
        self.clock = Clock(config.today)
        self.vat_types: dict[int, VatTypeDef] = {v.id: v for v in VAT_TYPES}
        self.request_log: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.call_counts: Counter[tuple[str, str]] = Counter()
        """Every /v2 call since the last reset, by method and path with ids as `:id`; unbounded, unlike
        the log of the last requests."""
        self.rate_limiter = RateLimiter(config.rate_limit, self.clock)
        self.faults = FaultInjector(config.faults)
        self.store: StateStore | None = None
        self.committed_at: dict[int, float] = {}
        self.sessions: dict[str, Session] = {}
        self.token_ids: dict[str, int] = {}
        if self.state_file is None:
            self._build()
        else:
            from .persistence import open_store  # imported here: persistence imports this module

            self.store = open_store(self, self.state_file)

    def _build(self) -> None:
        """The configured companies as new, no sessions."""
        self.ids = IdSequence()
        self.companies: dict[int, Company] = {c.id: Company(c, self.ids) for c in self.config.companies}
        self.sessions = {}
        self.token_ids = {}

    def reset(self) -> None:
        with self.lock:
            self.clock.reset(self.config.today)
            self.rate_limiter = RateLimiter(self.config.rate_limit, self.clock)
            self.request_log.clear()
            self.call_counts.clear()
            self.faults.configure(self.config.faults)
            self.committed_at.clear()
            self._build()
            self.save()

    def save(self, company_ids: Iterable[int] | None = None) -> None:
        """Store the named companies' changes (all companies when None); a no-op without a state file.

        Requests that change a company are saved by the app; code changing a company outside a
        request calls this with the company's id.
        """
        if self.store is not None:
            self.store.write(self, company_ids)

    def close(self) -> None:
        """Close the state file (every change is already in it)."""
        if self.store is not None:
            self.store.close()
            self.store = None

    def mark_committed(self, voucher_id: int) -> None:
        """Note when a voucher entered the ledger (the search index sees it `lookup_lag_seconds` later)."""
        self.committed_at[voucher_id] = self.clock.now()

    def indexed(self, voucher_id: int) -> bool:
        """Whether the lagging search index (`>externalVoucherNumber`) already shows this voucher."""
        lag = self.faults.cfg.lookup_lag_seconds
        at = self.committed_at.get(voucher_id)
        return not lag or at is None or self.clock.now() >= at + lag

    def next_id(self) -> int:
        with self.lock:
            return next(self.ids)

    def company(self, company_id: int) -> Company:
        return self.companies[company_id]

    def vat_by_number(self, number: str) -> VatTypeDef | None:
        return next((v for v in self.vat_types.values() if v.number == number), None)

    def set_rate_limit(self, cfg: RateLimitConfig | None) -> None:
        with self.lock:
            self.rate_limiter = RateLimiter(cfg, self.clock)

    def find_company_for_tokens(self, consumer_token: str, employee_token: str) -> tuple[Company | None, str]:
        """The company owning the pair, else which token is wrong ('consumerToken' / 'employeeToken')."""
        consumers = [c for c in self.companies.values() if consumer_token in c.cfg.all_consumer_tokens()]
        if not consumers:
            return None, "consumerToken"
        for company in consumers:
            if employee_token in company.cfg.all_employee_tokens():
                return company, ""
        return None, "employeeToken"

    def _token_id(self, token: str) -> int:
        if token not in self.token_ids:
            self.token_ids[token] = self.next_id()
        return self.token_ids[token]

    def create_session(
        self, company: Company, consumer_token: str, employee_token: str, expires: date
    ) -> Session:
        with self.lock:
            session = Session(
                id=self.next_id(),
                token=secrets.token_urlsafe(36).replace("-", "A").replace("_", "B"),
                company_id=company.id,
                consumer_token=consumer_token,
                employee_token=employee_token,
                expiration_date=expires,
                consumer_token_id=self._token_id(consumer_token),
                employee_token_id=self._token_id(employee_token),
            )
            self.sessions[session.token] = session
            return session

    def session_for(self, token: str) -> Session | None:
        session = self.sessions.get(token)
        if session is None or session.expired or self.clock.today() >= session.expiration_date:
            return None
        return session

    def expire_sessions(self) -> int:
        with self.lock:
            live = [s for s in self.sessions.values() if not s.expired]
            for session in live:
                session.expired = True
            return len(live)

    def rate_headers(self, token: str | None) -> dict[str, str]:
        """X-Rate-Limit headers (not counting a call) for a session token, or for an unknown caller."""
        session = self.session_for(token) if token else None
        with self.lock:
            return self.rate_limiter.peek(rate_key(session))

    def log_request(self, entry: dict[str, Any]) -> None:
        self.request_log.append(entry)
        with self.lock:
            self.call_counts[(entry["method"], _ID.sub("/:id", entry["path"]))] += 1

    def clear_requests(self) -> None:
        with self.lock:
            self.request_log.clear()
            self.call_counts.clear()


def rate_key(session: Session | None, consumer_token: str = "", employee_token: str = "") -> tuple[str, str]:
    """Tripletex limits calls per employee per consumer: the window of a session or token pair."""
    if session is not None:
        return session.consumer_token, session.employee_token
    return consumer_token, employee_token


def new_request_id() -> str:
    return str(uuid.uuid4())
