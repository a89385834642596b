"""The BookSpot feed schema, written once, and the two checkers derived from it.

`TransactionRecord` and `LineRecord` (msgspec Structs) declare every field: its type, its allowed values,
its minimum, whether it may be null. `INVARIANTS` declare the rules across fields, each as one expression
that works on single values and on numpy columns alike. From these two:

* `parse_record` (the strict checker) reads one decoded record and names every broken rule
  (`InvalidRecord` with field, stable rule code and sentence);
* `columns_of` (the bulk path) takes records msgspec already decoded into the Structs (types checked in C)
  and evaluates timestamps and invariants over whole columns at once, telling which records keep every
  rule. A record it does not accept goes to the strict checker, which decides and names the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Annotated, Any, Literal

import msgspec
import numpy as np

from bookspot_tripletex.domain import (  # noqa: F401  (re-exported: the feed's vocabulary)
    CATEGORIES,
    GIFT_CARD,
    KINDS,
    ONLINE_METHODS,
    PAYMENT_METHODS,
    VAT_RATES,
)
from bookspot_tripletex.domain import TRANSACTION_STATUSES as STATUSES
from bookspot_tripletex.feed.source import decoded

# ------------------------------------------------------------------------------------------ schema

INSTANT = msgspec.Meta(min_length=1, extra={"format": "instant"})
DATE = msgspec.Meta(extra={"format": "date"})
Text = Annotated[str, msgspec.Meta(min_length=1)]


def _one_of(values: Any) -> Any:
    return Literal[tuple(sorted(values))]


class LineRecord(msgspec.Struct, gc=False):
    """One line of a record, as the feed sends it."""

    product_id: Text
    product_name: str | None
    category: _one_of(CATEGORIES)  # type: ignore[valid-type]
    quantity: Annotated[int, msgspec.Meta(ge=1)]
    gross_minor: Annotated[int, msgspec.Meta(ge=0)]
    vat_rate: _one_of(VAT_RATES)  # type: ignore[valid-type]
    vat_minor: Annotated[int, msgspec.Meta(ge=0)]
    service_date: Annotated[str, DATE] | None


class TransactionRecord(msgspec.Struct, gc=False):
    """One money movement, as the feed sends it (unknown keys are allowed and kept in the raw text)."""

    id: Text
    account_id: Text
    kind: _one_of(KINDS)  # type: ignore[valid-type]
    status: _one_of(STATUSES)  # type: ignore[valid-type]
    booking_id: str | None
    occurred_at: Annotated[str, INSTANT]
    updated_at: Annotated[str, INSTANT]
    currency: Text
    amount_minor: Annotated[int, msgspec.Meta(ge=1)]
    payment_method: _one_of(PAYMENT_METHODS)  # type: ignore[valid-type]
    provider_fee_minor: Annotated[int, msgspec.Meta(ge=0)]
    gift_card_code: str | None
    lines: Annotated[list[LineRecord], msgspec.Meta(min_length=1)]


def vat_in_gross(gross: Any, rate: Any) -> Any:
    """`money.vat_in_gross` for gross >= 0, on integers or numpy columns: round_half_up(g * r / (100 + r))."""
    return (2 * gross * rate + 100 + rate) // (200 + 2 * rate)


@dataclass(frozen=True)
class Invariant:
    """A rule across fields: `broken` is True where it is broken (values or columns), `message` says why
    for one record; `needs` are the values it reads, each already valid on its own."""

    rule: str
    field: str
    needs: tuple[str, ...]
    broken: Callable[[Any], Any]
    message: Callable[[Any], str]


LINE_INVARIANTS = (
    Invariant(
        "line_vat",
        "vat_minor",
        ("gross_minor", "vat_rate", "vat_minor"),
        lambda c: abs(c.vat_minor - vat_in_gross(c.gross_minor, c.rate)) > 1,
        lambda c: (
            f"VAT {c.vat_minor} does not match {vat_in_gross(c.gross_minor, c.rate)} "
            f"(gross {c.gross_minor} at {c.vat_rate} %) within 1 øre"
        ),
    ),
    Invariant(
        "gift_card_vat",
        "vat_rate",
        ("category", "vat_rate"),
        lambda c: (c.category == GIFT_CARD) & (c.rate != 0),
        lambda c: f"a gift card line must be VAT 0 or exempt, got {c.vat_rate!r}",
    ),
)
RECORD_INVARIANTS = (
    Invariant(
        "amount_mismatch",
        "amount_minor",
        ("amount_minor", "lines_total"),
        lambda c: c.lines_total != c.amount_minor,
        lambda c: f"lines sum to {c.lines_total} but amount_minor is {c.amount_minor}",
    ),
    Invariant(
        "provider_fee",
        "provider_fee_minor",
        ("provider_fee_minor", "amount_minor"),
        lambda c: c.provider_fee_minor > c.amount_minor,
        lambda c: f"fee {c.provider_fee_minor} exceeds amount_minor {c.amount_minor}",
    ),
    Invariant(
        "provider_fee",
        "provider_fee_minor",
        ("provider_fee_minor", "payment_method"),
        lambda c: (c.provider_fee_minor != 0) & (c.online == 0),
        lambda c: f"must be 0 for offline method {c.payment_method!r}, got {c.provider_fee_minor}",
    ),
    Invariant(
        "currency",
        "currency",
        ("currency",),
        lambda c: c.currency != c.account_currency,
        lambda c: f"{c.currency!r} differs from the account currency {c.account_currency!r}",
    ),
)


class _Values(dict[str, Any]):
    """Values (or columns) by name, readable as attributes by the invariants."""

    __getattr__ = dict.__getitem__


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Violation:
    """One broken rule: the field it concerns, a stable rule code and a sentence."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidRecord(ValueError):
    """A record that breaks the feed contract; carries every violation found."""

    def __init__(self, record_id: str | None, violations: list[Violation]) -> None:
        self.record_id = record_id
        self.violations = violations
        label = record_id if record_id is not None else "<record without id>"
        super().__init__(f"record {label}: " + "; ".join(str(v) for v in violations))

    @property
    def reason(self) -> str:
        return "; ".join(str(v) for v in self.violations)

    @property
    def rules(self) -> list[str]:
        return [v.rule for v in self.violations]


