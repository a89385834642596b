"""Bulk writes of staged transactions: executemany on SQLite, COPY on PostgreSQL.

A writer turns a checked record into its rows once (`staged`, no database access, so it can run while
the previous chunk is written) and then, per chunk: finds the stored versions of the candidates
(`existing`), writes the fresh ones (`write`: upsert the transaction, replace its lines) and finds the
quarantined versions they may release (`held`). Values are stored exactly as SQLAlchemy stores them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection

from bookspot_tripletex.staging.schema import transactions
from bookspot_tripletex.timeutil import as_utc

TX_COLUMNS = tuple(c.name for c in transactions.columns)
LINE_COLUMNS = (
    "tenant_id", "transaction_id", "line_no", "product_id", "product_name", "category", "quantity",
    "gross_ore", "vat_rate", "vat_ore", "service_date",
)  # fmt: skip
TX_KEY = ("tenant_id", "transaction_id")
TX_UPDATE_COLUMNS = tuple(c for c in TX_COLUMNS if c not in TX_KEY)
LineFields = tuple[str, str, str, int, int, str, int, dt.date | None]


class Staged(NamedTuple):
    """A valid record ready to write: what staging decides on, and its rows in the writer's format."""

    id: str
    updated_at: dt.datetime
    local_date: dt.date
    status: str
    raw: str
    row: Any
    lines: Any


class Stored(NamedTuple):
    updated_at: dt.datetime
    local_date: dt.date


class Held(NamedTuple):
    id: int
    record_id: str
    updated_at: str | None


def writer_for(conn: Connection, tenant_id: str, now: dt.datetime) -> Writer:
    name = conn.dialect.name
    if name == "postgresql":
        return PostgresWriter(conn, tenant_id, now)
    if name == "sqlite":
        return SqliteWriter(conn, tenant_id, now)
    raise NotImplementedError(f"staging on {name!r} is not supported (use SQLite or PostgreSQL)")


def _upsert_sql(source: str) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in TX_UPDATE_COLUMNS)
    return f"INSERT INTO transactions ({', '.join(TX_COLUMNS)}) {source} ON CONFLICT ({', '.join(TX_KEY)}) DO UPDATE SET {updates}"  # noqa: E501


