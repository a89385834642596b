"""Reconciliation: the ledger checked against the truth, per tenant-day, for every day touched.

Which days: every day posted, corrected, reversed, rebuilt or with changed records since the tenant's
last clean reconciliation (`reconcile_marks.touched_to`, less a settling margin for listings that lag),
plus a bounded rolling pass over posted days in Tripletex's open periods; not a window of the clock.

Per day, the vouchers of our externalVoucherNumbers are listed by date (one listing per run of nearby
dates) and must form one effective chain: at most one live voucher per externalVoucherNumber, none that
staging does not know, and their postings summed per account and VAT type equal to the journal of the
day's records. A posted voucher missing from a listing is read by id before it is called deleted (a
lagging listing is no evidence). Our drafts left in the non-posted list are deleted once their day has
its effective voucher. A problem holds the day: `ReconcileMismatch` says it per day, never "match".

With `repair`, and only once Tripletex confirms it by id, a voucher deleted or reversed behind our back
is marked so and the day posted again at once by the one posting protocol (`send.post_row`), and an
extra live voucher under one of our numbers is reversed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from bookspot_tripletex.domain import VoucherStatus, external_number
from bookspot_tripletex.load.corrections import build_correction, journal_totals, posted_totals
from bookspot_tripletex.load.errors import ReconcileMismatch
from bookspot_tripletex.load.protocol import VOUCHER_FIELDS, delete_drafts, in_ledger
from bookspot_tripletex.load.readback import differences, ledger_lines
from bookspot_tripletex.load.send import POSTED_OR_REVERSED, post_row
from bookspot_tripletex.load.state import ROW_COLUMNS, VoucherRow
from bookspot_tripletex.money import format_nok
from bookspot_tripletex.staging.schema import pending_corrections, reconcile_marks, vouchers
from bookspot_tripletex.staging.upsert import insert_ignore
from bookspot_tripletex.tenants.config import TenantConfig

log = logging.getLogger(__name__)

IN_FLIGHT = (VoucherStatus.READY, VoucherStatus.POSTING)
"""A voucher row saved to be posted, or being posted: its day is not summed yet."""
RECONCILE_DAYS = 14
"""A tenant never reconciled before starts with the days touched in this many days."""
ROLLING_DAYS = 7
"""Posted days in open periods re-read per night by the rolling pass, whether touched or not."""
SETTLE_SECONDS = 600
"""Days touched this shortly before a reconciliation are read again by the next one (lagging listings,
late drafts)."""
GAP_DAYS = 7
"""Days this close together share one listing."""
CHUNK = 500


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def reconcile_days_setting() -> int:
    return _setting("BOOKSPOT_RECONCILE_DAYS", RECONCILE_DAYS)


class _Counting:
    """The client, counting the Tripletex calls reconciliation makes (a listing's pages count once).

    `client` may be a zero-argument callable that makes the client: it is called on the first call
    reconciliation needs, so that a night whose load step read everything makes no session at all."""

    def __init__(self, client: Any) -> None:
        self._factory = client if _is_factory(client) else None
        self._client = None if self._factory is not None else client
        self.calls: Counter[str] = Counter()

    @property
    def client(self) -> Any:
        if self._client is None:
            assert self._factory is not None
            self._client = self._factory()
        return self._client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        target = getattr(self.client, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return target(*args, **kwargs)

        return counted


def _is_factory(client: Any) -> bool:
    """A zero-argument callable that makes the client, rather than a client."""
    return callable(client) and not hasattr(client, "list_vouchers")


@dataclass
class _Day:
    """What staging and Tripletex hold for one tenant-day."""

    date: dt.date
    rows: list[VoucherRow] = field(default_factory=list)
    found: dict[int, dict[str, Any]] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    @property
    def in_flight(self) -> bool:
        return any(r.status in IN_FLIGHT for r in self.rows)

    def live(self) -> list[dict[str, Any]]:
        return sorted(
            (v for v in self.found.values() if in_ledger(v) and not v.get("reverseVoucher")),
            key=lambda v: int(v["id"]),
        )


def reconcile(
    engine: Engine,
    tenant: TenantConfig,
    client: Any,
    days: int | None = None,
    today: dt.date | None = None,
    repair: bool = False,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Check every day touched since the last reconciliation (and the last `days` days, when given) plus
    the rolling pass; raise ReconcileMismatch naming each held day; record the mark when all agree."""
    from bookspot_tripletex.load.doubts import doubted_days
    from bookspot_tripletex.load.reads import saved_listings

    now = now or dt.datetime.now(dt.UTC)
    today = today or dt.date.today()
    counting = _Counting(client)
    with engine.connect() as conn:
        mark = _mark(conn, tenant.tenant)
        touched, rolling, rolling_after = _plan(engine, conn, counting, tenant.tenant, today, mark, now, days)
        checked = sorted(touched | set(rolling))
        state = {d: _Day(d) for d in checked}
        for row in _rows(conn, tenant.tenant, checked):
            state[row.date].rows.append(row)
        changed = _changed_at(conn, tenant.tenant, checked)
        pending = _pending_days(conn, tenant.tenant, checked)
        doubts = doubted_days(conn, tenant.tenant)
        listings = saved_listings(conn, tenant.tenant, now)
    drafts_deleted: dict[str, int] = {}
    reversed_extras: list[int] = []
    reposted: list[dict[str, Any]] = []
    saved_used = 0
    if state:
        saved_used = _read_ledger(counting, tenant.tenant, state, listings, changed)
        for day in state.values():
            _check_day(engine, tenant, day, day.date in pending)
            if repair:
                reversed_extras += _reverse_extras(engine, counting, day)
                reposted += _repost_lost(engine, tenant, counting, day)
        drafts_deleted = _delete_stray_drafts(
            engine, counting, tenant.tenant, {d: state[d] for d in touched if d in doubts}, doubts
        )
    held = {d.date: d.problems for d in state.values() if d.problems}
    result = {
        "tenant": tenant.tenant,
        "from": checked[0].isoformat() if checked else None,
        "to": checked[-1].isoformat() if checked else None,
        "days": len(checked),
        "checked": [d.isoformat() for d in checked],
        "touched": len(touched),
        "rolling": len(rolling),
        "vouchers": sum(len(d.found) for d in state.values()),
        "listings_from_load": saved_used,
        "confirmed_by_id": counting.calls["get_voucher"],
        "calls": sum(counting.calls.values()),
        "calls_by_kind": dict(counting.calls),
        "drafts_deleted": sum(drafts_deleted.values()),
        "drafts_deleted_by_day": drafts_deleted,
        "reversed_duplicates": reversed_extras,
        "reposted": reposted,
        "held_days": {d.isoformat(): p for d, p in sorted(held.items())},
        "problems": [p for _, ps in sorted(held.items()) for p in ps],
    }
    log.info(
        "%s: reconciled %d day(s) (%d touched, %d rolling) in %d Tripletex call(s); %d stray draft(s) "
        "deleted; %d day(s) held",
        tenant.tenant,
        len(checked),
        len(touched),
        len(rolling),
        result["calls"],
        result["drafts_deleted"],
        len(held),
    )
    if held:
        raise ReconcileMismatch(f"{tenant.tenant}: " + "; ".join(result["problems"]), held, result)
    _save_mark(engine, tenant.tenant, now, rolling_after if rolling else None, result, mark is not None)
    from bookspot_tripletex.load.reads import forget_reads

    forget_reads(engine, tenant.tenant, now)
    return result


def _mark(conn: Connection, tenant: str) -> Any:
    return conn.execute(select(reconcile_marks).where(reconcile_marks.c.tenant_id == tenant)).first()


def _plan(
    engine: Engine,
    conn: Connection,
    client: Any,
    tenant: str,
    today: dt.date,
    mark: Any,
    now: dt.datetime,
    days: int | None = None,
) -> tuple[set[dt.date], list[dt.date], dt.date | None]:
    """The days a reconciliation at `now` checks: touched since the mark (less the settling margin),
    days with a doubt about a draft, the last `days` days when asked, and the rolling pass."""
    from bookspot_tripletex.load.doubts import doubted_days

    since = mark.touched_to if mark is not None else now - dt.timedelta(days=reconcile_days_setting())
    since = _aware(since) - dt.timedelta(
        seconds=_setting("BOOKSPOT_RECONCILE_SETTLE_SECONDS", SETTLE_SECONDS)
    )
    touched = touched_days(conn, tenant, since) | set(doubted_days(conn, tenant))
    if days is not None:
        touched |= _days_from(conn, tenant, today - dt.timedelta(days=days))
    rolling, rolling_after = _rolling(conn, client, tenant, today, mark, touched, engine)
    return touched, rolling, rolling_after


def plan_for_tonight(
    engine: Engine, tenant: str, client: Any, today: dt.date, now: dt.datetime, days: int | None = None
) -> tuple[list[tuple[dt.date, dt.date]], int]:
    """The listings this night's reconciliation of the tenant needs (the load step makes them), and the
    Tripletex calls planning them took (the accounting periods, when not kept in staging)."""
    counting = _Counting(client)
    with engine.connect() as conn:
        mark = _mark(conn, tenant)
        touched, rolling, _ = _plan(engine, conn, counting, tenant, today, mark, now, days)
        checked = sorted(touched | set(rolling))
        state = {d: _Day(d) for d in checked}
        for row in _rows(conn, tenant, checked):
            state[row.date].rows.append(row)
    return (ranges(_dates(state)) if state else []), sum(counting.calls.values())


def _changed_at(conn: Connection, tenant: str, days: list[dt.date]) -> dict[dt.date, dt.datetime]:
    """The last change staging recorded to each day's vouchers (a listing older than it is not used)."""
    out: dict[dt.date, dt.datetime] = {}
    for i in range(0, len(days), CHUNK):
        for day, at in conn.execute(
            select(vouchers.c.local_date, func.max(vouchers.c.updated_at))
            .where(vouchers.c.tenant_id == tenant, vouchers.c.local_date.in_(days[i : i + CHUNK]))
            .group_by(vouchers.c.local_date)
        ):
            if at is not None:
                out[day] = _aware(at)
    return out


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def touched_days(conn: Connection, tenant: str, since: dt.datetime) -> set[dt.date]:
    """Days whose vouchers changed (posted, corrected, reversed, rebuilt) or whose records changed after
    posting since `since`, and days with a correction not yet settled."""
    changed = conn.execute(
        select(vouchers.c.local_date)
        .where(
            vouchers.c.tenant_id == tenant,
            or_(
                vouchers.c.updated_at >= since,
                and_(vouchers.c.version > 1, vouchers.c.status.in_(IN_FLIGHT)),
            ),
        )
        .distinct()
    ).scalars()
    records = conn.execute(
        select(pending_corrections.c.local_date)
        .where(
            pending_corrections.c.tenant_id == tenant,
            or_(pending_corrections.c.detected_at >= since, pending_corrections.c.resolved_at.is_(None)),
        )
        .distinct()
    ).scalars()
    return set(changed) | set(records)


def _days_from(conn: Connection, tenant: str, start: dt.date) -> set[dt.date]:
    found = conn.execute(
        select(vouchers.c.local_date)
        .where(
            vouchers.c.tenant_id == tenant,
            or_(vouchers.c.local_date >= start, vouchers.c.posting_date >= start),
        )
        .distinct()
    ).scalars()
    return set(found)


def _rolling(
    conn: Connection,
    client: Any,
    tenant: str,
    today: dt.date,
    mark: Any,
    touched: set[dt.date],
    engine: Engine | None = None,
) -> tuple[list[dt.date], dt.date | None]:
    """The next posted days in open periods after the rolling cursor (wrapping round), and the new cursor."""
    size = _setting("BOOKSPOT_RECONCILE_ROLLING_DAYS", ROLLING_DAYS)
    if size <= 0:
        return [], None
    posted = sorted(
        conn.execute(
            select(vouchers.c.local_date)
            .where(
                vouchers.c.tenant_id == tenant,
                vouchers.c.status == VoucherStatus.POSTED,
                vouchers.c.local_date <= today,
            )
            .distinct()
        ).scalars()
    )
    candidates = [d for d in posted if d not in touched]
    if not candidates:
        return [], None
    closed = _closed_periods(client, candidates[0], today, engine, tenant)
    open_days = [d for d in candidates if not any(start <= d < end for start, end in closed)]
    after = mark.rolling_after if mark is not None else None
    ahead = [d for d in open_days if after is None or d > after]
    chosen = (ahead + [d for d in open_days if d not in ahead])[:size]
    return chosen, (chosen[-1] if chosen else None)


def _closed_periods(
    client: Any, first: dt.date, today: dt.date, engine: Engine | None = None, tenant: str | None = None
) -> list[tuple[dt.date, dt.date]]:
    """The closed periods around today: as kept in staging when read within the re-check schedule
    (`load/binding.py`), else read (once per client and night, with the corrections' look-up,
    `load.periods`) and kept; days older than what they cover count as open."""
    from bookspot_tripletex.load.periods import periods

    kept = None
    if engine is not None and tenant is not None:
        from bookspot_tripletex.load.binding import saved_periods

        kept = saved_periods(engine, tenant)
    if kept is not None and _window_of(kept, today):
        found = [
            (dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"]), p["closed"])
            for p in kept
            if "start" in p
        ]
    else:
        read = periods(client, today)
        found = [(p.start, p.end, p.closed) for p in read]
        if engine is not None and tenant is not None:
            from bookspot_tripletex.load.binding import save_periods

            save_periods(
                engine,
                tenant,
                [
                    {"start": a.isoformat(), "end": b.isoformat(), "closed": c, "for": today.year}
                    for a, b, c in found
                ]
                or [{"for": today.year}],
            )
    return [(start, end) for start, end, closed in found if closed and end > first]


def _window_of(kept: list[dict[str, Any]], today: dt.date) -> bool:
    """Whether the kept periods were read for this year (the look-up reads around today's year)."""
    return bool(kept) and all(p.get("for") == today.year for p in kept)


def _rows(conn: Connection, tenant: str, days: list[dt.date]) -> list[VoucherRow]:
    rows: list[VoucherRow] = []
    for i in range(0, len(days), CHUNK):
        part = days[i : i + CHUNK]
        rows += [
            VoucherRow.from_row(r)
            for r in conn.execute(
                select(*ROW_COLUMNS)
                .where(vouchers.c.tenant_id == tenant, vouchers.c.local_date.in_(part))
                .order_by(vouchers.c.local_date, vouchers.c.version)
            )
        ]
    return rows


def _pending_days(conn: Connection, tenant: str, days: list[dt.date]) -> set[dt.date]:
    found: set[dt.date] = set()
    for i in range(0, len(days), CHUNK):
        found |= set(
            conn.execute(
                select(pending_corrections.c.local_date).where(
                    pending_corrections.c.tenant_id == tenant,
                    pending_corrections.c.local_date.in_(days[i : i + CHUNK]),
                    pending_corrections.c.resolved_at.is_(None),
                )
            ).scalars()
        )
    return found


def ranges(dates: set[dt.date], gap: int = GAP_DAYS) -> list[tuple[dt.date, dt.date]]:
    """Runs of dates at most `gap` days apart, as [start, end) pairs: one listing each."""
    out: list[tuple[dt.date, dt.date]] = []
    for day in sorted(dates):
        if out and (day - out[-1][1]).days < gap:
            out[-1] = (out[-1][0], day + dt.timedelta(days=1))
        else:
            out.append((day, day + dt.timedelta(days=1)))
    return out


def day_of(tenant: str, ext: str | None) -> dt.date | None:
    """The day one of our externalVoucherNumbers names; None for anyone else's."""
    prefix = external_number(tenant, dt.date(2000, 1, 1), 1).rsplit(":", 2)[0] + ":"
    if not ext or not ext.startswith(prefix):
        return None
    try:
        return dt.date.fromisoformat(ext[len(prefix) :].split(":", 1)[0])
    except ValueError:
        return None


def _dates(state: dict[dt.date, _Day]) -> set[dt.date]:
    return {d for day in state.values() for d in {day.date, *(r.effective_date for r in day.rows)}}


def _read_ledger(
    client: Any,
    tenant: str,
    state: dict[dt.date, _Day],
    listings: list[Any] | None = None,
    changed: dict[dt.date, dt.datetime] | None = None,
) -> int:
    """List our vouchers of the days; read by id each posted one a (lagging) listing left out.

    A range the load step already listed (`load/ledger.py`) after the last change to its days is taken
    from staging instead of Tripletex; how many ranges were, is returned."""
    used = 0
    for start, end in ranges(_dates(state)):
        listing = _saved_for(listings or [], state, changed or {}, start, end)
        if listing is not None:
            used += 1
            listed = [
                v for v in listing.vouchers if start.isoformat() <= str(v.get("date"))[:10] < end.isoformat()
            ]
        else:
            listed = client.list_vouchers(start, end, fields=VOUCHER_FIELDS)
        for voucher in listed:
            day = day_of(tenant, voucher.get("externalVoucherNumber"))
            if day in state:
                state[day].found[int(voucher["id"])] = voucher
    for day in state.values():
        for row in day.rows:
            vid = row.tripletex_voucher_id
            if vid is None or vid in day.found or row.status != VoucherStatus.POSTED:
                continue
            voucher = client.get_voucher(vid, VOUCHER_FIELDS)
            if voucher is None:
                day.gone.add(vid)
            else:
                day.found[vid] = voucher
    return used


def _saved_for(
    listings: list[Any],
    state: dict[dt.date, _Day],
    changed: dict[dt.date, dt.datetime],
    start: dt.date,
    end: dt.date,
) -> Any:
    """The newest saved listing covering [start, end) made after every change staging recorded to the
    days whose vouchers fall in it, else None (then Tripletex is asked)."""
    days = [
        d.date
        for d in state.values()
        if any(start <= x < end for x in {d.date, *(r.effective_date for r in d.rows)})
    ]
    last = max((changed[d] for d in days if d in changed), default=None)
    for listing in listings:
        if listing.covers(start, end) and (last is None or listing.read_at >= last):
            return listing
    return None


def _check_day(engine: Engine, tenant: TenantConfig, day: _Day, pending: bool) -> None:
    """One effective chain whose sums equal the journal; problems go to `day.problems` in words."""
    known = {r.external_number: r for r in day.rows}
    live = day.live()
    per_ext = Counter(v.get("externalVoucherNumber") for v in live)
    for ext, n in sorted(per_ext.items()):
        if ext not in known:
            ids = ", ".join(str(v["id"]) for v in live if v.get("externalVoucherNumber") == ext)
            day.problems.append(f"{ext}: live voucher(s) {ids} in Tripletex that staging never posted")
        elif n > 1:
            ids = ", ".join(str(v["id"]) for v in live if v.get("externalVoucherNumber") == ext)
            day.problems.append(f"{ext}: {n} live vouchers ({ids}): the day is in the ledger more than once")
    for row in day.rows:
        if row.status == VoucherStatus.POSTED and row.tripletex_voucher_id is not None:
            voucher = (
                None if row.tripletex_voucher_id in day.gone else day.found.get(row.tripletex_voucher_id)
            )
            day.problems += differences(row, voucher)
        elif row.status in IN_FLIGHT and row.version > 1:
            day.problems.append(f"{row.external_number}: correction not posted yet ({row.status})")
    if pending:
        day.problems.append(
            f"{tenant.tenant} {day.date}: a change after posting has no correction voucher yet"
        )
    if day.in_flight or pending:
        return
    expected = _expected(engine, tenant, day)
    held: Counter[tuple[int, int]] = Counter()
    for voucher in live:
        for (account, vat, amount), n in ledger_lines(voucher).items():
            held[(account, vat)] += amount * n
    if _nonzero(held) != _nonzero(expected):
        day.problems.append(f"{tenant.tenant} {day.date}: {_compare(held, expected)}")


def _expected(engine: Engine, tenant: TenantConfig, day: _Day) -> Counter[tuple[int, int]]:
    """The day's journal per (account, VAT type); what staging posted while the day's journal is held."""
    from bookspot_tripletex.journal.build import build_day

    if not any(r.status in POSTED_OR_REVERSED for r in day.rows):
        return Counter()
    with engine.connect() as conn:
        totals = journal_totals(build_day(conn, tenant, day.date))
    return totals if totals is not None else posted_totals(day.rows)


def _nonzero(totals: Counter[tuple[int, int]]) -> dict[tuple[int, int], int]:
    return {k: v for k, v in totals.items() if v}


def _compare(held: Counter[tuple[int, int]], expected: Counter[tuple[int, int]]) -> str:
    """The ledger's live sums against the journal's, in words (a whole multiple is named as such)."""
    keys = sorted(k for k in set(held) | set(expected) if held[k] != expected[k])
    times = {
        divmod(held[k], expected[k]) if expected[k] else None
        for k in set(_nonzero(held)) | set(_nonzero(expected))
    }
    if len(times) == 1 and (n := times.pop()) is not None and n[1] == 0 and n[0] > 1:
        return f"the ledger holds the day's journal {n[0]} times (more than one effective voucher chain)"
    if not _nonzero(held):
        return "the ledger holds no live voucher of the day, the journal has postings"
    shown = ", ".join(
        f"account {acc} VAT {vat}: {format_nok(held[(acc, vat)])} in the ledger, "
        f"{format_nok(expected[(acc, vat)])} in the journal"
        for acc, vat in keys
    )
    return f"the live vouchers differ from the journal: {shown}"


def _reverse_extras(engine: Engine, client: Any, day: _Day) -> list[int]:
    """Reverse extra live vouchers under one of our numbers, keeping the one staging recorded."""
    done: list[int] = []
    recorded = {r.external_number: r for r in day.rows}
    by_ext: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for voucher in day.live():
        by_ext[voucher.get("externalVoucherNumber") or ""].append(voucher)
    for ext, live in by_ext.items():
        row = recorded.get(ext)
        if row is None or len(live) < 2:
            continue
        keep = row.tripletex_voucher_id if row.tripletex_voucher_id in {int(v["id"]) for v in live} else None
        keep = keep or int(live[0]["id"])
        for extra in live:
            if int(extra["id"]) == keep:
                continue
            reversal = client.reverse_voucher(int(extra["id"]), dt.date.fromisoformat(extra["date"]))
            confirmed = client.get_voucher(int(extra["id"]), VOUCHER_FIELDS)
            if confirmed is not None and confirmed.get("reverseVoucher"):
                done.append(int(extra["id"]))
                _note(engine, row, f"duplicate voucher {extra['id']} reversed by reconciliation")
                day.problems.append(
                    f"{ext}: duplicate voucher {extra['id']} reversed (by {reversal.get('id')})"
                )
    return done


def _repost_lost(engine: Engine, tenant: TenantConfig, client: Any, day: _Day) -> list[dict[str, Any]]:
    """A posted voucher Tripletex confirms by id as deleted or reversed: mark it, post the day again."""
    lost = []
    for row in day.rows:
        if row.status != VoucherStatus.POSTED or row.tripletex_voucher_id is None:
            continue
        seen = day.found.get(row.tripletex_voucher_id)
        if row.tripletex_voucher_id not in day.gone and not (seen and seen.get("reverseVoucher")):
            continue
        now_there = client.get_voucher(row.tripletex_voucher_id, VOUCHER_FIELDS)
        if now_there is not None and not now_there.get("reverseVoucher"):
            continue
        how = "deleted" if now_there is None else "reversed"
        lost.append((row, f"voucher {row.tripletex_voucher_id} was {how} in Tripletex"))
    if not lost:
        return []
    with engine.begin() as conn:
        for row, why in lost:
            conn.execute(
                update(vouchers)
                .where(vouchers.c.id == row.id, vouchers.c.status == VoucherStatus.POSTED)
                .values(status=VoucherStatus.REVERSED, note=why, updated_at=dt.datetime.now(dt.UTC))
            )
        fresh = build_correction(
            conn, tenant, day.date, kind="repost", note="posted again: " + "; ".join(w for _, w in lost)
        )
    if fresh is None:
        return []
    try:
        posted = post_row(engine, tenant, fresh, client, "reconcile-repair")
    except Exception as exc:
        day.problems.append(
            f"{fresh.external_number}: the day's re-post is saved but not in the ledger yet ({exc}); "
            "the next run posts it"
        )
        return []
    day.problems.append(f"{posted['external_number']}: the day posted again ({posted['outcome']})")
    return [posted]


def _delete_stray_drafts(
    engine: Engine,
    client: Any,
    tenant: str,
    state: dict[dt.date, _Day],
    doubts: dict[dt.date, set[dt.date]] | None = None,
) -> dict[str, int]:
    """Our drafts of days with a doubt (`load/doubts.py`: a draft POST whose answer was never recorded,
    a draft not deleted) that have their effective voucher and nothing in flight: listed, deleted,
    counted. A day none of whose draft POSTs went unanswered cannot have a stray draft and is not
    listed. Doubts older than the settling margin are cleared once the listing left no draft of ours."""
    from bookspot_tripletex.load.doubts import clear_doubts

    settled = {d for d, day in state.items() if not day.problems and not day.in_flight and day.live()}
    if not settled:
        return {}
    doubts = doubts or {}
    dates = {
        x for d in settled for x in {d, *(r.effective_date for r in state[d].rows), *doubts.get(d, set())}
    }
    deleted: dict[str, int] = {}
    left: set[dt.date] = set()
    listed_at = dt.datetime.now(dt.UTC)
    for start, end in ranges(dates):
        for draft in client.non_posted_vouchers(start, end, VOUCHER_FIELDS):
            ext = draft.get("externalVoucherNumber")
            day = day_of(tenant, ext)
            if day in settled and not in_ledger(draft):
                if delete_drafts(client, [draft], ext or ""):
                    deleted[day.isoformat()] = deleted.get(day.isoformat(), 0) + 1
                else:
                    left.add(day)
    settle = dt.timedelta(seconds=_setting("BOOKSPOT_RECONCILE_SETTLE_SECONDS", SETTLE_SECONDS))
    with engine.begin() as conn:
        clear_doubts(conn, tenant, settled - left, listed_at - settle)
    return deleted


def _note(engine: Engine, row: VoucherRow, text: str) -> None:
    note = f"{row.note}; {text}" if row.note else text
    with engine.begin() as conn:
        conn.execute(
            update(vouchers)
            .where(vouchers.c.id == row.id)
            .values(note=note, updated_at=dt.datetime.now(dt.UTC))
        )


def _save_mark(
    engine: Engine,
    tenant: str,
    now: dt.datetime,
    rolling_after: dt.date | None,
    result: dict[str, Any],
    exists: bool,
) -> None:
    values: dict[str, Any] = {
        "touched_to": now,
        "checked_at": dt.datetime.now(dt.UTC),
        "days": result["days"],
        "calls": result["calls"],
        "drafts_deleted": result["drafts_deleted"],
    }
    if rolling_after is not None:
        values["rolling_after"] = rolling_after
    with engine.begin() as conn:
        if not exists:
            insert_ignore(conn, reconcile_marks, [{"tenant_id": tenant, **values}], ["tenant_id"])
        conn.execute(update(reconcile_marks).where(reconcile_marks.c.tenant_id == tenant).values(**values))
