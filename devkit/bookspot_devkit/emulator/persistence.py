"""The emulator's optional state file: a SQLite database of the companies' accounts, vouchers and numbering.

One row per company header, company chart and voucher (JSON text, amounts as strings, no tokens). A save
writes only the rows of the named companies that differ from what the file holds, so a voucher POST
costs the same whether the emulator serves one company or a thousand.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .config import AccountSpec, ClosedPeriod, CompanyConfig
from .state import Account, Attachment, Company, EmulatorState, IdSequence, Posting, Voucher

FORMAT = "bookspot-tripletex-emulator-state"
VERSION = 2
HEADER = "company"
ACCOUNTS = "accounts"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rows (company_id INTEGER NOT NULL, kind TEXT NOT NULL, key INTEGER NOT NULL,"
    " data TEXT NOT NULL, PRIMARY KEY (company_id, kind, key)) WITHOUT ROWID",
)
Key = tuple[str, int]


class StateFileError(ValueError):
    """A state file that cannot be read back; the message names the file."""


@dataclasses.dataclass
class WriteStats:
    """What saves have written so far: rows inserted or replaced, rows deleted, bytes of row data."""

    rows: int = 0
    deleted: int = 0
    bytes: int = 0


class StateStore:
    """The SQLite file behind an `EmulatorState`; remembers a digest of every stored row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stats = WriteStats()
        self._digests: dict[int, dict[Key, bytes]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            for statement in SCHEMA:
                self._db.execute(statement)
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StateFileError(f"emulator state file {path} is not a {FORMAT} database: {exc}") from None
        if meta and meta.get("format") != FORMAT:
            self._db.close()
            raise StateFileError(f"emulator state file {path} is not a {FORMAT} database")
        if meta and meta.get("version") != str(VERSION):
            self._db.close()
            raise StateFileError(
                f"emulator state file {path} has version {meta.get('version')!r}, not {VERSION}"
            )
        self.empty = not meta

    def read(self) -> dict[str, Any]:
        """The stored state in `snapshot` form; also primes the digests of what is stored."""
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        companies: dict[int, dict[str, Any]] = {}
        try:
            for company_id, kind, key, text in self._db.execute(
                "SELECT company_id, kind, key, data FROM rows ORDER BY company_id, kind, key"
            ):
                self._digests.setdefault(company_id, {})[(kind, key)] = _digest(text)
                entry = companies.setdefault(company_id, {"accounts": [], "vouchers": []})
                value = json.loads(text)
                if kind == HEADER:
                    entry.update(value)
                elif kind == ACCOUNTS:
                    entry["accounts"] = value
                else:
                    entry["vouchers"].append(value)
            return {"next_id": meta.get("next_id"), "companies": list(companies.values())}
        except ValueError as exc:
            raise StateFileError(f"emulator state file {self.path} is damaged: {exc}") from None

    def write(self, state: EmulatorState, company_ids: Iterable[int] | None = None) -> None:
        """Store the named companies' changed rows (all companies, dropping others, when None) and the
        id sequence."""
        with state.lock:
            everything = company_ids is None
            ids = list(state.companies) if everything else [i for i in company_ids if i in state.companies]
            rows = {cid: _rows(state.companies[cid]) for cid in ids}
            next_id = state.ids.next_value
        upserts: list[tuple[int, str, int, str]] = []
        deletes: list[tuple[int, str, int]] = []
        digests: dict[int, dict[Key, bytes]] = {}
        for cid, texts in rows.items():
            known = self._digests.get(cid, {})
            fresh = {key: _digest(text) for key, text in texts.items()}
            upserts += [(cid, *key, texts[key]) for key, d in fresh.items() if known.get(key) != d]
            deletes += [(cid, *key) for key in known.keys() - fresh.keys()]
            digests[cid] = fresh
        gone = [cid for cid in self._digests if cid not in state.companies] if everything else []
        self._commit(upserts, deletes, gone, next_id)
        self._digests.update(digests)

    def drop_other_companies(self, keep: Iterable[int]) -> None:
        """Remove the rows of companies not in `keep`."""
        kept = set(keep)
        gone = [cid for cid in self._digests if cid not in kept]
        if gone:
            self._commit([], [], gone, None)

    def _commit(
        self,
        upserts: list[tuple[int, str, int, str]],
        deletes: list[tuple[int, str, int]],
        gone: list[int],
        next_id: int | None,
    ) -> None:
        meta = [("format", FORMAT), ("version", str(VERSION))]
        if next_id is not None:
            meta.append(("next_id", str(next_id)))
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta)
            self._db.executemany("INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?)", upserts)
            self._db.executemany("DELETE FROM rows WHERE company_id = ? AND kind = ? AND key = ?", deletes)
            self._db.executemany("DELETE FROM rows WHERE company_id = ?", [(cid,) for cid in gone])
        for cid in gone:
            del self._digests[cid]
        self.empty = False
        self.stats.rows += len(upserts)
        self.stats.deleted += len(deletes)
        self.stats.bytes += sum(len(u[3].encode("utf-8")) for u in upserts)

    def close(self) -> None:
        self._db.close()


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _rows(c: Company) -> dict[Key, str]:
    data = _company(c)
    rows = {("voucher", v["id"]): _text(v) for v in data.pop("vouchers")}
    rows[(ACCOUNTS, 0)] = _text(data.pop("accounts"))
    rows[(HEADER, 0)] = _text(data)
    return rows


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def snapshot(state: EmulatorState) -> dict[str, Any]:
    """The persistent part of `state` as plain JSON values (Decimals as strings, dates ISO)."""
    with state.lock:
        return {
            "format": FORMAT,
            "version": VERSION,
            "next_id": state.ids.next_value,
            "companies": [_company(c) for c in state.companies.values()],
        }


