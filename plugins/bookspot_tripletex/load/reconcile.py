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

from sqlalchemy import Connection, Engine, and_, or_, select, update

from bookspot_tripletex.domain import VoucherStatus, external_number
from bookspot_tripletex.load.corrections import build_correction, journal_totals, posted_totals
from bookspot_tripletex.load.errors import ReconcileMismatch
from bookspot_tripletex.load.protocol import VOUCHER_FIELDS, delete_drafts, in_ledger
from bookspot_tripletex.load.readback import differences, ledger_lines
from bookspot_tripletex.load.send import POSTED_OR_REVERSED, post_row
from bookspot_tripletex.load.state import VoucherRow
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
    """The client, counting the Tripletex calls reconciliation makes (a listing's pages count once)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return target(*args, **kwargs)

        return counted


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
    now = now or dt.datetime.now(dt.UTC)
    today = today or dt.date.today()
    counting = _Counting(client)
    with engine.connect() as conn:
        mark = conn.execute(
            select(reconcile_marks).where(reconcile_marks.c.tenant_id == tenant.tenant)
        ).first()
        since = mark.touched_to if mark is not None else now - dt.timedelta(days=reconcile_days_setting())
        since = _aware(since) - dt.timedelta(
            seconds=_setting("BOOKSPOT_RECONCILE_SETTLE_SECONDS", SETTLE_SECONDS)
        )
        touched = touched_days(conn, tenant.tenant, since)
        if days is not None:
            touched |= _days_from(conn, tenant.tenant, today - dt.timedelta(days=days))
        rolling, rolling_after = _rolling(conn, counting, tenant.tenant, today, mark, touched)
        checked = sorted(touched | set(rolling))
        state = {d: _Day(d) for d in checked}
        for row in _rows(conn, tenant.tenant, checked):
            state[row.date].rows.append(row)
        pending = _pending_days(conn, tenant.tenant, checked)
    drafts_deleted: dict[str, int] = {}
    reversed_extras: list[int] = []
    reposted: list[dict[str, Any]] = []
    if state:
        _read_ledger(counting, tenant.tenant, state)
        for day in state.values():
            _check_day(engine, tenant, day, day.date in pending)
            if repair:
                reversed_extras += _reverse_extras(engine, counting, day)
                reposted += _repost_lost(engine, tenant, counting, day)
        drafts_deleted = _delete_stray_drafts(counting, tenant.tenant, {d: state[d] for d in touched})
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
    return result


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
    closed = _closed_periods(client, candidates[0], today)
    open_days = [d for d in candidates if not any(start <= d < end for start, end in closed)]
    after = mark.rolling_after if mark is not None else None
    ahead = [d for d in open_days if after is None or d > after]
    chosen = (ahead + [d for d in open_days if d not in ahead])[:size]
    return chosen, (chosen[-1] if chosen else None)


def _closed_periods(client: Any, first: dt.date, today: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The closed periods around today, read once per client and night with the corrections' look-up
    (`load.periods`); days older than what they cover count as open."""
    from bookspot_tripletex.load.periods import periods

    return [(p.start, p.end) for p in periods(client, today) if p.closed and p.end > first]


def _rows(conn: Connection, tenant: str, days: list[dt.date]) -> list[VoucherRow]:
    rows: list[VoucherRow] = []
    for i in range(0, len(days), CHUNK):
        part = days[i : i + CHUNK]
        rows += [
            VoucherRow.from_row(r)
            for r in conn.execute(
                select(vouchers)
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


def _read_ledger(client: Any, tenant: str, state: dict[dt.date, _Day]) -> None:
    """List our vouchers of the days; read by id each posted one a (lagging) listing left out."""
    for start, end in ranges(_dates(state)):
        for voucher in client.list_vouchers(start, end, fields=VOUCHER_FIELDS):
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


def _delete_stray_drafts(client: Any, tenant: str, state: dict[dt.date, _Day]) -> dict[str, int]:
    """Our drafts of touched days that have their effective voucher and nothing in flight: deleted,
    counted (drafts land only around a post, and the settling margin reads those days again)."""
    settled = {d for d, day in state.items() if not day.problems and not day.in_flight and day.live()}
    if not settled:
        return {}
    dates = {x for d in settled for x in {d, *(r.effective_date for r in state[d].rows)}}
    deleted: dict[str, int] = {}
    for start, end in ranges(dates):
        for draft in client.non_posted_vouchers(start, end, VOUCHER_FIELDS):
            ext = draft.get("externalVoucherNumber")
            day = day_of(tenant, ext)
            if day in settled and not in_ledger(draft):
                if delete_drafts(client, [draft], ext or ""):
                    deleted[day.isoformat()] = deleted.get(day.isoformat(), 0) + 1
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
