"""What each Airflow task of the nightly DAG does; DAG files only wire these together."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bookspot_tripletex import pipeline
from bookspot_tripletex.feed.source import TransactionSource
from bookspot_tripletex.staging.db import make_engine, migrate

DAG_TZ = ZoneInfo("Europe/Oslo")


def accounting_day(context: dict[str, Any]) -> dt.date:
    """The local day a run covers.

    A scheduled or backfill run's data interval is one local day in Europe/Oslo and its logical date is
    that interval's start. A manual run (`airflow dags test D 2026-11-24`, the UI's trigger form) names
    its day by its logical date; the optional `day` param overrides both.
    """
    requested = (context.get("params") or {}).get("day")
    if requested:
        return dt.date.fromisoformat(requested)
    moment = context.get("logical_date") or context["data_interval_start"]
    local = moment.astimezone(DAG_TZ)
    return dt.date(local.year, local.month, local.day)


def _engine():  # type: ignore[no-untyped-def]
    engine = make_engine()
    migrate(engine)
    return engine


def plan(requested: list[str] | None) -> list[str]:
    """Active tenants, or the requested subset (an unknown or inactive name is an error)."""
    from bookspot_tripletex.tenants.store import active_tenants

    with _engine().connect() as conn:
        active = active_tenants(conn)
    if not requested:
        return active
    unknown = sorted(set(requested) - set(active))
    if unknown:
        raise ValueError(f"not active or not imported: {', '.join(unknown)}")
    return [t for t in active if t in set(requested)]


def utcnow() -> dt.datetime:
    """The extract's clock: where a run's window ends (tests pin it)."""
    return dt.datetime.now(dt.UTC)


def _bookspot_conn_id(engine: Engine, tenant_id: str) -> str:
    from bookspot_tripletex.tenants.store import load_tenant

    with engine.connect() as conn:
        return load_tenant(conn, tenant_id).bookspot_conn_id


def open_source(tenant_id: str, engine: Engine | None = None) -> TransactionSource:
    """The tenant's BookSpot source from its connection: a JSON Lines export (extra `feed_file`) or the
    API (host = base URL, password = the account's token; the account id defaults to the tenant id)."""
    from airflow.sdk.bases.hook import BaseHook

    from bookspot_tripletex.feed.hook import BookSpotHook
    from bookspot_tripletex.feed.source import JsonlFileSource

    conn_id = _bookspot_conn_id(engine or _engine(), tenant_id)
    feed_file = (BaseHook.get_connection(conn_id).extra_dejson or {}).get("feed_file")
    if feed_file:
        return JsonlFileSource(feed_file)
    return BookSpotHook(conn_id, tenant=tenant_id).get_conn()


def extract(tenant_id: str, day: dt.date, now: dt.datetime | None = None) -> dict[str, Any]:
    """Stage what changed since the tenant's watermark (minus the overlap), then move the watermark.

    A refused token, an unknown account or a malformed answer fails the task at once (retrying cannot
    help); 429, 5xx and connection errors, once the client's own retries are used up, let Airflow retry.
    The watermark moves only after the records are staged, so a failed run loses nothing.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from bookspot_tripletex.feed.client import BookSpotError, BookSpotTransientError
    from bookspot_tripletex.staging.watermark import extract_window, save_watermark

    engine = _engine()
    now = now or utcnow()
    with engine.connect() as conn:
        updated_from, updated_to = extract_window(conn, tenant_id, now, pipeline.EXTRACT_OVERLAP)
    conn_id = _bookspot_conn_id(engine, tenant_id)
    try:
        source = open_source(tenant_id, engine)
    except ValueError as exc:
        raise AirflowFailException(f"{tenant_id}: BookSpot connection {conn_id!r}: {exc}") from exc
    try:
        result = pipeline.stage_tenant(engine, tenant_id, source, updated_from, updated_to)
    except BookSpotTransientError:
        raise
    except BookSpotError as exc:
        raise AirflowFailException(f"{exc} (connection {conn_id!r})") from exc
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    with engine.begin() as conn:
        save_watermark(conn, tenant_id, updated_to, now)
    return {**result, "window": [updated_from.isoformat(), updated_to.isoformat()]}


def journal(tenant_id: str, day: dt.date) -> dict[str, Any]:
    return pipeline.journal_day(_engine(), tenant_id, day)


def validate(tenant_id: str, day: dt.date) -> dict[str, Any]:
    return pipeline.validate_day(_engine(), tenant_id, day)


def tripletex_client(engine, tenant_id: str):  # type: ignore[no-untyped-def]
    """The tenant's own Tripletex company, through the connection its tenant file names."""
    from bookspot_tripletex.tenants.store import load_tenant
    from bookspot_tripletex.tripletex.hook import TripletexHook

    with engine.connect() as conn:
        conn_id = load_tenant(conn, tenant_id).tripletex_conn_id
    return TripletexHook(tripletex_conn_id=conn_id).get_conn()


def activate(tenant_id: str, day: dt.date) -> dict[str, Any]:
    """Before a mapping version's first night: the key works and every mapped account takes its postings."""
    from airflow.sdk.exceptions import AirflowFailException

    from bookspot_tripletex.tenants.activation import ActivationFailed, ensure_activated

    engine = _engine()
    try:
        return ensure_activated(engine, tenant_id, day, tripletex_client(engine, tenant_id))
    except ActivationFailed as exc:
        raise AirflowFailException(str(exc)) from exc


def load(tenant_id: str, day: dt.date, dry_run: bool, claimant: str) -> dict[str, Any]:
    engine = _engine()
    client = None if dry_run else tripletex_client(engine, tenant_id)
    return pipeline.load_day(engine, tenant_id, day, client, claimant, dry_run=dry_run)
