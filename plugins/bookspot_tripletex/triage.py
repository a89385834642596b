"""What a failed step means for its tenant-day: the run retries it, or a person must act (and how)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bookspot_tripletex.staging.outcomes import Outcome

CLI = "python -m bookspot_tripletex"


class ExtractRefused(RuntimeError):
    """BookSpot refused the tenant's connection (token, account, malformed answer): a person must fix it."""


def rerun(tenant: str, day: dt.date) -> str:
    return (
        f'the next night retries it, or re-run it now (trigger the DAG with day "{day}", or '
        f"`{CLI} run --tenant {tenant} --from {day} --to {day}`)"
    )


def classify(exc: BaseException) -> Outcome:
    """RETRY for what may pass by itself, REFUSED for what a person must fix, ERROR for the unexpected."""
    import requests
    from sqlalchemy.exc import OperationalError

    from bookspot_tripletex.feed.client import BookSpotError, BookSpotTransientError
    from bookspot_tripletex.load.activation import ActivationFailed
    from bookspot_tripletex.load.errors import (
        ClaimLost,
        DayRefused,
        OutcomeUnclear,
        ReconcileMismatch,
        VoucherBusy,
    )
    from bookspot_tripletex.tripletex.errors import (
        PayloadError,
        RateLimited,
        ServerError,
        TransportError,
        TripletexError,
        VoucherOutcomeUnknown,
    )

    busy = (VoucherBusy, ClaimLost, OutcomeUnclear)
    refused = (DayRefused, ReconcileMismatch)
    if isinstance(exc, busy + (BookSpotTransientError, requests.ConnectionError, requests.Timeout)):
        return Outcome.RETRY
    if isinstance(exc, RateLimited | ServerError | TransportError | VoucherOutcomeUnknown | OperationalError):
        return Outcome.RETRY
    if isinstance(exc, refused + (ActivationFailed, ExtractRefused, BookSpotError, PayloadError)):
        return Outcome.REFUSED
    if isinstance(exc, TripletexError):
        status = exc.status
        return Outcome.REFUSED if status is not None and 400 <= status < 500 else Outcome.RETRY
    if isinstance(exc, LookupError):
        return Outcome.REFUSED
    return Outcome.ERROR


def reason_of(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, RuntimeError | LookupError) else f"{type(exc).__name__}: {text}"


def action_for(step: str, outcome: Outcome, tenant: str, day: dt.date, detail: dict[str, Any]) -> str | None:
    """The command or UI action that lets a held or refused day through."""
    again = rerun(tenant, day)
    if step == "approve":
        page = f"the BookSpot review screen, day {tenant} {day}"
        if outcome is Outcome.AWAITING_APPROVAL:
            return f"approve or reject it on {page} (users who may run the nightly DAG)"
        if outcome is Outcome.HELD:
            return f"fix the cause and the next run puts the day up again, or approve it on {page}"
    if outcome is Outcome.HELD:
        if detail.get("quarantined"):
            return (
                f"fix the records in BookSpot, or post the day without them: "
                f"`{CLI} release-day --tenant {tenant} --date {day} --by <your name> --reason <why>`; {again}"
            )
        if detail.get("missing_mappings"):
            return f"map the missing account types in the tenant file, `{CLI} import-tenant` it; {again}"
        return f"read the day's report ({detail.get('report') or 'reports folder'}), fix the cause; {again}"
    if outcome is not Outcome.REFUSED:
        return None
    if step == "extract":
        return f"fix the tenant's BookSpot connection (Admin > Connections); {again}"
    if step == "activate":
        check = f"`{CLI} activation-check --tenant {tenant}`"
        return f"fix the chart or key in Tripletex, check with {check}; {again}"
    return (
        f"see `{CLI} voucher --tenant {tenant} --date {day}`, fix the cause in Tripletex or the mapping; "
        f"{again}"
    )
