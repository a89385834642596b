"""The emulator's optional state file: companies' accounts, vouchers and numbering as JSON, no tokens."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import tempfile
from contextlib import suppress
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .chart import DEFAULT_ACCOUNTS
from .config import AccountSpec, ClosedPeriod, CompanyConfig
from .state import Account, Attachment, Company, EmulatorState, IdSequence, Posting, Voucher

FORMAT = "bookspot-tripletex-emulator-state"
VERSION = 1


class StateFileError(ValueError):
    """A state file that cannot be read back; the message names the file."""


def snapshot(state: EmulatorState) -> dict[str, Any]:
    """The persistent part of `state` as plain JSON values (Decimals as strings, dates ISO)."""
    with state.lock:
        return {
            "format": FORMAT,
            "version": VERSION,
            "next_id": state.ids.next_value,
            "companies": [_company(c) for c in state.companies.values()],
        }


def write_state(state: EmulatorState, path: Path) -> None:
    """Write `snapshot(state)` to `path` atomically (temporary file in the same folder, then replace)."""
    text = json.dumps(snapshot(state), ensure_ascii=False, indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def load(state: EmulatorState, path: Path) -> None:
    """Read the state file at `path` into `state`; a file it cannot use is a `StateFileError`."""
    restore(state, read_state(path), str(path))


def read_state(path: Path) -> dict[str, Any]:
    """Parse a state file; anything but a state file of this format is a `StateFileError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise StateFileError(f"emulator state file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StateFileError(f"emulator state file {path} is not a {FORMAT} file")
    if data.get("version") != VERSION:
        raise StateFileError(f"emulator state file {path} has version {data.get('version')!r}, not {VERSION}")
    return data


def restore(state: EmulatorState, data: dict[str, Any], source: str = "(in memory)") -> None:
    """Replace `state`'s companies with the saved ones; configured companies not saved start fresh.

    Saved accounts, VAT settings and closed periods win over the config; accounts of the config (or
    the default chart) missing from the file are added. Saved companies no longer configured are
    dropped. Names, tokens and the clock always come from the config.
    """
    try:
        saved = {int(c["id"]): c for c in data["companies"]}
        with state.lock:
            ids = IdSequence(int(data["next_id"]))
            companies = {
                cfg.id: _restored(cfg, saved[cfg.id], ids) if cfg.id in saved else Company(cfg, ids)
                for cfg in state.config.companies
            }
            _check(state, companies, ids)
            state.ids = ids
            state.companies = companies
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation, binascii.Error) as exc:
        raise StateFileError(
            f"emulator state file {source} is damaged: {type(exc).__name__}: {exc}"
        ) from None


def _company(c: Company) -> dict[str, Any]:
    return {
        "id": c.id,
        "employee_id": c.employee_id,
        "accounts": [
            {"id": a.id, "version": a.version, "spec": dataclasses.asdict(a.spec)}
            for a in c.accounts.values()
        ],
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


def _restored(cfg: CompanyConfig, data: dict[str, Any], ids: IdSequence) -> Company:
    company = Company(cfg, IdSequence(0))
    company.employee_id = cfg.employee_id or int(data["employee_id"])
    company.accounts = {}
    for a in data["accounts"]:
        account = Account(int(a["id"]), AccountSpec(**a["spec"]), int(a["version"]))
        company.accounts[account.id] = account
    for spec in (*DEFAULT_ACCOUNTS, *cfg.extra_accounts):
        if company.account_by_number(spec.number) is None:
            company.put_account(AccountSpec(**vars(spec)), ids)
    company.voucher_types = {int(tid): str(name) for tid, name in data["voucher_types"]}
    company.disabled_vat_numbers = {str(n) for n in data["disabled_vat_numbers"]}
    company.closed_periods = [ClosedPeriod(p["start"], p["end"]) for p in data["closed_periods"]]
    company.next_number = {int(year): int(n) for year, n in data["next_number"].items()}
    company.next_temp_number = int(data["next_temp_number"])
    vouchers = [_voucher_from(v) for v in data["vouchers"]]
    company.vouchers = {v.id: v for v in vouchers}
    return company


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
