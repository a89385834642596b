"""The fake BookSpot API: bearer token per account, keyset paging on (updated_at, id), injectable faults."""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import dataclasses
import datetime as dt
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from random import Random
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .export import json_encoder

MIN_LIMIT, MAX_LIMIT, DEFAULT_LIMIT = 1, 500, 100
FOREVER = 2**62
_NO_CLOCK = FOREVER - 1
_US = 1_000_000


@dataclasses.dataclass
class Faults:
    """Injected API failures; the bursts fail the next N requests, the rates fail that share at random."""

    rate_limit_rate: float = 0.0
    rate_limit_burst: int = 0
    retry_after: int = 1
    server_error_rate: float = 0.0
    server_error_burst: int = 0
    server_error_status: int = 503
    delay_seconds: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rate_limit_rate", "server_error_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        for name in ("rate_limit_burst", "retry_after", "server_error_burst"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not 500 <= self.server_error_status <= 599:
            raise ValueError("server_error_status must be a 5xx status")
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds must be >= 0")

    def replaced(self, values: Mapping[str, Any]) -> Faults:
        known = {f.name: f.type for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, got {value!r}")
            changes[name] = int(value) if known[name] == "int" else float(value)
        return dataclasses.replace(self, **changes)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class _Version:
    __slots__ = ("epoch_us", "id", "seq", "until_us", "body")

    def __init__(self, epoch_us: int, rid: str, seq: int, body: bytes) -> None:
        self.epoch_us, self.id, self.seq, self.body = epoch_us, rid, seq, body
        self.until_us = FOREVER


def _key(version: _Version) -> tuple[int, str, int]:
    return (version.epoch_us, version.id, version.seq)


class _Account:
    """Every version of every record of one account, in (updated_at, id) order; a version is current
    from its updated_at until the next version of the same id."""

    def __init__(self) -> None:
        self.versions: list[_Version] = []
        self.by_id: dict[str, list[_Version]] = {}

    def add(self, version: _Version) -> None:
        key = _key(version)
        if not self.versions or _key(self.versions[-1]) < key:
            self.versions.append(version)
        else:
            bisect.insort(self.versions, version, key=_key)
        chain = self.by_id.setdefault(version.id, [])
        at = bisect.bisect(chain, key, key=_key)
        chain.insert(at, version)
        if at > 0:
            chain[at - 1].until_us = version.epoch_us
        version.until_us = chain[at + 1].epoch_us if at + 1 < len(chain) else FOREVER


def _instant_us(value: dt.datetime) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value.isoformat()} has no UTC offset")
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86400 + delta.seconds) * _US + delta.microseconds


def parse_instant(text: str, name: str) -> int:
    """An ISO 8601 instant with offset, in microseconds since the epoch."""
    for candidate in (text, text.replace(" ", "+")):
        try:
            return _instant_us(dt.datetime.fromisoformat(candidate))
        except ValueError:
            continue
    raise ValueError(f"{name} must be an ISO 8601 instant with a UTC offset, got {text!r}")


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise ValueError("cursor is not one this API issued") from None
    if (
        not isinstance(values, list)
        or len(values) != 5
        or not all(isinstance(v, int) for v in (values[2], values[4]))
        or not isinstance(values[3], str)
    ):
        raise ValueError("cursor is not one this API issued")
    return values


