"""Bulk writes of checked records: executemany on SQLite, COPY on PostgreSQL.

Staging hands a writer a `Frame` (a chunk's checked records as numpy columns). Per chunk the writer finds
the stored versions of the candidates (`existing`), writes the fresh ones (`write`: their raw texts as one
compressed batch, the transactions upserted, their lines replaced) and finds the quarantined versions
they may release (`held`). Values are stored exactly as SQLAlchemy stores them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from bookspot_tripletex.feed.model import NO_DAY
from bookspot_tripletex.staging.raw import pack
from bookspot_tripletex.staging.schema import transactions

TX_COLUMNS = tuple(c.name for c in transactions.columns)
LINE_COLUMNS = (
    "tenant_id", "transaction_id", "line_no", "product_id", "product_name", "category", "quantity",
    "gross_ore", "vat_rate", "vat_ore", "service_date",
)  # fmt: skip
TX_KEY = ("tenant_id", "transaction_id")
TX_UPDATE_COLUMNS = tuple(c for c in TX_COLUMNS if c not in TX_KEY)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
EPOCH_DAY = dt.date(1970, 1, 1)
MICROSECOND = dt.timedelta(microseconds=1)


@dataclass
class Frame:
    """Checked records as columns. `rec`: id, kind, status, booking_id, occurred, updated (UTC µs since
    the epoch), local_day (days since the epoch), currency, amount, method, fee, gift, raw (UTF-8 bytes).
    `line`: owner (index into rec), line_no, product_id, product_name, category, quantity, gross,
    vat_rate, vat, service_day (NO_DAY for none)."""

    rec: dict[str, np.ndarray]
    line: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.rec["id"])

    def take(self, index: np.ndarray) -> Frame:
        if len(index) == len(self) and (index == np.arange(len(index))).all():
            return self
        position = np.full(len(self), -1, dtype=np.int64)
        position[index] = np.arange(len(index))
        moved = position[self.line["owner"]]
        keep = moved >= 0
        line = {k: v[keep] for k, v in self.line.items()}
        line["owner"] = moved[keep]
        return Frame({k: v[index] for k, v in self.rec.items()}, line)


class Stored(NamedTuple):
    updated: int
    local_day: int


class Held(NamedTuple):
    id: int
    record_id: str
    updated_at: str | None


def micros(value: dt.datetime) -> int:
    """UTC microseconds since the epoch of an instant (naive: UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - EPOCH) // MICROSECOND


def instant(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(us))


def day_of(days: int) -> dt.date:
    return EPOCH_DAY + dt.timedelta(days=int(days))


def sqlite_time(value: dt.datetime) -> str:
    """An instant as SQLAlchemy's SQLite DATETIME stores it (in UTC)."""
    return value.astimezone(dt.UTC).isoformat(" ", "microseconds")[:26]


def _time_texts(us: np.ndarray) -> np.ndarray:
    """`YYYY-MM-DD HH:MM:SS.ffffff` of UTC microseconds (SQLAlchemy's SQLite DATETIME storage)."""
    text = np.datetime_as_string(us.astype("datetime64[us]"), unit="us")
    if len(text):
        text.view(np.uint32).reshape(len(text), -1)[:, 10] = ord(" ")
    return text


def _day_texts(days: np.ndarray) -> list[str | None]:
    text = np.datetime_as_string(np.where(days == NO_DAY, 0, days).astype("datetime64[D]")).astype(object)
    text[days == NO_DAY] = None
    return text.tolist()


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


RAW_BATCH_SQL = "INSERT INTO raw_batches (tenant_id, records, data, staged_at) VALUES ({0}, {0}, {0}, {0})"


