"""Post a tenant-day's validated voucher to Tripletex, exactly once."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Protocol

from sqlalchemy import Engine

from bookspot_tripletex.domain import voucher_description
from bookspot_tripletex.journal.model import Voucher
from bookspot_tripletex.load.state import VoucherRow, claim, get_voucher, mark_posted, release_claim
from bookspot_tripletex.money import format_nok
from bookspot_tripletex.tenants.config import TenantConfig

log = logging.getLogger(__name__)


class VoucherBusy(RuntimeError):
    """Another run holds a live claim on this voucher; retry later."""


class TripletexLike(Protocol):
    def accounts_by_number(self, numbers: list[int]) -> dict[int, dict[str, Any]]: ...
    def vat_types_by_number(self, numbers: list[int]) -> dict[int, dict[str, Any]]: ...
    def voucher_type_by_name(self, name: str) -> dict[str, Any] | None: ...
    def ensure_voucher(self, payload: dict[str, Any]) -> tuple[dict[str, Any], bool]: ...


def _voucher(row: VoucherRow) -> Voucher:
    assert row.mapping_version_id is not None
    return Voucher(
        tenant=row.tenant,
        date=row.date,
        version=row.version,
        description=voucher_description(row.date),
        external_number=row.external_number,
        postings=row.postings,
        mapping_version_id=row.mapping_version_id,
        mapping_valid_from=row.date,
    )


def summary(row: VoucherRow, outcome: str) -> dict[str, Any]:
    return {
        "tenant": row.tenant,
        "date": row.date.isoformat(),
        "version": row.version,
        "outcome": outcome,
        "status": row.status,
        "external_number": row.external_number,
        "tripletex_voucher_id": row.tripletex_voucher_id,
        "tripletex_number": row.tripletex_number,
        "postings": [p.as_preview() for p in row.postings],
        "sum": format_nok(sum(p.amount_ore for p in row.postings)),
        "report": row.report_path,
        "error": row.error,
    }


def post_day(
    engine: Engine,
    tenant: TenantConfig,
    day: dt.date,
    client: TripletexLike | None,
    claimant: str,
    dry_run: bool = False,
    version: int = 1,
) -> dict[str, Any]:
    """Post the day's `ready` voucher; report `already_posted`, `held`, `empty` or `dry_run` otherwise."""
    with engine.begin() as conn:
        row = get_voucher(conn, tenant.tenant, day, version)
    if row is None:
        raise LookupError(f"{tenant.tenant} {day}: no voucher built yet (run the journal step first)")
    if row.status == "posted":
        return summary(row, "already_posted")
    if row.status not in ("ready", "posting"):
        return summary(row, row.status)
    if dry_run:
        return summary(row, "dry_run")
    if client is None:
        raise ValueError("a Tripletex client is required unless dry_run")
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        claimed = claim(conn, row.id, claimant, now)
        current = get_voucher(conn, tenant.tenant, day, version)
    assert current is not None
    if not claimed:
        if current.status == "posted":
            return summary(current, "already_posted")
        raise VoucherBusy(
            f"{tenant.tenant} {day}: voucher is being posted by {claimant!r}'s peer; retry later"
        )
    from bookspot_tripletex.tripletex.errors import TripletexError
    from bookspot_tripletex.tripletex.payload import voucher_payload

    try:
        voucher = _voucher(current)
        accounts = client.accounts_by_number(sorted({p.account for p in voucher.postings}))
        vat_types = client.vat_types_by_number(sorted({p.vat_type for p in voucher.postings}))
        voucher_type_id = None
        if tenant.voucher_type:
            found = client.voucher_type_by_name(tenant.voucher_type)
            if found is None:
                raise LookupError(f"voucher type {tenant.voucher_type!r} does not exist in Tripletex")
            voucher_type_id = found["id"]
        payload = voucher_payload(
            voucher,
            {n: a["id"] for n, a in accounts.items()},
            {n: v["id"] for n, v in vat_types.items()},
            voucher_type_id,
        )
        posted, created = client.ensure_voucher(payload)
    except (TripletexError, LookupError, KeyError) as exc:
        status = getattr(exc, "status", None)
        refused = not isinstance(exc, TripletexError) or (
            status is not None and 400 <= status < 500 and status not in (401, 429)
        )
        with engine.begin() as conn:
            release_claim(conn, current.id, str(exc), dt.datetime.now(dt.UTC), refused=refused)
        raise
    except Exception as exc:
        with engine.begin() as conn:
            release_claim(
                conn, current.id, f"{type(exc).__name__}: {exc}", dt.datetime.now(dt.UTC), refused=False
            )
        raise
    with engine.begin() as conn:
        mark_posted(conn, current.id, claimant, int(posted["id"]), _number(posted), dt.datetime.now(dt.UTC))
        done = get_voucher(conn, tenant.tenant, day, version)
    assert done is not None
    log.info(
        "%s %s: voucher %s %s", tenant.tenant, day, done.tripletex_number, "posted" if created else "found"
    )
    return summary(done, "posted" if created else "found_existing")


def _number(posted: dict[str, Any]) -> str | None:
    number = posted.get("number")
    year = posted.get("year")
    if number is None:
        return None
    return f"{number}-{year}" if year else str(number)
