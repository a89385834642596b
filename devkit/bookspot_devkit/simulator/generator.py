"""Deterministic, streaming BookSpot feed of Norwegian activity businesses, seeded by (seed, tenant)."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import time
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from random import Random
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from .catalogue import (
    BASE_METHOD_WEIGHTS,
    BOOKING_FEE,
    BUSINESSES,
    FIXED_FEES,
    GIFT_CARDS,
    HOURS_ONLINE,
    HOURS_ONSITE,
    NATURE_FEE,
    PLACES,
    REBOOKING,
    REBOOKING_GROUP,
    SEASONS,
    VAT_PERCENT,
    WEEKDAYS,
    Product,
    TenantProfile,
)

TIMEZONE = "Europe/Oslo"
OSLO = ZoneInfo(TIMEZONE)
CURRENCY = "NOK"
ONLINE_METHODS = ("stripe", "dintero", "vipps")
ONSITE_METHODS = frozenset({"card_terminal", "cash"})
MAX_LATE_SECONDS = 10 * 86400
Z_FORM_SHARE = 0.08
REFUND_SHARE = 0.035
GIFT_CARD_SHARE = 0.03

Version = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Knobs:
    """Per-transaction rates (0..1) of departures from a clean feed; all 0 (the default) is a valid feed.

    `late_updates`: the record re-appears later with a changed quantity and amount (still valid);
    `voids`: it re-appears later voided; `corrections`: a malformed record re-appears later, corrected.
    The malformed knobs break exactly one rule each and are exclusive (their sum must be <= 1):
    `lines_sum_mismatch`, `line_vat_wrong`, `gift_card_vat`, `fee_exceeds_amount`, `offline_fee`,
    `wrong_currency`, `missing_field` and `wrong_type` (the last two never touch `id` or `updated_at`).
    """

    late_updates: float = 0.0
    voids: float = 0.0
    corrections: float = 0.0
    lines_sum_mismatch: float = 0.0
    line_vat_wrong: float = 0.0
    gift_card_vat: float = 0.0
    fee_exceeds_amount: float = 0.0
    offline_fee: float = 0.0
    wrong_currency: float = 0.0
    missing_field: float = 0.0
    wrong_type: float = 0.0

    MALFORMED: ClassVar[tuple[str, ...]] = (
        "lines_sum_mismatch",
        "line_vat_wrong",
        "gift_card_vat",
        "fee_exceeds_amount",
        "offline_fee",
        "wrong_currency",
        "missing_field",
        "wrong_type",
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"knob {f.name} must be a rate between 0 and 1, got {value!r}")
        if self.late_updates + self.voids > 1:
            raise ValueError("late_updates + voids must be <= 1")
        if sum(getattr(self, name) for name in self.MALFORMED) > 1:
            raise ValueError("the malformed knobs must add up to <= 1")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Knobs:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown knob(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**{k: float(v) for k, v in values.items()})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


PERSONS = (1, 1, 2, 2, 2, 2, 2, 3, 3, 4, 4, 4, 5, 6)
LEAD_DAYS = (0, 0, 0, 1, 1, 2, 3, 4, 5, 7, 7, 10, 14, 14, 21, 30, 45, 60, 90)
_GROUP_METHODS = frozenset({"invoice", "bank_transfer"})
_ONLINE = frozenset(ONLINE_METHODS)
_N_PERSONS, _N_LEAD_DAYS = len(PERSONS), len(LEAD_DAYS)
WRONG_CURRENCIES = ("EUR", "SEK", "DKK", "USD")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

_HMS = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
_ISO: dict[int, str] = {}


def _iso(ordinal: int) -> str:
    text = _ISO.get(ordinal)
    if text is None:
        text = _ISO[ordinal] = dt.date.fromordinal(ordinal).isoformat()
    return text


def _cum(weights: Iterable[float]) -> tuple[list[float], float]:
    cum = list(itertools.accumulate(weights))
    return cum, cum[-1]


def _method_pick(
    weights: list[tuple[str, float]],
) -> tuple[list[float], float, list[tuple[str, list[float], float]]]:
    cum, total = _cum(w for _, w in weights)
    channel = [(m, *_HOURS["onsite" if m in ONSITE_METHODS else "online"]) for m, _ in weights]
    return cum, total, channel


def _normalised(factors: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(factors) / len(factors)
    return tuple(f / mean for f in factors)


_SEASON_FACTORS = {name: _normalised(f) for name, f in SEASONS.items()}
_WEEKDAY_FACTORS = _normalised(WEEKDAYS)
_HOURS = {"online": _cum(HOURS_ONLINE), "onsite": _cum(HOURS_ONSITE)}


def vat_of(gross: int, rate: str) -> int:
    """VAT inside a gross amount: round_half_up(gross * r / (100 + r)), integers only."""
    r = VAT_PERCENT[rate]
    return (2 * gross * r + 100 + r) // (200 + 2 * r) if r else 0


def tenant_ids(count: int) -> list[str]:
    """`fjord-kayak` (the worked example's tenant) and then tenant-001, tenant-002, …"""
    if count < 1:
        raise ValueError("at least one tenant")
    return ["fjord-kayak"] + [f"tenant-{i:03d}" for i in range(1, count)]


def tenant_profile(tenant: str, seed: int = 0, transactions_per_day: float | None = None) -> TenantProfile:
    """The business a tenant is, drawn from (seed, tenant) alone."""
    rng = Random(f"{seed}:{tenant}:profile")
    if tenant == "fjord-kayak":
        business, name = "kayak", "Fjord Kayak AS"
    else:
        business = rng.choice(sorted(BUSINESSES))
        name = f"{rng.choice(PLACES)} {BUSINESSES[business][0]} AS"
    _, season, activities, extras = BUSINESSES[business]
    weights = {m: w * (0.5 + rng.random()) for m, w in BASE_METHOD_WEIGHTS.items()}
    if rng.random() < 0.25:
        weights["dintero"] = 0.0
    if rng.random() < 0.3:
        weights["cash"] = 0.0
    fees = tuple((m, 150 + int(rng.random() * 141), FIXED_FEES[m]) for m in ONLINE_METHODS)
    tpd = transactions_per_day if transactions_per_day is not None else round(4 + rng.random() ** 2 * 76, 1)
    return TenantProfile(
        tenant=tenant,
        name=name,
        business=business,
        season=season,
        timezone=TIMEZONE,
        currency=CURRENCY,
        transactions_per_day=float(tpd),
        activities=activities,
        extras=extras,
        method_weights=tuple(weights.items()),
        fees=fees,
        booking_fee=rng.random() < 0.4,
        nature_fee=rng.random() < 0.2,
    )


def _line(p: Product, quantity: int, service_date: str | None) -> dict[str, Any]:
    pid, name, category, price, rate, a, b, c = p
    gross = price * quantity
    return {
        "product_id": pid,
        "product_name": name,
        "category": category,
        "quantity": quantity,
        "gross_minor": gross,
        "vat_rate": rate,
        "vat_minor": (gross * a + b) // c,
        "service_date": service_date,
    }


def _copy(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "lines": [dict(line) for line in record["lines"]]}


def _local_iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, OSLO).isoformat()