def open_store(state: EmulatorState, path: Path) -> StateStore:
    """Open (or create) the state file, load what it holds into `state` (else build `state` new), and
    bring the file up to date."""
    store = StateStore(path)
    try:
        if store.empty:
            state._build()
            store.write(state)
        else:
            changed = restore(state, store.read(), str(path))
            store.write(state, changed)
            store.drop_other_companies(state.companies)
    except BaseException:
        store.close()
        raise
    return store


def restore(state: EmulatorState, data: dict[str, Any], source: str = "(in memory)") -> list[int]:
    """Replace `state`'s companies with the saved ones; configured companies not saved start fresh.

    Saved accounts, VAT settings and closed periods win over the config; accounts of the config (or
    the default chart) missing from the file are added. Saved companies no longer configured are
    dropped. Names, tokens and the clock always come from the config. Returns the ids of the
    companies that now differ from `data`.
    """
    try:
        saved = {int(c["id"]): c for c in data["companies"]}
        with state.lock:
            ids = IdSequence(int(data["next_id"]))
            companies: dict[int, Company] = {}
            changed = []
            for cfg in state.config.companies:
                if cfg.id in saved:
                    companies[cfg.id], grown = _restored(cfg, saved[cfg.id], ids)
                else:
                    companies[cfg.id], grown = Company(cfg, ids), True
                if grown:
                    changed.append(cfg.id)
            _check(state, companies, ids)
            state.ids = ids
            state.companies = companies
            return changed
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation, binascii.Error) as exc:
        raise StateFileError(
            f"emulator state file {source} is damaged: {type(exc).__name__}: {exc}"
        ) from None


def _company(c: Company) -> dict[str, Any]:
    return {
        "id": c.id,
        "employee_id": c.employee_id,
        "accounts": [{"id": a.id, "version": a.version, "spec": vars(a.spec)} for a in c.accounts.values()],
        "voucher_types": [[tid, name] for tid, name in c.voucher_types.items()],
        "disabled_vat_numbers": sorted(c.disabled_vat_numbers),
        "closed_periods": [
            {"start": p.start.isoformat(), "end": p.end.isoformat()} for p in c.closed_periods
        ],
        "next_number": {str(year): n for year, n in c.next_number.items()},
        "next_temp_number": c.next_temp_number,
        "vouchers": [_voucher(v) for v in c.vouchers.values()],
    }


def _voucher(v: Voucher) -> dict[str, Any]:
    attachment = v.attachment
    return {
        "id": v.id,
        "date": v.date.isoformat(),
        "description": v.description,
        "number": v.number,
        "temp_number": v.temp_number,
        "year": v.year,
        "external_voucher_number": v.external_voucher_number,
        "voucher_type_id": v.voucher_type_id,
        "reverse_voucher_id": v.reverse_voucher_id,
        "version": v.version,
        "attachment": None
        if attachment is None
        else {
            "id": attachment.id,
            "file_name": attachment.file_name,
            "mime_type": attachment.mime_type,
            "data": base64.b64encode(attachment.data).decode("ascii"),
        },
        "postings": [_posting(p) for p in v.postings],
    }


