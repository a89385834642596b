"""INSERT … ON CONFLICT for the two dialects we run on (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"staging on {name!r} is not supported (use SQLite or PostgreSQL)")


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str],
    only_if_newer: str | None = None,
) -> None:
    """Insert rows, updating `update` columns on key conflict (only where `only_if_newer` grew)."""
    if not rows:
        return
    stmt = insert_for(conn, table)
    set_ = {col: stmt.excluded[col] for col in update}
    where = None
    if only_if_newer is not None:
        where = table.c[only_if_newer] <= stmt.excluded[only_if_newer]
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=set_, where=where)
    conn.execute(stmt, list(rows))


def insert_ignore(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    if not rows:
        return
    stmt = insert_for(conn, table).on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, list(rows))
