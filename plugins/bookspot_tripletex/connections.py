"""A tenant's BookSpot source and Tripletex client, from the Airflow connections its tenant file names."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from bookspot_tripletex.feed.source import TransactionSource
from bookspot_tripletex.tenants.store import load_tenant


def bookspot_conn_id(engine: Engine, tenant_id: str) -> str:
    with engine.connect() as conn:
        return load_tenant(conn, tenant_id).bookspot_conn_id


def open_source(engine: Engine, tenant_id: str) -> TransactionSource:
    """The tenant's BookSpot source: a JSON Lines export (extra `feed_file`) or the API (host = base URL,
    password = the account's token; the account id defaults to the tenant id)."""
    from airflow.sdk.bases.hook import BaseHook

    from bookspot_tripletex.feed.hook import BookSpotHook
    from bookspot_tripletex.feed.source import JsonlFileSource

    conn_id = bookspot_conn_id(engine, tenant_id)
    connection = BaseHook.get_connection(conn_id)
    feed_file = (connection.extra_dejson or {}).get("feed_file")
    if feed_file:
        return JsonlFileSource(feed_file)
    return BookSpotHook(conn_id, tenant=tenant_id, connection=connection).get_conn()


def tripletex_client(engine: Engine, tenant_id: str) -> Any:
    """The tenant's own Tripletex company, through the connection its tenant file names."""
    from bookspot_tripletex.tripletex.hook import TripletexHook

    with engine.connect() as conn:
        conn_id = load_tenant(conn, tenant_id).tripletex_conn_id
    return TripletexHook(tripletex_conn_id=conn_id).get_conn()