def _z_iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


class TenantGenerator:
    """One tenant's feed. A day's records depend only on (seed, tenant, day), not on the range asked for."""

    def __init__(
        self,
        tenant: str,
        seed: int = 0,
        *,
        transactions_per_day: float | None = None,
        knobs: Knobs | None = None,
    ) -> None:
        self.tenant = tenant
        self.seed = seed
        self.knobs = knobs or Knobs()
        self.profile = tenant_profile(tenant, seed, transactions_per_day)
        prof = self.profile
        payment = [(m, w) for m, w in prof.method_weights if w > 0]
        gift_sale = [(m, w) for m, w in payment if m not in ("gift_card", "invoice", "cash")]
        refund = [(m, w) for m, w in gift_sale if m != "bank_transfer"]
        self._payment_pick = _method_pick(payment)
        self._gift_sale_pick = _method_pick(gift_sale)
        self._refund_pick = _method_pick(refund)
        self._activity_cum = _cum(1.0 / (i + 1) for i in range(len(prof.activities)))
        self._gift_cards = [p for p, _ in GIFT_CARDS]
        self._gift_card_cum = _cum(w for _, w in GIFT_CARDS)
        self._fees = {m: (bp, fixed) for m, bp, fixed in prof.fees}
        self._malformed = [(name, getattr(self.knobs, name)) for name in Knobs.MALFORMED]
        self._seq = itertools.count()
        self._activities, self._extras, self._currency = prof.activities, prof.extras, prof.currency
        self._booking_fee, self._nature_fee = prof.booking_fee, prof.nature_fee

    def fee(self, method: str, amount: int) -> int:
        plan = self._fees.get(method)
        if plan is None:
            return 0
        bp, fixed = plan
        return min(amount, (amount * bp + 5000) // 10000 + fixed)

    def iter_versions(self, date_from: dt.date | str, date_to: dt.date | str) -> Iterator[Version]:
        """(updated_at epoch, record) for every version of every record that occurred on
        date_from..date_to (inclusive, local dates), in (updated_at, id) order; later versions last."""
        start, end = _as_date(date_from).toordinal(), _as_date(date_to).toordinal()
        pending: list[tuple[int, str, int, dict[str, Any]]] = []
        for ordinal in range(start, end + 1):
            originals, late = self.day(dt.date.fromordinal(ordinal))
            for item in late:
                heapq.heappush(pending, item)
            for epoch, tid, record in originals:
                while pending and (pending[0][0], pending[0][1]) < (epoch, tid):
                    late_epoch, _, _, late_record = heapq.heappop(pending)
                    yield late_epoch, late_record
                yield epoch, record
        while pending:
            late_epoch, _, _, late_record = heapq.heappop(pending)
            yield late_epoch, late_record

    def iter_records(self, date_from: dt.date | str, date_to: dt.date | str) -> Iterator[dict[str, Any]]:
        for _, record in self.iter_versions(date_from, date_to):
            yield record

    def day(
        self, day: dt.date
    ) -> tuple[list[tuple[int, str, dict[str, Any]]], list[tuple[int, str, int, dict[str, Any]]]]:
        """The day's records as (epoch, id, record) sorted, and their later versions for a heap."""
        prof = self.profile
        ymd = day.isoformat()
        compact = ymd.replace("-", "")
        rng = Random(f"{self.seed}:{self.tenant}:{ymd}")
        r = rng.random
        mean = (
            prof.transactions_per_day
            * _SEASON_FACTORS[prof.season][day.month - 1]
            * _WEEKDAY_FACTORS[day.weekday()]
        )
        count = int(mean * (0.7 + 0.6 * r()) + r())
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=OSLO)
        next_midnight = midnight + dt.timedelta(days=1)
        start = int(midnight.timestamp())
        transition = int(next_midnight.timestamp()) - start != 86400
        offset = midnight.utcoffset() or dt.timedelta()
        off_hours, off_rest = divmod(int(offset.total_seconds()), 3600)
        off_text = f"{'+' if off_hours >= 0 else '-'}{abs(off_hours):02d}:{off_rest // 60:02d}"
        gift_share = REFUND_SHARE + GIFT_CARD_SHARE * (3 if day.month == 12 else 1)
        refunds, gift_sales, payments = self._refund_pick, self._gift_sale_pick, self._payment_pick
        year, month, mday = day.year, day.month, day.day
        specs = []
        for i in range(count):
            u = r()
            if u < REFUND_SHARE:
                kind, (cum, total, choices) = "refund", refunds
            elif u < gift_share:
                kind, (cum, total, choices) = "gift_card_sale", gift_sales
            else:
                kind, (cum, total, choices) = "payment", payments
            method, hcum, htot = choices[bisect(cum, r() * total)]
            second = bisect(hcum, r() * htot) * 3600 + int(r() * 3600)
            if transition:
                hour, rest = divmod(second, 3600)
                fold = int(r() < 0.5)
                local = dt.datetime(year, month, mday, hour, rest // 60, rest % 60, tzinfo=OSLO, fold=fold)
                epoch = int(local.timestamp())
            else:
                epoch = start + second
            specs.append((epoch, i, second, kind, method))
        specs.sort()
        ordinal = day.toordinal()
        originals: list[tuple[int, str, dict[str, Any]]] = []
        late: list[tuple[int, str, int, dict[str, Any]]] = []
        krng = Random(f"{self.seed}:{self.tenant}:{ymd}:knobs") if self.knobs.active else None
        for n, (epoch, _, second, kind, method) in enumerate(specs, start=1):
            tid = f"tx_{compact}_{n:05d}"
            if r() < Z_FORM_SHARE:
                occurred = _z_iso(epoch)
            elif transition:
                occurred = _local_iso(epoch)
            else:
                occurred = f"{ymd}T{_HMS[second]}{off_text}"
            record = self._record(rng, tid, f"bk_{compact}{n:05d}", kind, method, occurred, ordinal)
            originals.append((epoch, tid, record))
            if krng is not None:
                self._apply_knobs(krng, epoch, record, late)
        return originals, late

    def _record(
        self, rng: Random, tid: str, booking_id: str, kind: str, method: str, occurred: str, ordinal: int
    ) -> dict[str, Any]:
        r = rng.random
        code = None
        if kind == "gift_card_sale":
            product = self._gift_cards[bisect(self._gift_card_cum[0], r() * self._gift_card_cum[1])]
            lines = [_line(product, 2 if r() < 0.05 else 1, None)]
            kind, booking = "payment", None
            code = _gift_card_code(rng)
        elif kind == "refund":
            booking = f"bk_{_iso(ordinal - 1 - int(r() * 60)).replace('-', '')}{1 + int(r() * 80):05d}"
            activity = self._activities[bisect(self._activity_cum[0], r() * self._activity_cum[1])]
            lines = [_line(activity, 1 + int(r() * 3), _iso(ordinal - 10 + int(r() * 40)))]
        else:
            booking = booking_id
            lines = self._booking_lines(r, method, ordinal)
            if method == "gift_card":
                code = _gift_card_code(rng)
        amount = 0
        for line in lines:
            amount += line["gross_minor"]
        fee = 0
        plan = self._fees.get(method) if kind == "payment" else None
        if plan is not None:
            fee = min(amount, (amount * plan[0] + 5000) // 10000 + plan[1])
        return {
            "id": tid,
            "account_id": self.tenant,
            "kind": kind,
            "status": "completed",
            "booking_id": booking,
            "occurred_at": occurred,
            "updated_at": occurred,
            "currency": self._currency,
            "amount_minor": amount,
            "payment_method": method,
            "provider_fee_minor": fee,
            "gift_card_code": code,
            "lines": lines,
        }

    def _booking_lines(self, r: Callable[[], float], method: str, ordinal: int) -> list[dict[str, Any]]:
        if method in _GROUP_METHODS:
            persons = 8 + int(r() * 23)
        else:
            persons = PERSONS[int(r() * _N_PERSONS)]
        onsite = method in ONSITE_METHODS
        service_date = _iso(ordinal if onsite else ordinal + LEAD_DAYS[int(r() * _N_LEAD_DAYS)])
        activity = self._activities[bisect(self._activity_cum[0], r() * self._activity_cum[1])]
        lines = [_line(activity, persons, service_date)]
        for extra in self._extras:
            if r() < 0.14:
                lines.append(_line(extra, 1 + int(r() * persons), service_date))
        if not onsite and r() < 0.18:
            lines.append(_line(REBOOKING_GROUP if persons > 3 else REBOOKING, 1, service_date))
        if self._booking_fee and method in _ONLINE:
            lines.append(_line(BOOKING_FEE, 1, None))
        if self._nature_fee:
            lines.append(_line(NATURE_FEE, persons, None))
        return lines

    def _apply_knobs(
        self,
        krng: Random,
        epoch: int,
        record: dict[str, Any],
        late: list[tuple[int, str, int, dict[str, Any]]],
    ) -> None:
        k = krng.random
        u = k()
        for name, rate in self._malformed:
            if u < rate:
                valid = _BREAKERS[name](self, krng, record)
                if k() < self.knobs.corrections:
                    self._later(krng, epoch, valid, late)
                return
            u -= rate
        v = k()
        if v < self.knobs.late_updates:
            updated = _copy(record)
            self._change_quantity(krng, updated)
            self._later(krng, epoch, updated, late)
        elif v < self.knobs.late_updates + self.knobs.voids:
            voided = _copy(record)
            voided["status"] = "voided"
            self._later(krng, epoch, voided, late)

    def _later(
        self,
        krng: Random,
        epoch: int,
        record: dict[str, Any],
        late: list[tuple[int, str, int, dict[str, Any]]],
    ) -> None:
        later = epoch + 900 + int(krng.random() ** 2 * MAX_LATE_SECONDS)
        record["updated_at"] = _local_iso(later)
        late.append((later, record["id"], next(self._seq), record))

    def _change_quantity(self, krng: Random, record: dict[str, Any]) -> None:
        lines = record["lines"]
        line = lines[int(krng.random() * len(lines))]
        unit = line["gross_minor"] // line["quantity"]
        step = -1 if line["quantity"] > 1 and krng.random() < 0.5 else 1
        line["quantity"] += step
        line["gross_minor"] = unit * line["quantity"]
        line["vat_minor"] = vat_of(line["gross_minor"], line["vat_rate"])
        self._reprice(record)

    def _reprice(self, record: dict[str, Any]) -> None:
        record["amount_minor"] = sum(line["gross_minor"] for line in record["lines"])
        if record["kind"] == "payment":
            record["provider_fee_minor"] = self.fee(record["payment_method"], record["amount_minor"])


def _gift_card_code(rng: Random) -> str:
    r = rng.random
    return "GC-" + "".join(CODE_ALPHABET[int(r() * 32)] for _ in range(6))


def _break_lines_sum(gen: TenantGenerator, krng: Random, record: dict[str, Any]) -> dict[str, Any]:
    valid = _copy(record)
    record["amount_minor"] += 1 + int(krng.random() * 5000)
    return valid


def _break_line_vat(gen: TenantGenerator, krng: Random, record: dict[str, Any]) -> dict[str, Any]:
    valid = _copy(record)
    line = record["lines"][int(krng.random() * len(record["lines"]))]
    line["vat_minor"] += 2 + int(krng.random() * 500)
    return valid


def _break_gift_card_vat(gen: TenantGenerator, krng: Random, record: dict[str, Any]) -> dict[str, Any]:
    product = gen._gift_cards[int(krng.random() * len(gen._gift_cards))]
    record.update(kind="payment", booking_id=None, gift_card_code=_gift_card_code(krng))
    if record["payment_method"] in ("gift_card", "invoice", "cash"):
        record["payment_method"] = "vipps"
    record["lines"] = [_line(product, 1, None)]
    gen._reprice(record)
    valid = _copy(record)
    line = record["lines"][0]
    line["vat_rate"] = "25"
    line["vat_minor"] = vat_of(line["gross_minor"], "25")
    return valid


def _break_fee_exceeds(gen: TenantGenerator, krng: Random, record: dict[str, Any]) -> dict[str, Any]:
    if record["payment_method"] not in ONLINE_METHODS:
        record["payment_method"] = "stripe"
        gen._reprice(record)
    valid = _copy(record)
    record["provider_fee_minor"] = record["amount_minor"] + 1 + int(krng.random() * 1000)
    return valid


def _break_offline_fee(gen: TenantGenerator, krng: Random, record: dict[str, Any]) -> dict[str, Any]:
    if record["payment_method"] in ONLINE_METHODS:
        record["payment_method"] = "card_terminal"
        record["provider_fee_minor"] = 0
    valid = _copy(record)
    record["provider_fee_minor"] = 1 + int(krng.random() * min(record["amount_minor"], 2000))
    return valid


def _break_currency(gen: TenantGenerator, krng: Random, record: dict[str, Any]) -> dict[str, Any]:
    valid = _copy(record)
    record["currency"] = WRONG_CURRENCIES[int(krng.random() * len(WRONG_CURRENCIES))]
    return valid


_DROPPABLE = (
    "kind", "status", "booking_id", "occurred_at", "currency", "amount_minor", "payment_method",
    "provider_fee_minor", "gift_card_code", "lines",
)  # fmt: skip
_DROPPABLE_LINE = (
    "product_id", "category", "quantity", "gross_minor", "vat_rate", "vat_minor", "service_date",
)  # fmt: skip


def _break_missing(gen: TenantGenerator, krng: Random, record: dict[str, Any]) -> dict[str, Any]:
    valid = _copy(record)
    pick = int(krng.random() * (len(_DROPPABLE) + len(_DROPPABLE_LINE)))
    if pick < len(_DROPPABLE):
        del record[_DROPPABLE[pick]]
    else:
        line = record["lines"][int(krng.random() * len(record["lines"]))]
        del line[_DROPPABLE_LINE[pick - len(_DROPPABLE)]]
    return valid


def _break_type(gen: TenantGenerator, krng: Random, record: dict[str, Any]) -> dict[str, Any]:
    valid = _copy(record)
    line = record["lines"][int(krng.random() * len(record["lines"]))]
    pick = int(krng.random() * 8)
    if pick == 0:
        record["amount_minor"] = str(record["amount_minor"])
    elif pick == 1:
        record["provider_fee_minor"] = record["provider_fee_minor"] + 0.5
    elif pick == 2:
        record["occurred_at"] = int(dt.datetime.fromisoformat(record["occurred_at"]).timestamp())
    elif pick == 3:
        record["booking_id"] = 100000 + int(krng.random() * 900000)
    elif pick == 4:
        line["quantity"] = str(line["quantity"])
    elif pick == 5:
        line["gross_minor"] = str(line["gross_minor"])
    elif pick == 6:
        line["vat_minor"] = float(line["vat_minor"]) + 0.25
    else:
        record["kind"] = ["payment"] if record["kind"] == "payment" else ["refund"]
    return valid


_BREAKERS = {
    "lines_sum_mismatch": _break_lines_sum,
    "line_vat_wrong": _break_line_vat,
    "gift_card_vat": _break_gift_card_vat,
    "fee_exceeds_amount": _break_fee_exceeds,
    "offline_fee": _break_offline_fee,
    "wrong_currency": _break_currency,
    "missing_field": _break_missing,
    "wrong_type": _break_type,
}


def iter_transactions(
    tenants: Iterable[str] | int,
    date_from: dt.date | str,
    date_to: dt.date | str,
    seed: int = 0,
    *,
    transactions_per_day: float | None = None,
    knobs: Knobs | None = None,
    **knob_values: float,
) -> Iterator[dict[str, Any]]:
    """Every tenant's feed, tenant after tenant, each in (updated_at, id) order (dates inclusive)."""
    if knobs is not None and knob_values:
        raise TypeError("pass knobs= or knob keyword arguments, not both")
    knobs = knobs or Knobs.from_mapping(knob_values)
    for tenant in tenant_ids(tenants) if isinstance(tenants, int) else tenants:
        generator = TenantGenerator(tenant, seed, transactions_per_day=transactions_per_day, knobs=knobs)
        yield from generator.iter_records(date_from, date_to)