class Simulation:
    """The state behind the API: accounts and their tokens, records, faults, clock and request counts."""

    def __init__(
        self,
        tokens: Mapping[str, str],
        *,
        faults: Faults | None = None,
        fault_seed: int = 0,
        now: dt.datetime | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.tokens = dict(tokens)
        self.admin_token = admin_token
        self._accounts = {account: _Account() for account in self.tokens}
        self._faults = faults or Faults()
        self._fault_rng = Random(fault_seed)
        self._now_us = _NO_CLOCK if now is None else _instant_us(now)
        self._seq = 0
        self._encode = json_encoder()
        self._overrides: dict[str, tuple[int, str, bytes]] = {}
        self._lock = threading.Lock()
        self._requests: Counter[int] = Counter()

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, **values: Any) -> Faults:
        with self._lock:
            self._faults = self._faults.replaced(values)
            return self._faults

    @property
    def now(self) -> dt.datetime | None:
        if self._now_us == _NO_CLOCK:
            return None
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=self._now_us)

    def set_now(self, now: dt.datetime | None) -> None:
        """Records updated after `now` are not there yet; None shows everything (the default)."""
        with self._lock:
            self._now_us = _NO_CLOCK if now is None else _instant_us(now)

    def load(self, account_id: str, versions: Iterable[tuple[int, dict[str, Any]]]) -> int:
        """Add generator output: (updated_at epoch seconds, record) pairs."""
        account = self._account(account_id)
        count = 0
        with self._lock:
            for epoch, record in versions:
                self._seq += 1
                account.add(_Version(epoch * _US, record["id"], self._seq, self._encode(record)))
                count += 1
        return count

    def put(self, account_id: str, record: dict[str, Any]) -> None:
        """Add a record or a newer (or older) version of one; it needs a string `id` and an `updated_at`."""
        if not isinstance(record, dict):
            raise ValueError("a record must be a JSON object")
        rid, updated = record.get("id"), record.get("updated_at")
        if not isinstance(rid, str) or not rid:
            raise ValueError("a record needs a string id")
        if not isinstance(updated, str):
            raise ValueError("a record needs updated_at")
        epoch_us = parse_instant(updated, "updated_at")
        account = self._account(account_id)
        with self._lock:
            self._seq += 1
            account.add(_Version(epoch_us, rid, self._seq, self._encode(record)))

    def put_raw(self, account_id: str, rid: str, updated_at: str, body: bytes) -> None:
        """Add a record as raw bytes, served as they are inside a page (hostile input for tests)."""
        epoch_us = parse_instant(updated_at, "updated_at")
        account = self._account(account_id)
        with self._lock:
            self._seq += 1
            account.add(_Version(epoch_us, rid, self._seq, body))

    def set_page_override(self, account_id: str, override: tuple[int, str, bytes] | None) -> None:
        """Answer the account's transaction pages with (status, content type, body) instead; None stops."""
        self._account(account_id)
        with self._lock:
            if override is None:
                self._overrides.pop(account_id, None)
            else:
                self._overrides[account_id] = override

    def page_override(self, account_id: str) -> tuple[int, str, bytes] | None:
        with self._lock:
            return self._overrides.get(account_id)

    def count(self, account_id: str) -> int:
        """How many records (current versions) the account has now."""
        account = self._account(account_id)
        with self._lock:
            now = self._now_us
            return sum(1 for v in account.versions if v.epoch_us <= now < v.until_us)

    def _account(self, account_id: str) -> _Account:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise ApiError(404, "account_not_found", f"no BookSpot account {account_id!r}") from None

    def take_fault(self) -> ApiError | None:
        with self._lock:
            f = self._faults
            if f.server_error_burst > 0:
                self._faults = dataclasses.replace(f, server_error_burst=f.server_error_burst - 1)
                return self._server_error(f)
            if f.rate_limit_burst > 0:
                self._faults = dataclasses.replace(f, rate_limit_burst=f.rate_limit_burst - 1)
                return self._rate_limited(f)
            if f.server_error_rate and self._fault_rng.random() < f.server_error_rate:
                return self._server_error(f)
            if f.rate_limit_rate and self._fault_rng.random() < f.rate_limit_rate:
                return self._rate_limited(f)
        return None

    @staticmethod
    def _server_error(f: Faults) -> ApiError:
        return ApiError(f.server_error_status, "unavailable", "BookSpot is temporarily unavailable")

    @staticmethod
    def _rate_limited(f: Faults) -> ApiError:
        return ApiError(429, "rate_limited", "too many requests", {"Retry-After": str(f.retry_after)})

    def record_request(self, status: int) -> None:
        with self._lock:
            self._requests[status] += 1

    def stats(self) -> dict[str, Any]:
        """API requests served so far (admin requests are not counted), by HTTP status."""
        with self._lock:
            by_status = {str(k): v for k, v in sorted(self._requests.items())}
        return {"requests": sum(by_status.values()), "by_status": by_status}

    def reset_stats(self) -> None:
        with self._lock:
            self._requests.clear()

    def authorise(self, account_id: str, authorization: str | None) -> None:
        expected = self.tokens.get(account_id)
        if expected is None:
            raise ApiError(404, "account_not_found", f"no BookSpot account {account_id!r}")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise ApiError(
                401,
                "unauthorized",
                f"missing or invalid token for account {account_id!r}",
                {"WWW-Authenticate": "Bearer"},
            )

    def page(
        self,
        account_id: str,
        updated_from: int | None,
        updated_to: int | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[bytes], str | None]:
        """Current versions with updated_at in [from, to) after the cursor, at most `limit`."""
        account = self._account(account_id)
        with self._lock:
            now = self._now_us
            versions = account.versions
            if cursor is None:
                start = bisect.bisect_left(versions, (updated_from or -FOREVER,), key=_key)
            else:
                values = _decode_cursor(cursor)
                if values[0] != updated_from or values[1] != updated_to:
                    raise ValueError("cursor belongs to a query with other updated_from/updated_to")
                start = bisect.bisect_right(versions, (values[2], values[3], values[4]), key=_key)
            end = min(updated_to if updated_to is not None else FOREVER, now + 1)
            found: list[_Version] = []
            for index in range(start, len(versions)):
                version = versions[index]
                if version.epoch_us >= end:
                    break
                if version.until_us > now:
                    found.append(version)
                    if len(found) > limit:
                        break
        if len(found) <= limit:
            return [v.body for v in found], None
        last = found[limit - 1]
        return [v.body for v in found[:limit]], _encode_cursor(
            [updated_from, updated_to, last.epoch_us, last.id, last.seq]
        )


