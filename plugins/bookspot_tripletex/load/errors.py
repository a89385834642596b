"""What loading a tenant-day can raise: a refusal (fail, no retry), a busy day, a lost claim, a mismatch."""

from __future__ import annotations

import datetime as dt
from typing import Any


class DayRefused(RuntimeError):
    """Tripletex (or a check before it) refused the day: no retry can help; the reason says what to fix."""


class WrongCompany(DayRefused):
    """The Tripletex connection reaches another company than the tenant's; nothing was posted."""


class VoucherBusy(RuntimeError):
    """Another run holds a live claim on the voucher (named in the message); retry later."""


class ClaimLost(RuntimeError):
    """This run's claim was taken over (its lease ran out); it stopped before writing. Transient."""


class OutcomeUnclear(RuntimeError):
    """A write got no clear answer; the next attempt finds out what Tripletex holds. Transient."""


class ReconcileMismatch(RuntimeError):
    """What Tripletex holds differs from the journal or from staging; the message says how, in words.

    `days` holds each held day's problems; `result` the reconciliation's figures."""

    def __init__(
        self,
        message: str,
        days: dict[dt.date, list[str]] | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.days = days or {}
        self.result = result or {}


class ActionRefused(RuntimeError):
    """A person's action (a forced re-post, a release) does not apply to the tenant-day as it stands; the
    message says why and which command helps. Nothing was changed."""
