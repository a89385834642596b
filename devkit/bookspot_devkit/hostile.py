"""Hostile feed lines: the contract's example records mutated the ways a broken or malicious sender
would, and an oracle, written apart from the product's checkers, that says which lines are fit to post.

Used by `bench/hostile_feed.py` and its seeded test; `mutate` is deterministic for a seed.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

MAX_ORE = 10**15
VAT = {"25": 25, "15": 15, "12": 12, "0": 0, "exempt": 0}
METHODS = {"stripe", "dintero", "vipps", "card_terminal", "cash", "invoice", "bank_transfer", "gift_card"}
ODD_TEXT = ["\u202e", "\u0000", "\ud800", "\ufeff", "\u200b", "é" * 300, "🛶" * 50, "\\", '"', "\n"]


@dataclass(frozen=True)
class Line:
    """One feed line and the mutation that made it (`clean` when none)."""

    data: bytes
    mutation: str


def example_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _moved(record: dict[str, Any], day: dt.date, number: int) -> dict[str, Any]:
    new = copy.deepcopy(record)
    when = dt.datetime.fromisoformat(record["occurred_at"])
    stamp = dt.datetime.combine(day, when.timetz()).isoformat()
    new.update(id=f"tx_h{number:06d}", occurred_at=stamp, updated_at=stamp)
    return new


def _any_path(rng: Random, record: dict[str, Any]) -> tuple[Any, Any]:
    """A random (container, key) inside the record."""
    if rng.random() < 0.3 and record.get("lines"):
        line = rng.choice(record["lines"])
        return line, rng.choice(sorted(line))
    return record, rng.choice(sorted(record))


def _set(rng: Random, record: dict[str, Any], value: Any) -> dict[str, Any]:
    container, key = _any_path(rng, record)
    container[key] = value
    return record


def _json(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")


Mutation = Callable[[Random, dict[str, Any], list[dict[str, Any]]], bytes]

MUTATIONS: dict[str, Mutation] = {
    "byte_flip": lambda rng, r, _: _flip(rng, _json(r)),
    "truncated": lambda rng, r, _: (d := _json(r))[: rng.randrange(1, len(d))],
    "type_swap": lambda rng, r, _: _json(_set(rng, r, rng.choice([None, "12", 12.5, [], {}, True, -1]))),
    "huge_number": lambda rng, r, _: _json(_set(rng, r, rng.choice([10**30, 2**62, 2**63, MAX_ORE + 1]))),
    "negative": lambda rng, r, _: _json(_set(rng, r, -rng.randrange(1, 10**6))),
    "deep": lambda rng, r, _: (
        _json(r)[:-1] + b', "x": ' + b"[" * (d := rng.choice([40, 1000, 200_000])) + b"]" * d + b"}"
    ),
    "duplicate_key": lambda rng, r, _: (
        _json(r)[:-1] + b', "amount_minor": ' + str(rng.randrange(1, 10**6)).encode() + b"}"
    ),
    "odd_unicode": lambda rng, r, _: _json(_set(rng, r, rng.choice(ODD_TEXT))),
    "other_tenant": lambda rng, r, _: _json(
        r | {"account_id": rng.choice(["tenant-001", "fjord-kayak ", "", "FJORD-KAYAK"])}
    ),
    "repeated_id": lambda rng, r, seen: _json(r | {"id": rng.choice(seen)["id"]} if seen else r),
    "reordered": lambda rng, r, _: _json(dict(rng.sample(sorted(r.items()), len(r)))),
    "float_amount": lambda rng, r, _: _json(r | {"amount_minor": r["amount_minor"] + 0.5}),
    "not_json": lambda rng, r, _: rng.choice(
        [b"<html>502</html>", b"\xff\xfe\x00", b"null", b"[]", b'"x"', b"{}"]
    ),
}


def _flip(rng: Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out).replace(b"\n", b" ").replace(b"\r", b" ")


def mutate(
    examples: list[dict[str, Any]], count: int, seed: int, days: list[dt.date], clean: float = 0.5
) -> Iterator[Line]:
    """`count` lines: a share `clean` unchanged (moved to a random day, with its own id), the rest
    each given one random mutation."""
    rng = Random(seed)
    seen: list[dict[str, Any]] = []
    names = sorted(MUTATIONS)
    for number in range(count):
        record = _moved(rng.choice(examples), rng.choice(days), number)
        if rng.random() < clean:
            seen.append(record)
            yield Line(_json(record), "clean")
            continue
        name = rng.choice(names)
        data = MUTATIONS[name](rng, record, seen)
        yield Line(data.replace(b"\n", b" "), name)


def fit_to_post(data: bytes, tenant: str) -> bool:
    """The oracle: whether a line is a record the ledger may hold. Deliberately narrow (money, tenant,
    identity); a line it refuses must never be posted, whatever the product's checkers say."""
    try:
        record = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    if not isinstance(record, dict) or record.get("account_id") != tenant:
        return False
    if not isinstance(record.get("id"), str) or not record["id"] or record.get("currency") != "NOK":
        return False
    amount, fee, lines = record.get("amount_minor"), record.get("provider_fee_minor"), record.get("lines")
    if not _whole(amount, 1) or not _whole(fee, 0) or fee > amount:
        return False
    if not _one_of(record.get("payment_method"), METHODS) or not isinstance(lines, list) or not lines:
        return False
    total = 0
    for line in lines:
        if not isinstance(line, dict) or not _one_of(line.get("vat_rate"), VAT):
            return False
        gross, vat, quantity = line.get("gross_minor"), line.get("vat_minor"), line.get("quantity")
        if not _whole(gross, 0) or not _whole(vat, 0) or not _whole(quantity, 1):
            return False
        rate = VAT[line["vat_rate"]]
        if abs(vat - (2 * gross * rate + 100 + rate) // (200 + 2 * rate)) > 1:
            return False
        total += gross
    return total == amount


def _one_of(value: Any, allowed: Any) -> bool:
    return isinstance(value, str) and value in allowed


def _whole(value: Any, least: int) -> bool:
    return type(value) is int and least <= value <= MAX_ORE


@dataclass
class Figures:
    """What one hostile feed did on one database: `quarantined` lines (identical lines share one
    quarantine row), `superseded` lines (an older version of an id a later line replaced)."""

    lines: int = 0
    staged: int = 0
    quarantined: int = 0
    quarantine_rows: int = 0
    rows_without_reason: int = 0
    superseded: int = 0
    crashes: int = 0
    days_held: int = 0
    days_posted: int = 0
    bad_staged: int = 0
    bad_posted: int = 0
    seconds: float = 0.0
    crash: str = ""


def run_feed(engine: Any, tenant_file: Path, lines: list[Line], client: Any, work: Path) -> Figures:
    """Stage the lines as one initial import through the production path, hold and report each day,
    release the held days as an operator would, post what is ready to `client`, and count."""
    import time

    from sqlalchemy import select

    from bookspot_tripletex import pipeline
    from bookspot_tripletex.feed.source import JsonlFileSource
    from bookspot_tripletex.staging.db import migrate
    from bookspot_tripletex.staging.raw import raw_records
    from bookspot_tripletex.staging.release import release_day
    from bookspot_tripletex.staging.schema import quarantine, transactions
    from bookspot_tripletex.tenants.config import load_tenant_file
    from bookspot_tripletex.tenants.store import import_tenant

    figures = Figures(lines=len(lines))
    migrate(engine)
    tenant = load_tenant_file(tenant_file)
    with engine.begin() as conn:
        import_tenant(conn, tenant)
    feed = work / "hostile.jsonl"
    feed.write_bytes(b"".join(line.data + b"\n" for line in lines))
    started = time.perf_counter()
    window = (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    try:
        result = pipeline.stage_tenant(engine, tenant.tenant, JsonlFileSource(feed), *window)
    except Exception as exc:  # noqa: BLE001  (a crash is the figure this bench exists to count)
        figures.crashes, figures.crash = 1, f"{type(exc).__name__}: {str(exc)[:200]}"
        figures.seconds = time.perf_counter() - started
        return figures
    figures.staged, figures.quarantined = result["staged"], result["quarantined"]
    with engine.connect() as conn:
        reasons = list(
            conn.execute(select(quarantine.c.reason).where(quarantine.c.tenant_id == tenant.tenant)).scalars()
        )
        figures.quarantine_rows = len(reasons)
        figures.rows_without_reason = sum(1 for reason in reasons if not (reason or "").strip())
        days = sorted(set(conn.execute(select(transactions.c.local_date).distinct()).scalars()))
    posted: list[dt.date] = []
    for day in days:
        pipeline.journal_day(engine, tenant.tenant, day)
        status = pipeline.validate_day(engine, tenant.tenant, day, work / "reports")["status"]
        if status == "held":
            figures.days_held += 1
            with engine.begin() as conn:
                release_day(conn, tenant.tenant, day, "hostile-feed bench")
            pipeline.journal_day(engine, tenant.tenant, day)
            status = pipeline.validate_day(engine, tenant.tenant, day, work / "reports")["status"]
        if (
            status == "ready"
            and pipeline.load_day(engine, tenant.tenant, day, client, "bench")["outcome"] == "posted"
        ):
            posted.append(day)
    figures.seconds = time.perf_counter() - started
    figures.days_posted = len(posted)
    with engine.connect() as conn:
        raws = raw_records(conn, tenant.tenant)
        day_of = dict(conn.execute(select(transactions.c.transaction_id, transactions.c.local_date)).all())
    unfit = {tx_id for tx_id, raw in raws.items() if not fit_to_post(raw.encode("utf-8"), tenant.tenant)}
    figures.bad_staged = len(unfit)
    figures.bad_posted = sum(1 for tx_id in unfit if day_of.get(tx_id) in posted)
    figures.superseded = figures.lines - figures.staged - figures.quarantined - result.get("before_start", 0)
    return figures
