"""Tripletex's accounting periods, read (not guessed) before a correction is posted: the first open date
on or after the voucher's date.

The periods come from `GET /ledger/accountingPeriod` (start, end exclusive, isClosed), read once per
client and year range; a night makes one client per tenant, so they are read at most once per tenant and
night. When they cannot be read (no access, an error), or do not cover the date, nothing is decided here
and the posting falls back to Tripletex's refusal (`protocol.is_closed_period`).
"""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[int, int], list[Period]]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    closed: bool

    def covers(self, day: dt.date) -> bool:
        return self.start <= day < self.end


@dataclass(frozen=True)
class OpenDate:
    """Where a voucher dated `asked` may go: `day` itself, or the first open date after a closed period."""

    asked: dt.date
    day: dt.date
    closed: Period | None = None

    @property
    def moved(self) -> bool:
        return self.day != self.asked

    def note(self, original: dt.date) -> str:
        assert self.closed is not None
        return (
            f"moved from {original.isoformat()} to {self.day.isoformat()}: the accounting period "
            f"{self.closed.start.isoformat()} to {self.closed.end.isoformat()} is closed in Tripletex"
        )


def _window(day: dt.date) -> tuple[int, int]:
    return day.year - 1, day.year + 2


def periods(client: Any, day: dt.date) -> list[Period]:
    """The periods starting from the year before `day` up to two years after (cached per client)."""
    first, last = _window(day)
    try:
        cached = _CACHE.setdefault(client, {})
    except TypeError:  # a client that cannot be weakly referenced is asked every time
        cached = {}
    if (first, last) not in cached:
        found = client.accounting_periods(dt.date(first, 1, 1), dt.date(last, 1, 1))
        cached[(first, last)] = sorted(
            (
                Period(
                    dt.date.fromisoformat(str(p["start"])[:10]),
                    dt.date.fromisoformat(str(p["end"])[:10]),
                    bool(p.get("isClosed")),
                )
                for p in found
                if p.get("start") and p.get("end")
            ),
            key=lambda p: p.start,
        )
    return cached[(first, last)]


def first_open(known: list[Period], day: dt.date) -> OpenDate | None:
    """`day` when no period covering it is closed; else the start of the first open period after the
    closed ones; None when the periods do not say (the date is not covered, or nothing later is)."""
    covering = [p for p in known if p.covers(day)]
    if not covering:
        return None
    at = day
    while shut := [p for p in known if p.covers(at) and p.closed]:
        at = max(p.end for p in shut)
    if at == day:
        return OpenDate(day, day)
    if not any(p.covers(at) for p in known):
        return None
    return OpenDate(day, at, Period(min(p.start for p in covering), at, True))


def open_date(client: Any, day: dt.date) -> OpenDate | None:
    """The first open date on or after `day` as Tripletex's periods say; None when they cannot be read
    or do not say (the caller falls back to Tripletex's refusal)."""
    reader = getattr(client, "accounting_periods", None)
    if reader is None:
        return None
    try:
        return first_open(periods(client, day), day)
    except Exception as exc:  # reading periods is a help, never a reason to stop posting
        log.warning("accounting periods not read (%s); the posting's refusal decides", exc)
        return None
