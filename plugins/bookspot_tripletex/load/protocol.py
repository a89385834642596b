"""The posting protocol: a draft recorded in staging, then exactly that draft sent to the ledger.

1. Before the draft's POST, staging notes that one was asked for (`draft_requested_at`).
2. POST /ledger/voucher?sendToLedger=false (a draft: outside the ledger, no number; one attempt).
3. Its id and version are recorded in staging under the claim's token.
4. PUT /ledger/voucher/{id}/:sendToLedger?version= puts that one draft in the ledger; a second send of
   it (a late commit, another run) is refused by the version check.

Only the recorded draft is ever sent, and a run records a draft only while it holds the claim, so two
vouchers in the ledger would need two recorded drafts: a draft is replaced only when Tripletex no longer
has it (GET by id: 404). After an unclear answer the attempt stops; the next one reads the recorded
draft by id (no search index involved), or, when a draft was asked for but never recorded, lists the
day's drafts (`>nonPosted`) and adopts ours. Extra drafts are deleted; they were never in the ledger.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Engine

from bookspot_tripletex.load.claims import Claim, ensure_lease, fenced
from bookspot_tripletex.load.doubts import add_doubt, drop_doubt
from bookspot_tripletex.load.errors import DayRefused, OutcomeUnclear
from bookspot_tripletex.load.state import VoucherRow
from bookspot_tripletex.tripletex.errors import (
    Conflict,
    RateLimited,
    ServerError,
    TransportError,
    TripletexError,
    ValidationError,
)

log = logging.getLogger(__name__)

VOUCHER_FIELDS = (
    "id,version,number,year,date,externalVoucherNumber,reverseVoucher(id),"
    "postings(row,amount,amountGross,account(id,number),vatType(id,number))"
)
CENT = Decimal("0.01")
CLOSED_WORDS = ("stengt", "closed", "låst periode")


class VoucherApi(Protocol):
    timeout: float

    def post_draft(self, payload: dict[str, Any], fields: str | None = None) -> dict[str, Any]: ...
    def send_to_ledger(self, voucher_id: int, version: int, fields: str | None = None) -> dict[str, Any]: ...
    def delete_voucher(self, voucher_id: int) -> None: ...
    def get_voucher(self, voucher_id: int, fields: str | None = None) -> dict[str, Any] | None: ...
    def non_posted_vouchers(
        self, date_from: dt.date, date_to: dt.date, fields: str | None = None
    ) -> list[dict[str, Any]]: ...
    def find_vouchers_by_external_number(self, ext: str, fields: str | None = None) -> list[dict]: ...


class ClosedPeriod(DayRefused):
    """Tripletex refused the date: its period is closed. A correction moves to the first open date."""


@dataclass(frozen=True)
class Sent:
    voucher: dict[str, Any]
    created: bool
    """True when this attempt's send put it in the ledger; False when an earlier attempt had."""


def in_ledger(voucher: dict[str, Any] | None) -> bool:
    return bool(voucher and voucher.get("number"))


def unclear(exc: Exception) -> bool:
    return isinstance(exc, TransportError | ServerError)


def is_closed_period(exc: TripletexError) -> bool:
    """The fallback reading of a refusal as a closed period, by words in Tripletex's error text (the
    periods themselves are read first, `load/periods.py`); off with BOOKSPOT_CLOSED_PERIOD_TEXT_MATCH=0."""
    from bookspot_tripletex.settings import closed_period_text_match

    if not closed_period_text_match():
        return False
    text = " ".join([exc.message or "", *(str(m.get("message", "")) for m in exc.validation_messages)])
    return isinstance(exc, ValidationError) and any(w in text.lower() for w in CLOSED_WORDS)


MAPPING_WORDS = re.compile(
    r"account|konto|vat ?type|vat code|mva|voucher ?type|bilagstype|company|selskap|firma", re.IGNORECASE
)


def names_mapping(exc: BaseException) -> bool:
    """Whether a refusal explains itself by an account, a VAT type, the voucher type or the company
    (a 4xx from Tripletex, or our own check): what was checked in Tripletex is checked again."""
    from bookspot_tripletex.load.errors import WrongCompany

    if isinstance(exc, WrongCompany):
        return True
    cause = exc.__cause__
    if isinstance(cause, TripletexError):
        if cause.status is None or not 400 <= cause.status < 500 or isinstance(cause, RateLimited):
            return False
        bits = [cause.message or "", cause.developer_message or ""]
        for m in cause.validation_messages:
            bits += [str(m.get("field") or ""), str(m.get("message") or "")]
        return bool(MAPPING_WORDS.search(" ".join(bits)))
    return isinstance(exc, DayRefused) and bool(MAPPING_WORDS.search(str(exc)))


def refusal(exc: TripletexError, what: str) -> DayRefused:
    kind = ClosedPeriod if is_closed_period(exc) else DayRefused
    return kind(f"Tripletex refused {what}: {exc}")


def _lines(postings: list[dict[str, Any]]) -> Counter[tuple[int, Decimal]]:
    return Counter(
        (int(p["account"]["id"]), Decimal(str(p["amountGross"])).quantize(CENT))
        for p in postings
        if int(p.get("row") or 0) >= 1
    )


