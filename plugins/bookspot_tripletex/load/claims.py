"""Fenced claims on a voucher row: a token every write of the claimant checks, a lease kept by a heartbeat.

A run takes a row in `posting` with a fresh token; each of its later writes (draft id, posted, release)
updates the row only while that token is still there, so a run whose lease ran out and was taken over
can no longer change anything. A claim is free when its lease has ended, or at once when its holder is
proven dead (a process of this host that no longer runs).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, update

from bookspot_tripletex.domain import VoucherStatus
from bookspot_tripletex.load.errors import ClaimLost, VoucherBusy
from bookspot_tripletex.load.state import VoucherRow, get_voucher_by_id
from bookspot_tripletex.staging.schema import vouchers

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=60)
"""How long a claim lives without renewal; shorter than a load task's retry delay plus its backoff."""


def lease() -> dt.timedelta:
    raw = os.environ.get("BOOKSPOT_CLAIM_LEASE_SECONDS")
    return dt.timedelta(seconds=float(raw)) if raw else LEASE


def holder_name(claimant: str) -> str:
    """The claimant as stored: who asked, on which host, in which process."""
    return f"{claimant}@{socket.gethostname()}:{os.getpid()}"[:200]


def holder_is_dead(holder: str | None) -> bool:
    """True only when the holder ran on this host and its process is gone."""
    if not holder or "@" not in holder:
        return False
    host, _, pid = holder.rpartition("@")[2].rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Claim:
    voucher_id: int
    token: str
    holder: str
    expires_at: dt.datetime

    def left(self, now: dt.datetime | None = None) -> dt.timedelta:
        return self.expires_at - (now or dt.datetime.now(dt.UTC))


def take(conn: Connection, row: VoucherRow, claimant: str, now: dt.datetime) -> Claim | None:
    """Claim a `ready` row, or a `posting` row that is unclaimed, expired or held by a dead process."""
    token = secrets.token_hex(16)
    holder = holder_name(claimant)
    free = or_(
        vouchers.c.status == VoucherStatus.READY,
        and_(
            vouchers.c.status == VoucherStatus.POSTING,
            or_(
                vouchers.c.claim_token.is_(None),
                vouchers.c.claim_expires_at.is_(None),
                vouchers.c.claim_expires_at < now,
            ),
        ),
    )
    if row.status == VoucherStatus.POSTING and row.claim_token and holder_is_dead(row.claimed_by):
        log.warning(
            "%s: taking over the claim of %s, whose process is gone", row.external_number, row.claimed_by
        )
        free = or_(
            free, and_(vouchers.c.claim_token == row.claim_token, vouchers.c.claimed_by == row.claimed_by)
        )
    expires = now + lease()
    result = conn.execute(
        update(vouchers)
        .where(vouchers.c.id == row.id, free)
        .values(
            status=VoucherStatus.POSTING,
            claimed_by=holder,
            claimed_at=now,
            claim_token=token,
            claim_expires_at=expires,
            updated_at=now,
        )
    )
    return Claim(row.id, token, holder, expires) if result.rowcount == 1 else None


def busy(row: VoucherRow) -> VoucherBusy:
    until = row.claim_expires_at.isoformat(timespec="seconds") if row.claim_expires_at else "unknown"
    return VoucherBusy(
        f"{row.tenant} {row.date} ({row.external_number}) is being posted by {row.claimed_by!r} "
        f"(claim until {until}); retry later"
    )


def fenced(conn: Connection, claim: Claim, now: dt.datetime, **values: Any) -> None:
    """Update the claimed row only while this claim's token is on it; raise ClaimLost otherwise."""
    result = conn.execute(
        update(vouchers)
        .where(vouchers.c.id == claim.voucher_id, vouchers.c.claim_token == claim.token)
        .values(updated_at=now, **values)
    )
    if result.rowcount != 1:
        current = get_voucher_by_id(conn, claim.voucher_id)
        holder = current.claimed_by if current else None
        raise ClaimLost(f"claim of {claim.holder!r} was taken over by {holder!r}; stopped before writing")


def renew(engine: Engine, claim: Claim) -> None:
    now = dt.datetime.now(dt.UTC)
    expires = now + lease()
    with engine.begin() as conn:
        fenced(conn, claim, now, claim_expires_at=expires)
    claim.expires_at = expires


def ensure_lease(engine: Engine, claim: Claim, needed: float) -> None:
    """Before a write: renew the lease; refuse the write if even a fresh lease cannot cover it."""
    renew(engine, claim)
    if claim.left().total_seconds() < needed:
        raise ClaimLost(
            f"lease of {lease().total_seconds():.0f} s cannot cover a write of up to {needed:.0f} s; "
            "not writing"
        )


@contextmanager
def heartbeat(engine: Engine, claim: Claim, every: float | None = None) -> Iterator[threading.Event]:
    """Renew the lease every quarter lease while the block runs; the event is set if the claim was lost."""
    lost = threading.Event()
    stop = threading.Event()
    interval = every if every is not None else lease().total_seconds() / 4

    def beat() -> None:
        while not stop.wait(interval):
            try:
                renew(engine, claim)
            except ClaimLost:
                lost.set()
                return
            except Exception as exc:  # a staging hiccup: the next beat tries again
                log.warning("claim heartbeat failed: %s", exc)

    thread = threading.Thread(target=beat, name=f"claim-{claim.voucher_id}", daemon=True)
    if interval > 0 and os.environ.get("BOOKSPOT_CLAIM_HEARTBEAT", "1") != "0":
        thread.start()
    try:
        yield lost
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