class SqliteWriter:
    """executemany through the DB-API cursor; dates and times as SQLAlchemy's SQLite types store them."""

    threaded = False

    def __init__(self, conn: Connection, tenant_id: str, now: dt.datetime) -> None:
        self.tenant_id = tenant_id
        self.now = sqlite_time(now)
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.cursor = dbapi.cursor()
        self.max_params = dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 2
        self.insert_lines = (
            f"INSERT INTO transaction_lines ({', '.join(LINE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(LINE_COLUMNS))})"
        )

    def _in(self, sql: str, ids: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        step = self.max_params
        for start in range(0, len(ids), step):
            part = ids[start : start + step]
            out += self.cursor.execute(
                sql.format(", ".join("?" * len(part))), (self.tenant_id, *part)
            ).fetchall()
        return out

    def existing(self, ids: Sequence[str]) -> dict[str, Stored]:
        rows = self._in(
            "SELECT transaction_id, updated_at, local_date FROM transactions "
            "WHERE tenant_id = ? AND transaction_id IN ({})",
            ids,
        )
        return {
            tx_id: Stored(
                micros(dt.datetime.fromisoformat(updated)), (dt.date.fromisoformat(day) - EPOCH_DAY).days
            )
            for tx_id, updated, day in rows
        }

    def write(self, frame: Frame, replaced: Sequence[str]) -> None:
        self.write_rows(sqlite_rows(self.tenant_id, self.now, frame), replaced)

    def write_rows(self, rows: SqliteRows, replaced: Sequence[str]) -> None:
        """Store a chunk's rows (`sqlite_rows`, made here or by a child process)."""
        self.cursor.execute(RAW_BATCH_SQL.format("?"), (self.tenant_id, rows.count, rows.blob, self.now))
        batch_id = self.cursor.lastrowid
        values = ["?"] * len(TX_COLUMNS)
        values[TX_BATCH] = str(int(batch_id))  # one literal for the whole chunk: rows leave it out
        self.cursor.executemany(_upsert_sql(f"VALUES ({', '.join(values)})"), rows.tx)
        if replaced:
            self._in("DELETE FROM transaction_lines WHERE tenant_id = ? AND transaction_id IN ({})", replaced)
        self.cursor.executemany(self.insert_lines, rows.lines)

    def held(self, ids: Sequence[str]) -> list[Held]:
        rows = self._in(
            "SELECT id, record_id, updated_at FROM quarantine "
            "WHERE tenant_id = ? AND released_at IS NULL AND record_id IN ({})",
            ids,
        )
        return [Held(*row) for row in rows]


TX_BATCH = TX_COLUMNS.index("raw_batch_id")
TX_OFFSET = TX_BATCH
"""In a transaction's row of `SqliteRows` (no batch id): where raw_offset is (raw_length follows)."""


@dataclass
class SqliteRows:
    """A chunk's rows as SqliteWriter stores them: the raw batch (its compressed blob, `count` texts),
    the transactions' rows in TX_COLUMNS order without raw_batch_id (the writer adds it), the lines' rows
    in LINE_COLUMNS order. A child process may make them (`sqlite_rows`) while the writer stores others."""

    blob: bytes
    count: int
    tx: list[tuple[Any, ...]]
    lines: list[tuple[Any, ...]]

    def raws(self) -> list[bytes]:
        """Each transaction's raw text, in order."""
        data = zlib.decompress(self.blob)
        return [data[row[TX_OFFSET] : row[TX_OFFSET] + row[TX_OFFSET + 1]] for row in self.tx]

    def take(self, index: np.ndarray, owners: np.ndarray) -> SqliteRows:
        """The rows of the transactions at `index` (ascending) and their lines (`owners`: each line's
        transaction), as `sqlite_rows` makes them of the Frame's same `take`."""
        kept = index.tolist()
        raws = self.raws()
        blob, offsets, lengths = pack([raws[i] for i in kept])
        tx = [
            (*row[:TX_OFFSET], offset, length, *row[TX_OFFSET + 2 :])
            for row, offset, length in zip(
                [self.tx[i] for i in kept], offsets.tolist(), lengths.tolist(), strict=True
            )
        ]
        lines = [self.lines[j] for j in np.flatnonzero(np.isin(owners, index)).tolist()]
        return SqliteRows(blob, len(kept), tx, lines)


def sqlite_rows(tenant_id: str, now: str, frame: Frame) -> SqliteRows:
    """A Frame's rows for SqliteWriter (`now`: its staged_at text), its raw texts packed. Equal values of
    the columns with few distinct ones are one object each (`_shared`): pickled once per chunk when a
    child process sends the rows, bound the same."""
    rec, line = frame.rec, frame.line
    blob, offsets, lengths = pack(rec["raw"])
    n, m = len(frame), len(line["owner"])
    tx = list(
        zip(
            repeat(tenant_id, n),
            rec["id"].tolist(),
            _shared(rec["kind"]),
            _shared(rec["status"]),
            rec["booking_id"].tolist(),
            _time_texts(rec["occurred"]).tolist(),
            _time_texts(rec["updated"]).tolist(),
            _shared_day_texts(rec["local_day"]),
            _shared(rec["currency"]),
            rec["amount"].tolist(),
            _shared(rec["method"]),
            rec["fee"].tolist(),
            _shared(rec["gift"]),
            offsets.tolist(),
            lengths.tolist(),
            repeat(now, n),
            strict=True,
        )
    )
    lines = list(
        zip(
            repeat(tenant_id, m), rec["id"][line["owner"]].tolist(), line["line_no"].tolist(),
            _shared(line["product_id"]), _shared(line["product_name"]), _shared(line["category"]),
            line["quantity"].tolist(), line["gross"].tolist(), _shared(line["vat_rate"]),
            line["vat"].tolist(), _shared_day_texts(line["service_day"]), strict=True,
        )
    )  # fmt: skip
    return SqliteRows(blob, n, tx, lines)


def _shared(values: np.ndarray) -> list[Any]:
    """An object column (strings, None) as a list in which equal values are the same object."""
    if not len(values):
        return []
    codes, uniques = pd.factorize(values)
    return np.append(uniques.astype(object), None)[codes].tolist()


def _shared_day_texts(days: np.ndarray) -> list[str | None]:
    """`_day_texts`, each day's text one object."""
    if not len(days):
        return []
    unique, index = np.unique(days, return_inverse=True)
    return np.array(_day_texts(unique), dtype=object)[index].tolist()


STAGE_TABLE = "bulk_stage_transactions"
NULL = "\\N"
CHUNK_CONSTANTS = ("tenant_id", "raw_batch_id", "staged_at")
COPY_TX_COLUMNS = (*CHUNK_CONSTANTS, *(c for c in TX_COLUMNS if c not in CHUNK_CONSTANTS))
"""The transactions' columns in the order their COPY text has them: a chunk's constants first."""


class PostgresWriter:
    """COPY new transactions and all lines; a newer version of a stored transaction goes through a temp
    table and INSERT … ON CONFLICT. Id lists travel as one JSON parameter.

    Its database calls run in a writer thread while the next chunk is checked (psycopg2 releases the GIL
    while it waits for the server, zlib while it compresses), so the client and the server work at once.
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

    def _copy(self, table: str, columns: Sequence[str], text: str) -> None:
        if text:
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            self.cursor.copy_expert(sql, io.StringIO(text), size=1 << 20)

    def _ids(self, sql: str, ids: Sequence[str]) -> None:
        self.cursor.execute(sql, (self.tenant_id, json.dumps(list(ids))))

    def existing(self, ids: Sequence[str]) -> dict[str, Stored]:
        self._ids(
            "SELECT transaction_id, updated_at, local_date FROM transactions "
            f"WHERE tenant_id = %s AND transaction_id IN {_IN_JSON}",
            ids,
        )
        return {
            tx_id: Stored(micros(updated), (day - EPOCH_DAY).days)
            for tx_id, updated, day in self.cursor.fetchall()
        }

    def _tx_text(self, frame: Frame, batch_id: int, offsets: np.ndarray, lengths: np.ndarray) -> str:
        """COPY text of `frame`'s transactions, in `COPY_TX_COLUMNS` order."""
        rec = frame.rec
        columns = [
            _copy_texts(rec["id"]), rec["kind"].tolist(), rec["status"].tolist(),
            _copy_texts(rec["booking_id"]), _utc_texts(rec["occurred"]), _utc_texts(rec["updated"]),
            _date_texts(rec["local_day"]), _copy_texts(rec["currency"]), _int_texts(rec["amount"]),
            rec["method"].tolist(), _int_texts(rec["fee"]), _copy_texts(rec["gift"]), _int_texts(offsets),
            _int_texts(lengths),
        ]  # fmt: skip
        return _copy_rows(f"{self.tenant_text}\t{batch_id}\t{self.now}", columns, len(frame))

    def _lines_text(self, frame: Frame) -> str:
        """COPY text of `frame`'s lines, in `LINE_COLUMNS` order."""
        line = frame.line
        columns = [
            _copy_texts(frame.rec["id"][line["owner"]]), _int_texts(line["line_no"]),
            _copy_texts(line["product_id"]), _copy_texts(line["product_name"]), line["category"].tolist(),
            _int_texts(line["quantity"]), _int_texts(line["gross"]), line["vat_rate"].tolist(),
            _int_texts(line["vat"]), _date_texts(line["service_day"]),
        ]  # fmt: skip
        return _copy_rows(self.tenant_text, columns, len(line["owner"]))

    def write(self, frame: Frame, replaced: Sequence[str]) -> None:
        blob, offsets, lengths = pack(frame.rec["raw"])
        self.cursor.execute(
            RAW_BATCH_SQL.format("%s") + " RETURNING id", (self.tenant_id, len(frame), blob, self.now)
        )
        (batch_id,) = self.cursor.fetchone()
        if replaced:
            again = np.isin(frame.rec["id"], list(replaced))
            index = np.flatnonzero(again)
            self._upsert(self._tx_text(frame.take(index), batch_id, offsets[index], lengths[index]))
            self._ids(
                f"DELETE FROM transaction_lines WHERE tenant_id = %s AND transaction_id IN {_IN_JSON}",
                replaced,
            )
            index = np.flatnonzero(~again)
            self._copy(
                "transactions",
                COPY_TX_COLUMNS,
                self._tx_text(frame.take(index), batch_id, offsets[index], lengths[index]),
            )
        else:
            self._copy("transactions", COPY_TX_COLUMNS, self._tx_text(frame, batch_id, offsets, lengths))
        self._copy("transaction_lines", LINE_COLUMNS, self._lines_text(frame))

    def _upsert(self, text: str) -> None:
        if not self.temp_ready:
            self.cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} (LIKE transactions INCLUDING DEFAULTS) "
                "ON COMMIT DROP"
            )
            self.temp_ready = True
        self.cursor.execute(f"TRUNCATE {STAGE_TABLE}")
        self._copy(STAGE_TABLE, COPY_TX_COLUMNS, text)
        self.cursor.execute(_upsert_sql(f"SELECT {', '.join(TX_COLUMNS)} FROM {STAGE_TABLE}"))

    def held(self, ids: Sequence[str]) -> list[Held]:
        self._ids(
            "SELECT id, record_id, updated_at FROM quarantine "
            f"WHERE tenant_id = %s AND released_at IS NULL AND record_id IN {_IN_JSON}",
            ids,
        )
        return [Held(*row) for row in self.cursor.fetchall()]