def _error(error: ApiError) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": error.code, "message": error.message}}, error.status, headers=error.headers
    )


def _query(request: Request) -> tuple[int | None, int | None, int, str | None]:
    params = request.query_params
    updated_from = params.get("updated_from")
    updated_to = params.get("updated_to")
    start = parse_instant(updated_from, "updated_from") if updated_from else None
    end = parse_instant(updated_to, "updated_to") if updated_to else None
    raw_limit = params.get("limit")
    try:
        limit = DEFAULT_LIMIT if raw_limit is None else int(raw_limit)
    except ValueError:
        raise ValueError(f"limit must be a whole number, got {raw_limit!r}") from None
    if not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between {MIN_LIMIT} and {MAX_LIMIT}, got {limit}")
    if start is not None and end is not None and start > end:
        raise ValueError("updated_from is after updated_to")
    return start, end, limit, params.get("cursor") or None


def create_app(sim: Simulation) -> FastAPI:
    """The BookSpot API over `sim`, plus admin endpoints under /_sim for tests and demos."""
    app = FastAPI(title="BookSpot simulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return _error(ApiError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc)

    @app.get("/v1/accounts/{account_id}/transactions")
    async def transactions(account_id: str, request: Request) -> Response:
        status = 200
        try:
            if sim.faults.delay_seconds:
                await asyncio.sleep(sim.faults.delay_seconds)
            fault = sim.take_fault()
            if fault is not None:
                raise fault
            sim.authorise(account_id, request.headers.get("authorization"))
            override = sim.page_override(account_id)
            if override is not None:
                code, content_type, raw = override
                status = code
                return Response(raw, code, media_type=content_type)
            try:
                start, end, limit, cursor = _query(request)
                bodies, next_cursor = sim.page(account_id, start, end, limit, cursor)
            except ValueError as exc:
                raise ApiError(400, "bad_request", str(exc)) from None
        except ApiError as exc:
            status = exc.status
            return _error(exc)
        finally:
            sim.record_request(status)
        tail = b'],"next_cursor":' + json.dumps(next_cursor).encode() + b"}"
        return Response(b'{"data":[' + b",".join(bodies) + tail, media_type="application/json")

    def admin(request: Request) -> None:
        if sim.admin_token is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), sim.admin_token.encode()):
            raise ApiError(401, "unauthorized", "admin endpoints need the admin token")

    async def body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise ApiError(400, "bad_request", "body must be JSON") from None

    @app.get("/_sim/faults")
    async def get_faults(request: Request) -> dict[str, Any]:
        admin(request)
        return dataclasses.asdict(sim.faults)

    @app.patch("/_sim/faults")
    async def patch_faults(request: Request) -> dict[str, Any]:
        admin(request)
        values = await body(request)
        if not isinstance(values, dict):
            raise ApiError(400, "bad_request", "body must be an object of fault values")
        try:
            return dataclasses.asdict(sim.set_faults(**values))
        except ValueError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None

    @app.get("/_sim/clock")
    async def get_clock(request: Request) -> dict[str, Any]:
        admin(request)
        now = sim.now
        return {"now": now.isoformat() if now else None}

    @app.put("/_sim/clock")
    async def put_clock(request: Request) -> dict[str, Any]:
        admin(request)
        value = await body(request)
        raw = value.get("now") if isinstance(value, dict) else None
        try:
            now = None if raw is None else dt.datetime.fromisoformat(str(raw))
            sim.set_now(now)
        except ValueError as exc:
            raise ApiError(400, "bad_request", f"now must be an ISO 8601 instant or null: {exc}") from None
        return {"now": now.isoformat() if now else None}

    @app.post("/_sim/accounts/{account_id}/transactions")
    async def put_records(account_id: str, request: Request) -> dict[str, Any]:
        admin(request)
        value = await body(request)
        records = value if isinstance(value, list) else [value]
        try:
            for record in records:
                sim.put(account_id, record)
        except ValueError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        return {"stored": len(records)}

    @app.post("/_sim/accounts/{account_id}/raw")
    async def put_raw(account_id: str, request: Request) -> dict[str, Any]:
        """`{"id", "updated_at", "body"}`: the body text is served as the record, byte for byte."""
        admin(request)
        value = await body(request)
        if not isinstance(value, dict) or not all(
            isinstance(value.get(k), str) for k in ("id", "updated_at", "body")
        ):
            raise ApiError(400, "bad_request", "body must be an object with string id, updated_at and body")
        try:
            sim.put_raw(
                account_id, value["id"], value["updated_at"], value["body"].encode("utf-8", "surrogateescape")
            )
        except ValueError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        return {"stored": 1}

    @app.put("/_sim/accounts/{account_id}/page")
    async def put_page_override(account_id: str, request: Request) -> dict[str, Any]:
        """`{"status", "content_type", "body"}` answers every page of the account; `null` stops it."""
        admin(request)
        value = await body(request)
        if value is None:
            sim.set_page_override(account_id, None)
            return {"override": None}
        if not isinstance(value, dict) or not isinstance(value.get("body"), str):
            raise ApiError(400, "bad_request", "body must be null or an object with a string body")
        status, content_type = value.get("status", 200), value.get("content_type", "text/html")
        if not isinstance(status, int) or not 200 <= status <= 599 or not isinstance(content_type, str):
            raise ApiError(400, "bad_request", "status must be an HTTP status and content_type a string")
        sim.set_page_override(account_id, (status, content_type, value["body"].encode("utf-8")))
        return {"override": {"status": status, "content_type": content_type}}

    @app.get("/_sim/stats")
    async def get_stats(request: Request) -> dict[str, Any]:
        admin(request)
        return sim.stats()

    @app.delete("/_sim/stats")
    async def reset_stats(request: Request) -> dict[str, Any]:
        admin(request)
        sim.reset_stats()
        return sim.stats()

    return app