def _posting(p: Posting) -> dict[str, Any]:
    return {
        "id": p.id,
        "row": p.row,
        "date": p.date.isoformat(),
        "description": p.description,
        "account_id": p.account_id,
        "vat_type_id": p.vat_type_id,
        "amount": str(p.amount),
        "amount_gross": str(p.amount_gross),
        "system_generated": p.system_generated,
        "refs": dict(p.refs),
        "version": p.version,
    }


def _restored(cfg: CompanyConfig, data: dict[str, Any], ids: IdSequence) -> tuple[Company, bool]:
    """The saved company, and whether accounts of the chart or the config had to be added."""
    accounts = [Account(int(a["id"]), AccountSpec(**a["spec"]), int(a["version"])) for a in data["accounts"]]
    company = Company(cfg, ids, accounts)
    company.employee_id = cfg.employee_id or int(data["employee_id"])
    grown = company.add_missing_accounts(ids)
    company.voucher_types = {int(tid): str(name) for tid, name in data["voucher_types"]}
    company.disabled_vat_numbers = {str(n) for n in data["disabled_vat_numbers"]}
    company.closed_periods = [ClosedPeriod(p["start"], p["end"]) for p in data["closed_periods"]]
    company.next_number = {int(year): int(n) for year, n in data["next_number"].items()}
    company.next_temp_number = int(data["next_temp_number"])
    vouchers = [_voucher_from(v) for v in data["vouchers"]]
    company.vouchers = {v.id: v for v in vouchers}
    return company, grown


def _voucher_from(v: dict[str, Any]) -> Voucher:
    raw = v["attachment"]
    attachment = (
        None
        if raw is None
        else Attachment(
            int(raw["id"]),
            str(raw["file_name"]),
            str(raw["mime_type"]),
            base64.b64decode(raw["data"], validate=True),
        )
    )
    return Voucher(
        id=int(v["id"]),
        date=date.fromisoformat(v["date"]),
        description=str(v["description"]),
        number=int(v["number"]),
        temp_number=int(v["temp_number"]),
        year=int(v["year"]),
        postings=[_posting_from(p) for p in v["postings"]],
        external_voucher_number=_opt_str(v["external_voucher_number"]),
        voucher_type_id=_opt_int(v["voucher_type_id"]),
        reverse_voucher_id=_opt_int(v["reverse_voucher_id"]),
        attachment=attachment,
        version=int(v["version"]),
    )


def _posting_from(p: dict[str, Any]) -> Posting:
    return Posting(
        id=int(p["id"]),
        row=int(p["row"]),
        date=date.fromisoformat(p["date"]),
        description=str(p["description"]),
        account_id=int(p["account_id"]),
        vat_type_id=_opt_int(p["vat_type_id"]),
        amount=Decimal(p["amount"]),
        amount_gross=Decimal(p["amount_gross"]),
        system_generated=bool(p["system_generated"]),
        refs={str(k): int(rid) for k, rid in p["refs"].items()},
        version=int(p["version"]),
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _check(state: EmulatorState, companies: dict[int, Company], ids: IdSequence) -> None:
    """References that the API views follow must resolve, and the id sequence must be past every id."""
    seen: list[int] = []
    for company in companies.values():
        seen += [*company.accounts, *company.voucher_types]
        if not company.cfg.employee_id:
            seen.append(company.employee_id)
        for v in company.vouchers.values():
            seen += [v.id, *(p.id for p in v.postings)]
            if v.attachment is not None:
                seen.append(v.attachment.id)
            if v.reverse_voucher_id is not None and v.reverse_voucher_id not in company.vouchers:
                raise ValueError(f"voucher {v.id} reversed by unknown voucher {v.reverse_voucher_id}")
            if v.voucher_type_id is not None and v.voucher_type_id not in company.voucher_types:
                raise ValueError(f"voucher {v.id} has unknown voucher type {v.voucher_type_id}")
            for p in v.postings:
                if p.account_id not in company.accounts:
                    raise ValueError(f"posting {p.id} on unknown account {p.account_id}")
                if p.vat_type_id is not None and p.vat_type_id not in state.vat_types:
                    raise ValueError(f"posting {p.id} with unknown VAT type {p.vat_type_id}")
    if seen and max(seen) >= ids.next_value:
        raise ValueError(f"next_id {ids.next_value} is not past the highest id {max(seen)}")
