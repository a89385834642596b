"""Journals for the validation tests: the worked example and tampered copies of it."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import Connection

from bookspot_tripletex.journal.build import build_day, sum_postings
from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.tenants.config import TenantConfig

DAY = dt.date(2026, 11, 24)
VAT_TYPES = {"25": 3, "15": 31, "12": 33, "0": 5, "exempt": 6}


def worked_journal(conn: Connection, cfg: TenantConfig, day: dt.date = DAY) -> DayJournal:
    return build_day(conn, cfg, day)


def with_lines(journal: DayJournal, lines: list, rebuild_voucher: bool = False) -> DayJournal:
    """A copy of the journal with other lines; optionally its voucher summed again from them."""
    out = dataclasses.replace(journal, lines=list(lines))
    if rebuild_voucher and journal.voucher is not None:
        out.voucher = dataclasses.replace(journal.voucher, postings=sum_postings(out.lines, VAT_TYPES))
    return out