@dataclass(frozen=True)
class Line:
    product_id: str
    product_name: str
    category: str
    quantity: int
    gross_ore: int
    vat_rate: str
    vat_ore: int
    service_date: dt.date | None


@dataclass(frozen=True)
class Transaction:
    id: str
    account_id: str
    kind: str
    status: str
    booking_id: str | None
    occurred_at: dt.datetime
    updated_at: dt.datetime
    currency: str
    amount_ore: int
    payment_method: str
    provider_fee_ore: int
    gift_card_code: str | None
    lines: tuple[Line, ...]
    raw: Any = field(repr=False, compare=False, default=None)

    @property
    def sign(self) -> int:
        return -1 if self.kind == "refund" else 1

    def local_date(self, tz: dt.tzinfo) -> dt.date:
        return self.occurred_at.astimezone(tz).date()


# ------------------------------------------------------------------------------------------ strict checker


@dataclass(frozen=True)
class _Field:
    """One field of a Struct as the strict checker reads it."""

    key: str
    nullable: bool
    kind: str  # text, choice, integer, instant, date, lines
    allowed: frozenset[str] = frozenset()
    minimum: int = 0
    empty_ok: bool = True
    item: tuple[_Field, ...] = ()


def _fields_of(struct: type[msgspec.Struct]) -> tuple[_Field, ...]:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    return tuple(_field(f.encode_name, f.type) for f in info.fields)


def _field(key: str, kind: msgspec.inspect.Type) -> _Field:
    nullable = isinstance(kind, msgspec.inspect.UnionType)
    if isinstance(kind, msgspec.inspect.UnionType):
        (kind,) = [t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType)]
    fmt = None
    if isinstance(kind, msgspec.inspect.Metadata):
        fmt = (kind.extra or {}).get("format")
        kind = kind.type
    if fmt is not None:
        return _Field(key, nullable, fmt, empty_ok=not getattr(kind, "min_length", None))
    if isinstance(kind, msgspec.inspect.LiteralType):
        return _Field(key, nullable, "choice", allowed=frozenset(kind.values), empty_ok=False)
    if isinstance(kind, msgspec.inspect.IntType):
        return _Field(key, nullable, "integer", minimum=kind.ge or 0)
    if isinstance(kind, msgspec.inspect.StrType):
        return _Field(key, nullable, "text", empty_ok=not kind.min_length)
    if isinstance(kind, msgspec.inspect.ListType) and isinstance(kind.item_type, msgspec.inspect.StructType):
        return _Field(key, nullable, "lines", item=_fields_of(kind.item_type.cls))
    raise TypeError(f"the feed schema has a field of an unsupported type: {key} {kind}")


