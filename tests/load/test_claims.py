"""Fenced claims on staging (SQLite and PostgreSQL): takeover, token checks, dead holders, messages."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys

import pytest
from sqlalchemy import update

from bookspot_tripletex.cli import build_parser
from bookspot_tripletex.load import claims
from bookspot_tripletex.load.errors import ClaimLost
from bookspot_tripletex.load.state import get_voucher
from bookspot_tripletex.staging.schema import vouchers


def _row(engine, cfg, day):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return get_voucher(conn, cfg.tenant, day)


def test_a_taken_over_claim_can_no_longer_write(staging_engine, staged_day) -> None:
    cfg, day = staged_day
    now = dt.datetime.now(dt.UTC)
    with staging_engine.begin() as conn:
        first = claims.take(conn, _row(staging_engine, cfg, day), "first", now)
    assert first is not None and first.holder.startswith("first@")
    with staging_engine.begin() as conn:
        assert claims.take(conn, _row(staging_engine, cfg, day), "second", now) is None
        conn.execute(update(vouchers).values(claim_expires_at=now - dt.timedelta(seconds=1)))
    with staging_engine.begin() as conn:
        second = claims.take(conn, _row(staging_engine, cfg, day), "second", dt.datetime.now(dt.UTC))
    assert second is not None
    with pytest.raises(ClaimLost, match="second@"), staging_engine.begin() as conn:
        claims.fenced(conn, first, dt.datetime.now(dt.UTC), draft_id=1)
    with pytest.raises(ClaimLost):
        claims.renew(staging_engine, first)
    with staging_engine.begin() as conn:
        claims.fenced(conn, second, dt.datetime.now(dt.UTC), draft_id=2)
    assert _row(staging_engine, cfg, day).draft_id == 2


def test_a_dead_holder_of_this_host_is_taken_over_at_once(staging_engine, staged_day) -> None:
    cfg, day = staged_day
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = f"killed@{socket.gethostname()}:{gone.stdout.strip()}"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    with staging_engine.begin() as conn:
        conn.execute(
            update(vouchers).values(
                status="posting", claimed_by=dead, claim_token="t", claim_expires_at=later
            )
        )
    with staging_engine.begin() as conn:
        assert claims.take(conn, _row(staging_engine, cfg, day), "next", dt.datetime.now(dt.UTC)) is not None


def test_a_holder_elsewhere_or_alive_is_not_declared_dead() -> None:
    assert not claims.holder_is_dead(claims.holder_name("me"))
    assert not claims.holder_is_dead("run@another-host:1")
    assert not claims.holder_is_dead("no host at all")


def test_the_busy_message_names_the_holder(staging_engine, staged_day) -> None:
    cfg, day = staged_day
    with staging_engine.begin() as conn:
        claims.take(conn, _row(staging_engine, cfg, day), "night-run", dt.datetime.now(dt.UTC))
    message = str(claims.busy(_row(staging_engine, cfg, day)))
    assert "night-run@" in message and "claim until" in message


def test_force_repost_command_needs_who_and_why() -> None:
    args = build_parser().parse_args(
        ["force-repost", "--tenant", "t", "--date", "2026-11-24", "--by", "kari", "--reason", "wrong account"]
    )
    assert (args.by, args.reason) == ("kari", "wrong account")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["force-repost", "--tenant", "t", "--date", "2026-11-24", "--by", "kari"])