_IN_JSON = "(SELECT jsonb_array_elements_text(%s::jsonb))"
"""An id list as one parameter; IN (subquery) plans as a join (`= ANY(array)` may filter every row of a
tenant against the whole list)."""
_COPY_SPECIAL = ("\\", "\t", "\n", "\r")


def _copy_text(value: str) -> str:
    """A value in COPY's text format (backslash, tab, newline and carriage return escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _copy_rows(prefix: str, columns: Sequence[list[str]], n: int) -> str:
    """COPY text of `n` rows: the fields of `prefix` (the same in every row, tab-separated), then one
    field of each column. One `str.join` over all fields: the last field of each row carries the
    newline and the next row's prefix."""
    if not n:
        return ""
    k = len(columns)
    fields: list[str] = [""] * (n * k)
    for j, column in enumerate(columns[:-1]):
        fields[j::k] = column
    tail = "\n" + prefix
    fields[k - 1 :: k] = [value + tail for value in columns[-1]]
    text = "\t".join(fields)
    return prefix + "\t" + text[: len(text) - len(prefix)]


def _utc_texts(us: np.ndarray) -> list[str]:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ` of UTC microseconds (timestamptz input)."""
    return np.datetime_as_string(us.astype("datetime64[us]"), unit="us", timezone="UTC").tolist()


def _date_texts(days: np.ndarray) -> list[str]:
    """`YYYY-MM-DD` of days since the epoch, \\N for NO_DAY (each distinct day formatted once: a chunk
    spans a few dozen)."""
    distinct, index = np.unique(days, return_inverse=True)
    none = distinct == NO_DAY
    text = np.datetime_as_string(np.where(none, 0, distinct).astype("datetime64[D]")).astype(object)
    text[none] = NULL
    return text[index].tolist()


_SMALL_INTS = np.array([str(i) for i in range(1 << 16)], dtype=object)
"""The decimal texts of 0..65535: line numbers, quantities, most fees and VAT amounts are taken from it
(an array take instead of a `str` call each)."""


def _int_texts(values: np.ndarray) -> list[str]:
    if len(values) and 0 <= values.min() and values.max() < len(_SMALL_INTS):
        return _SMALL_INTS[values].tolist()
    return list(map(str, values.tolist()))


def _copy_texts(values: np.ndarray) -> list[str]:
    """A column of optional strings in COPY's text format (None as \\N)."""
    items = values.tolist()
    joined = "".join([v for v in items if v is not None])
    if any(special in joined for special in _COPY_SPECIAL):
        return [NULL if v is None else _copy_text(v) for v in items]
    return [NULL if v is None else v for v in items]


Writer = SqliteWriter | PostgresWriter