RECORD_FIELDS = _fields_of(TransactionRecord)
LINE_FIELDS = _fields_of(LineRecord)


class _Checker:
    """Collects violations while reading one raw record field by field."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def fail(self, name: str, rule: str, message: str) -> None:
        self.violations.append(Violation(name, rule, message))

    def read(self, obj: dict[str, Any], spec: _Field, where: str) -> tuple[bool, Any]:
        """(ok, value) of one field; a failed field adds its violation."""
        name = where + spec.key
        if spec.key not in obj:
            self.fail(name, "missing_field", "is missing")
            return False, None
        value = obj[spec.key]
        if value is None and spec.nullable:
            return True, None
        if spec.kind == "date":
            return self._date(name, value)
        if spec.kind == "integer":
            return self._integer(name, value, spec.minimum)
        if spec.kind == "lines":
            return self._lines(name, value, spec.item)
        if not isinstance(value, str) or (value == "" and not (spec.empty_ok or spec.nullable)):
            self.fail(name, "wrong_type", f"must be a non-empty string, got {value!r}")
            return False, None
        if spec.kind == "choice" and value not in spec.allowed:
            self.fail(name, "unknown_value", f"{value!r} is not one of {', '.join(sorted(spec.allowed))}")
            return False, None
        if spec.kind == "instant":
            return self._instant(name, value)
        return True, value

    def _integer(self, name: str, value: Any, minimum: int) -> tuple[bool, Any]:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "wrong_type", f"must be an integer, got {value!r}")
            return False, None
        if value < minimum:
            self.fail(name, "out_of_range", f"must be >= {minimum}, got {value}")
            return False, None
        return True, value

    def _instant(self, name: str, value: str) -> tuple[bool, Any]:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            self.fail(name, "bad_timestamp", f"{value!r} is not an ISO 8601 timestamp")
            return False, None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.fail(name, "bad_timestamp", f"{value!r} has no UTC offset")
            return False, None
        return True, parsed

    def _date(self, name: str, value: Any) -> tuple[bool, Any]:
        try:
            if not isinstance(value, str):
                raise TypeError
            return True, dt.date.fromisoformat(value)
        except (ValueError, TypeError):
            self.fail(name, "bad_date", f"{value!r} is not an ISO date")
            return False, None

    def _lines(self, name: str, value: Any, specs: tuple[_Field, ...]) -> tuple[bool, Any]:
        if not isinstance(value, list) or not value:
            self.fail(name, "no_lines", "must be a non-empty array")
            return False, None
        lines = [self._line(f"{name}[{index}]", raw, specs) for index, raw in enumerate(value)]
        if any(line is None for line in lines):
            return False, None
        return True, tuple(lines)

    def _line(self, name: str, raw: Any, specs: tuple[_Field, ...]) -> Line | None:
        if not isinstance(raw, dict):
            self.fail(name, "wrong_type", "must be an object")
            return None
        read = [self.read(raw, spec, name + ".") for spec in specs]
        if not all(ok for ok, _ in read):
            return None
        values = _Values((spec.key, value) for spec, (_, value) in zip(specs, read, strict=True))
        values["rate"] = VAT_RATES[values.vat_rate]
        if not self.invariants(LINE_INVARIANTS, values, name + "."):
            return None
        values["product_name"] = values.product_name or ""
        return Line(*(values[spec.key] for spec in specs))

    def invariants(self, rules: Sequence[Invariant], values: _Values, where: str) -> bool:
        found = False
        for rule in rules:
            if all(values.get(name) is not None for name in rule.needs) and rule.broken(values):
                self.fail(where + rule.field, rule.rule, rule.message(values))
                found = True
        return not found


def parse_record(raw: Any, currency: str = "NOK") -> Transaction:
    """Read one feed record (decoded, or a `JsonLine`) into a Transaction or raise InvalidRecord naming
    every violation."""
    raw = decoded(raw)
    if not isinstance(raw, dict):
        raise InvalidRecord(
            None, [Violation("record", "not_an_object", f"must be a JSON object, got {type(raw).__name__}")]
        )
    check = _Checker()
    read = [check.read(raw, spec, "") for spec in RECORD_FIELDS]
    values = _Values(
        (spec.key, value if ok else None) for spec, (ok, value) in zip(RECORD_FIELDS, read, strict=True)
    )
    lines = values.lines
    values.update(
        lines_total=None if lines is None else sum(line.gross_ore for line in lines),
        online=values.payment_method in ONLINE_METHODS,
        account_currency=currency,
    )
    check.invariants(RECORD_INVARIANTS, values, "")
    if check.violations:
        record_id = values.id if read[0][0] else None
        raise InvalidRecord(record_id, check.violations)
    return Transaction(*(values[spec.key] for spec in RECORD_FIELDS), raw=raw)


# ------------------------------------------------------------------------------------------ bulk path

INT_LIMIT = 2**53
MAX_LINES = 1000
"""Integers above INT_LIMIT and records of more than MAX_LINES lines leave the bulk path (its columns are
int64, sums must not overflow); the strict checker reads them."""


@dataclass
class Columns:
    """A batch of decoded records as columns. Record columns are indexed by record, line columns by line
    (lines in record order, `starts` the first line of each record). Instants are UTC microseconds since
    the epoch, service dates days since the epoch (`NO_DAY` for null). `ok` marks the records that keep
    every rule of the schema."""

    record: _Values
    line: _Values
    starts: np.ndarray
    ok: np.ndarray

    @property
    def owner(self) -> np.ndarray:
        """The record index of each line."""
        counts = np.diff(np.append(self.starts, len(self.line.gross_minor)))
        return np.repeat(np.arange(len(self.starts)), counts)


NO_DAY = np.iinfo(np.int64).min
_RECORD_KEYS = [spec.key for spec in RECORD_FIELDS]
_LINE_KEYS = [spec.key for spec in LINE_FIELDS]


def _strings(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _integers(values: Sequence[int], ok: np.ndarray) -> np.ndarray:
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        small = np.array([v if v <= INT_LIMIT else -1 for v in values], dtype=np.int64)
        ok &= small >= 0
        return small


def columns_of(records: Sequence[TransactionRecord], currency: str) -> Columns:
    """The records as columns and which of them keep every rule (their types are msgspec's to check)."""
    n = len(records)
    ok = np.ones(n, dtype=bool)
    astuple = msgspec.structs.astuple
    fields = list(zip(*map(astuple, records), strict=True)) if n else [()] * len(_RECORD_KEYS)
    rec = _Values(zip(_RECORD_KEYS, fields, strict=True))
    counts = np.fromiter(map(len, rec.lines), dtype=np.int64, count=n)
    ok &= counts <= MAX_LINES
    starts = np.cumsum(counts) - counts
    flat = list(chain.from_iterable(rec.lines))
    line_fields = list(zip(*map(astuple, flat), strict=True)) if flat else [()] * len(_LINE_KEYS)
    line = _Values(zip(_LINE_KEYS, line_fields, strict=True))
    line_ok = np.ones(len(flat), dtype=bool)
    for spec in LINE_FIELDS:
        if spec.kind == "integer":
            line[spec.key] = _integers(line[spec.key], line_ok)
        elif spec.kind == "date":
            line[spec.key], good = parse_dates(line[spec.key])
            line_ok &= good
        else:
            line[spec.key] = _strings(line[spec.key])
    line["rate"] = np.array([VAT_RATES[rate] for rate in line.vat_rate], dtype=np.int64)
    for rule in LINE_INVARIANTS:
        line_ok &= ~np.asarray(rule.broken(line), dtype=bool)
    for spec in RECORD_FIELDS:
        if spec.kind == "integer":
            rec[spec.key] = _integers(rec[spec.key], ok)
        elif spec.kind == "instant":
            rec[spec.key], good = parse_instants(rec[spec.key])
            ok &= good
        elif spec.kind != "lines":
            rec[spec.key] = _strings(rec[spec.key])
    if n:
        ok &= np.logical_and.reduceat(line_ok, starts) if flat else ok
        rec["lines_total"] = np.add.reduceat(line.gross_minor, starts)
    else:
        rec["lines_total"] = np.zeros(0, dtype=np.int64)
    rec["online"] = np.array([method in ONLINE_METHODS for method in rec.payment_method], dtype=np.int64)
    rec["account_currency"] = currency
    for rule in RECORD_INVARIANTS:
        ok &= ~np.asarray(rule.broken(rec), dtype=bool)
    return Columns(rec, line, starts, ok)


# Fixed layouts the bulk path reads; any other spelling goes to the strict checker (datetime.fromisoformat).
_DIGITS = {"year": (0, 4), "month": (5, 7), "day": (8, 10), "hour": (11, 13), "minute": (14, 16),
           "second": (17, 19)}  # fmt: skip
_INSTANT_LAYOUTS = {20: (None, "Z"), 25: (None, "offset"), 27: (20, "Z"), 32: (20, "offset")}
_US_PER_DAY = 86_400_000_000


def _ascii_rows(values: Sequence[str], index: np.ndarray, width: int) -> np.ndarray | None:
    """The strings at `index` (all `width` long) as rows of character codes, or None if any is not ASCII."""
    chosen = values if len(index) == len(values) else [values[i] for i in index]
    try:
        data = "".join(chosen).encode("ascii")
    except UnicodeEncodeError:
        return None
    return np.frombuffer(data, dtype=np.uint8).reshape(len(index), width).astype(np.int64)


def _number(rows: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    digits = rows[:, start:end] - 48
    good = ((digits >= 0) & (digits <= 9)).all(axis=1)
    return digits @ (10 ** np.arange(end - start - 1, -1, -1)), good


def _civil_days(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of `YYYY-MM-DD` at the start of each row, and which rows are real dates."""
    year, good_y = _number(rows, *_DIGITS["year"])
    month, good_m = _number(rows, *_DIGITS["month"])
    day, good_d = _number(rows, *_DIGITS["day"])
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month, 0, 12)]
    month_days = month_days + (leap & (month == 2))
    good = good_y & good_m & good_d & (rows[:, 4] == ord("-")) & (rows[:, 7] == ord("-"))
    good &= (year >= 2) & (year <= 9998) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468, good


def parse_dates(values: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """ISO dates `YYYY-MM-DD` (or null) as days since the epoch; `ok` False where another spelling needs
    the strict checker."""
    n = len(values)
    days = np.full(n, NO_DAY, dtype=np.int64)
    present = _strings(values) != None  # noqa: E711  (elementwise)
    ok = ~present
    texts = [value for value in values if value is not None]
    lengths = np.zeros(n, dtype=np.int64)
    lengths[present] = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    index = np.flatnonzero(lengths == 10)
    rows = _ascii_rows(texts if len(index) == len(texts) else values, index, 10) if index.size else None  # type: ignore[arg-type]
    if rows is not None:
        parsed, good = _civil_days(rows)
        days[index[good]] = parsed[good]
        ok[index[good]] = True
    return days, ok


def parse_instants(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """ISO 8601 instants with a UTC offset (`YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`) as UTC microseconds
    since the epoch; `ok` False where another spelling needs the strict checker."""
    n = len(values)
    out = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
    for width, (fraction, zone) in _INSTANT_LAYOUTS.items():
        index = np.flatnonzero(lengths == width)
        rows = _ascii_rows(values, index, width) if index.size else None
        if rows is None:
            continue
        days, good = _civil_days(rows)
        hour, good_h = _number(rows, *_DIGITS["hour"])
        minute, good_mi = _number(rows, *_DIGITS["minute"])
        second, good_s = _number(rows, *_DIGITS["second"])
        good &= good_h & good_mi & good_s & (hour <= 23) & (minute <= 59) & (second <= 59)
        good &= (rows[:, 10] == ord("T")) & (rows[:, 13] == ord(":")) & (rows[:, 16] == ord(":"))
        micros = np.zeros(len(index), dtype=np.int64)
        if fraction is not None:
            micros, good_f = _number(rows, fraction, fraction + 6)
            good &= good_f & (rows[:, 19] == ord("."))
        offset = np.zeros(len(index), dtype=np.int64)
        if zone == "Z":
            good &= rows[:, -1] == ord("Z")
        else:
            sign = np.where(rows[:, -6] == ord("-"), -1, 1)
            off_h, good_oh = _number(rows, width - 5, width - 3)
            off_m, good_om = _number(rows, width - 2, width)
            good &= np.isin(rows[:, -6], (ord("+"), ord("-"))) & (rows[:, -3] == ord(":"))
            good &= good_oh & good_om & (off_h <= 23) & (off_m <= 59)
            offset = sign * (off_h * 60 + off_m) * 60_000_000
        seconds = (hour * 60 + minute) * 60 + second
        out[index] = days * _US_PER_DAY + seconds * 1_000_000 + micros - offset
        ok[index] = good
    return out, ok