class SqliteWriter:
    """executemany through the DB-API cursor; dates and times as SQLAlchemy's SQLite types store them."""

    threaded = False

    def __init__(self, conn: Connection, tenant_id: str, now: dt.datetime) -> None:
        self.tenant_id = tenant_id
        self.now = _sqlite_datetime(now)
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.cursor = dbapi.cursor()
        self.max_params = dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 2
        self.upsert = _upsert_sql(f"VALUES ({', '.join('?' * len(TX_COLUMNS))})")
        self.insert_lines = (
            f"INSERT INTO transaction_lines ({', '.join(LINE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(LINE_COLUMNS))})"
        )
        dialect = conn.dialect
        self.read_datetime = transactions.c.updated_at.type.dialect_impl(dialect).result_processor(
            dialect, None
        )
        self.read_date = transactions.c.local_date.type.dialect_impl(dialect).result_processor(dialect, None)

    def staged(
        self,
        tx_id: str,
        kind: str,
        status: str,
        booking_id: str | None,
        occurred_at: dt.datetime,
        updated_at: dt.datetime,
        local_date: dt.date,
        currency: str,
        amount: int,
        method: str,
        fee: int,
        gift_card_code: str | None,
        raw: str,
        lines: Sequence[LineFields],
    ) -> Staged:
        """The record's rows (instants in UTC), ready for `write`."""
        tenant = self.tenant_id
        occurred = _sqlite_datetime(occurred_at)
        updated = occurred if updated_at is occurred_at else _sqlite_datetime(updated_at)
        row = (
            tenant, tx_id, kind, status, booking_id, occurred, updated, local_date.isoformat(), currency,
            amount, method, fee, gift_card_code, raw, self.now,
        )  # fmt: skip
        rows = [
            (
                tenant,
                tx_id,
                no,
                pid,
                name,
                cat,
                qty,
                gross,
                rate,
                vat,
                None if day is None else day.isoformat(),
            )
            for no, (pid, name, cat, qty, gross, rate, vat, day) in enumerate(lines, start=1)
        ]
        return Staged(tx_id, updated_at, local_date, status, raw, row, rows)

    def _in(self, sql: str, ids: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        step = self.max_params
        for start in range(0, len(ids), step):
            part = ids[start : start + step]
            out += self.cursor.execute(
                sql.format(", ".join("?" * len(part))), (self.tenant_id, *part)
            ).fetchall()
        return out

    def existing(self, candidates: Sequence[Staged]) -> dict[str, Stored]:
        rows = self._in(
            "SELECT transaction_id, updated_at, local_date FROM transactions "
            "WHERE tenant_id = ? AND transaction_id IN ({})",
            [s.id for s in candidates],
        )
        return {
            tx_id: Stored(as_utc(self.read_datetime(updated)), self.read_date(day))
            for tx_id, updated, day in rows
        }

    def write(self, fresh: Sequence[Staged], replaced: Sequence[str]) -> None:
        self.cursor.executemany(self.upsert, [s.row for s in fresh])
        if replaced:
            self._in("DELETE FROM transaction_lines WHERE tenant_id = ? AND transaction_id IN ({})", replaced)
        self.cursor.executemany(self.insert_lines, [line for s in fresh for line in s.lines])

    def held(self, fresh: Sequence[Staged]) -> list[Held]:
        rows = self._in(
            "SELECT id, record_id, updated_at FROM quarantine "
            "WHERE tenant_id = ? AND released_at IS NULL AND record_id IN ({})",
            [s.id for s in fresh],
        )
        return [Held(*row) for row in rows]


def _sqlite_datetime(value: dt.datetime) -> str:
    """SQLAlchemy's SQLite DATETIME storage: the wall time as given (no conversion), microseconds always."""
    return value.isoformat(" ", "microseconds")[:26]


STAGE_TABLE = "bulk_stage_transactions"
NULL = "\\N"


class PostgresWriter:
    """COPY new transactions and all lines; a newer version of a stored transaction goes through a temp
    table and INSERT … ON CONFLICT. Id lists travel as one JSON parameter.

    Its database calls run in a writer thread while the next chunk is checked (psycopg2 releases the GIL
    while it waits for the server), so the client and the server work at once.
    """

    threaded = True

    def __init__(self, conn: Connection, tenant_id: str, now: dt.datetime) -> None:
        self.tenant_id = tenant_id
        self.tenant_text = _copy_text(tenant_id)
        self.now = now.isoformat()
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.cursor = dbapi.cursor()
        self.temp_ready = False

    def staged(
        self,
        tx_id: str,
        kind: str,
        status: str,
        booking_id: str | None,
        occurred_at: dt.datetime,
        updated_at: dt.datetime,
        local_date: dt.date,
        currency: str,
        amount: int,
        method: str,
        fee: int,
        gift_card_code: str | None,
        raw: str,
        lines: Sequence[LineFields],
    ) -> Staged:
        tenant, key = self.tenant_text, _copy_text(tx_id)
        occurred = occurred_at.isoformat()
        updated = occurred if updated_at is occurred_at else updated_at.isoformat()
        row = (
            f"{tenant}\t{key}\t{kind}\t{status}\t{_copy_optional(booking_id)}\t{occurred}\t{updated}\t"
            f"{local_date.isoformat()}\t{_copy_text(currency)}\t{amount}\t{method}\t{fee}\t"
            f"{_copy_optional(gift_card_code)}\t{_copy_json(raw)}\t{self.now}\n"
        )
        rows = "".join(
            f"{tenant}\t{key}\t{no}\t{_copy_text(pid)}\t{_copy_text(name)}\t{cat}\t{qty}\t{gross}\t{rate}\t{vat}\t"
            f"{NULL if day is None else day.isoformat()}\n"
            for no, (pid, name, cat, qty, gross, rate, vat, day) in enumerate(lines, start=1)
        )
        return Staged(tx_id, updated_at, local_date, status, raw, row, rows)

    def _copy(self, table: str, columns: Sequence[str], text: str) -> None:
        if text:
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            self.cursor.copy_expert(sql, io.StringIO(text), size=1 << 20)

    def _ids(self, sql: str, ids: Sequence[str]) -> None:
        self.cursor.execute(sql, (self.tenant_id, json.dumps(list(ids))))

    def existing(self, candidates: Sequence[Staged]) -> dict[str, Stored]:
        self._ids(
            "SELECT transaction_id, updated_at, local_date FROM transactions "
            f"WHERE tenant_id = %s AND transaction_id = {_ANY_JSON}",
            [s.id for s in candidates],
        )
        return {tx_id: Stored(as_utc(updated), day) for tx_id, updated, day in self.cursor.fetchall()}

    def write(self, fresh: Sequence[Staged], replaced: Sequence[str]) -> None:
        if replaced:
            again = set(replaced)
            self._upsert([s for s in fresh if s.id in again])
            self._ids(
                f"DELETE FROM transaction_lines WHERE tenant_id = %s AND transaction_id = {_ANY_JSON}",
                replaced,
            )
            self._copy("transactions", TX_COLUMNS, "".join(s.row for s in fresh if s.id not in again))
        else:
            self._copy("transactions", TX_COLUMNS, "".join(s.row for s in fresh))
        self._copy("transaction_lines", LINE_COLUMNS, "".join(s.lines for s in fresh))

    def _upsert(self, rows: Sequence[Staged]) -> None:
        if not self.temp_ready:
            self.cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} (LIKE transactions INCLUDING DEFAULTS) "
                "ON COMMIT DROP"
            )
            self.temp_ready = True
        self.cursor.execute(f"TRUNCATE {STAGE_TABLE}")
        self._copy(STAGE_TABLE, TX_COLUMNS, "".join(s.row for s in rows))
        self.cursor.execute(_upsert_sql(f"SELECT {', '.join(TX_COLUMNS)} FROM {STAGE_TABLE}"))

    def held(self, fresh: Sequence[Staged]) -> list[Held]:
        self._ids(
            "SELECT id, record_id, updated_at FROM quarantine "
            f"WHERE tenant_id = %s AND released_at IS NULL AND record_id = {_ANY_JSON}",
            [s.id for s in fresh],
        )
        return [Held(*row) for row in self.cursor.fetchall()]


_ANY_JSON = "ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))"


def _copy_text(value: str) -> str:
    """A value in COPY's text format (backslash, tab, newline and carriage return escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _copy_optional(value: str | None) -> str:
    return NULL if value is None else _copy_text(value)


def _copy_json(value: str) -> str:
    """JSON text holds no raw tab, newline or carriage return: only backslashes need escaping."""
    return value.replace("\\", "\\\\") if "\\" in value else value


Writer = SqliteWriter | PostgresWriter