def same_content(draft: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Whether a draft found in Tripletex carries this payload (an older build of the day may differ)."""
    return draft.get("date") == payload["date"] and _lines(draft.get("postings") or []) == _lines(
        payload["postings"]
    )


def write_budget(client: VoucherApi) -> float:
    """Seconds one write may take: its single attempt's timeout (waits for a rate limit come first)."""
    return float(getattr(client, "timeout", 30))


def post_once(
    engine: Engine, claim: Claim, client: VoucherApi, row: VoucherRow, payload: dict[str, Any]
) -> Sent:
    """Bring the row's voucher into the ledger exactly once; raise OutcomeUnclear when unsure."""
    draft = _recorded_draft(engine, claim, client, row)
    if draft is not None and in_ledger(draft):
        return Sent(draft, False)
    if draft is None:
        draft = _adopt_or_create(engine, claim, client, row, payload)
        if in_ledger(draft):
            return Sent(draft, False)
    return _send(engine, claim, client, row, draft)


def _recorded_draft(engine: Engine, claim: Claim, client: VoucherApi, row: VoucherRow) -> dict | None:
    if row.draft_id is None:
        return None
    found = client.get_voucher(row.draft_id, VOUCHER_FIELDS)
    if found is None:
        log.warning(
            "%s: recorded draft %s is gone from Tripletex; a new one is made",
            row.external_number,
            row.draft_id,
        )
        with engine.begin() as conn:
            fenced(conn, claim, dt.datetime.now(dt.UTC), draft_id=None, draft_version=None)
        return None
    return found


def _adopt_or_create(
    engine: Engine, claim: Claim, client: VoucherApi, row: VoucherRow, payload: dict[str, Any]
) -> dict[str, Any]:
    ext = row.external_number
    if row.draft_requested_at is not None or row.status == "posting":
        ledger = [v for v in client.find_vouchers_by_external_number(ext, VOUCHER_FIELDS) if in_ledger(v)]
        if ledger:
            return ledger[0]
        day = dt.date.fromisoformat(payload["date"])
        ours = sorted(
            (
                v
                for v in client.non_posted_vouchers(day, day + dt.timedelta(days=1), VOUCHER_FIELDS)
                if v.get("externalVoucherNumber") == ext
            ),
            key=lambda v: int(v["id"]),
        )
        same = [v for v in ours if same_content(v, payload)]
        delete_drafts(client, [v for v in ours if v not in same[:1]], ext, engine, row)
        if same:
            _record(engine, claim, same[0])
            return same[0]
    with engine.begin() as conn:
        fenced(conn, claim, dt.datetime.now(dt.UTC), draft_requested_at=dt.datetime.now(dt.UTC))
        doubt = add_doubt(conn, row, dt.date.fromisoformat(payload["date"]), "draft_post")
    ensure_lease(engine, claim, write_budget(client))
    try:
        draft = client.post_draft(payload, VOUCHER_FIELDS)
    except TripletexError as exc:
        if unclear(exc):
            raise OutcomeUnclear(
                f"{ext}: the draft's POST got no clear answer ({exc}); next attempt looks"
            ) from exc
        if isinstance(exc, RateLimited):
            drop_doubt(engine, doubt)  # a 429 made nothing
            raise
        drop_doubt(engine, doubt)  # a refusal made nothing
        raise refusal(exc, f"the draft of {ext}") from exc
    _record(engine, claim, draft)
    drop_doubt(engine, doubt)  # this POST's draft is the recorded one
    return draft


def _record(engine: Engine, claim: Claim, draft: dict[str, Any]) -> None:
    with engine.begin() as conn:
        fenced(
            conn,
            claim,
            dt.datetime.now(dt.UTC),
            draft_id=int(draft["id"]),
            draft_version=int(draft.get("version") or 0),
        )


def _send(engine: Engine, claim: Claim, client: VoucherApi, row: VoucherRow, draft: dict[str, Any]) -> Sent:
    ext = row.external_number
    ensure_lease(engine, claim, write_budget(client))
    try:
        return Sent(
            client.send_to_ledger(int(draft["id"]), int(draft.get("version") or 0), VOUCHER_FIELDS), True
        )
    except TripletexError as exc:
        if isinstance(exc, RateLimited):
            raise
        if not (unclear(exc) or isinstance(exc, Conflict) or _already_sent(exc)):
            if is_closed_period(exc):
                delete_drafts(client, [draft], ext, engine, row)
                with engine.begin() as conn:
                    fenced(conn, claim, dt.datetime.now(dt.UTC), draft_id=None, draft_version=None)
            raise refusal(exc, f"sending {ext} to the ledger") from exc
        cause = exc
    now_there = client.get_voucher(int(draft["id"]), VOUCHER_FIELDS)
    if in_ledger(now_there):
        assert now_there is not None
        return Sent(now_there, True)
    if now_there is not None and isinstance(cause, Conflict):
        _record(engine, claim, now_there)
    raise OutcomeUnclear(
        f"{ext}: sending draft {draft['id']} got no clear answer ({cause}); next attempt looks"
    )


def _already_sent(exc: TripletexError) -> bool:
    return isinstance(exc, ValidationError) and "allerede bokført" in str(exc)


def delete_drafts(
    client: VoucherApi,
    drafts: list[dict[str, Any]],
    ext: str,
    engine: Engine | None = None,
    row: VoucherRow | None = None,
) -> int:
    """Delete extra drafts of ours (never in the ledger); a failure leaves them for the next run (and,
    with `engine` and `row`, a doubt on the day, so that reconciliation lists its drafts)."""
    gone = 0
    for extra in drafts:
        try:
            client.delete_voucher(int(extra["id"]))
            gone += 1
        except TripletexError as exc:
            log.warning(
                "%s: extra draft %s not deleted (%s); the next run tries again", ext, extra["id"], exc
            )
            if engine is not None and row is not None:
                try:
                    with engine.begin() as conn:
                        day = str(extra.get("date") or "")[:10]
                        add_doubt(
                            conn, row, dt.date.fromisoformat(day) if day else row.effective_date, "delete"
                        )
                except Exception as note_exc:  # staging unreachable: the day's own doubt stays
                    log.warning("%s: doubt not recorded (%s)", ext, note_exc)
    return gone
