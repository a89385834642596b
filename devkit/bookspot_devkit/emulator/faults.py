"""Fault injection for /v2 calls: injected errors, latency, timeouts, and lost responses after a commit."""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import FaultConfig, FaultRule
from .errors import dumps, error_envelope

VOUCHER_POST = ("POST", "/ledger/voucher")
CODES = {400: 4000, 401: 3000, 403: 9000, 404: 6000, 409: 7000, 422: 18000, 429: 0}
GATEWAY = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}


@dataclass
class Plan:
    """What to do with one request."""

    delay: float = 0.0
    error: int | None = None
    after: str | None = None
    after_status: int = 500
    late: float = 0.0


class FaultInjector:
    """Decides per request which faults fire; reconfigurable while the server runs."""

    def __init__(self, cfg: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(cfg)

    def configure(self, cfg: FaultConfig | None) -> None:
        with self._lock:
            self.cfg = dataclasses.replace(cfg) if cfg else FaultConfig()
            self.cfg.rules = [dataclasses.replace(r) for r in self.cfg.rules]
            self._rng = random.Random(self.cfg.seed)
            self.counts: Counter[str] = Counter()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"config": dataclasses.asdict(self.cfg), "injected": dict(self.counts)}

    def plan(self, method: str, path: str) -> Plan:
        """Roll the dice for a request to `path` (below /v2)."""
        plan = Plan()
        with self._lock:
            cfg = self.cfg
            plan.delay = cfg.latency_seconds
            if cfg.timeout_rate and self._rng.random() < cfg.timeout_rate:
                plan.delay += cfg.timeout_seconds
                self.counts["timeout"] += 1
            for status, rate in sorted(cfg.error_rates.items()):
                if plan.error is None and rate and self._rng.random() < rate:
                    plan.error = status
                    self.counts[f"error:{status}"] += 1
            if (method, path) == VOUCHER_POST and cfg.drop_rate and self._rng.random() < cfg.drop_rate:
                plan.after = "drop"
                self.counts["drop"] += 1
            for rule in cfg.rules:
                taken = plan.error is not None if rule.action == "error" else plan.after is not None
                if rule.action == "late_commit":
                    taken = plan.late > 0
                if rule.action in ("error", "drop", "error_after", "late_commit") and taken:
                    continue
                if self._fires(rule, method, path):
                    self._apply(rule, plan)
        return plan

    def _fires(self, rule: FaultRule, method: str, path: str) -> bool:
        if rule.times is not None and rule.times <= 0:
            return False
        if rule.method not in ("*", method) or not fnmatch.fnmatchcase(path, rule.path):
            return False
        if rule.rate < 1.0 and self._rng.random() >= rule.rate:
            return False
        if rule.times is not None:
            rule.times -= 1
        return True

    def _apply(self, rule: FaultRule, plan: Plan) -> None:
        self.counts[rule.action] += 1
        if rule.action in ("latency", "timeout"):
            plan.delay += rule.seconds
        elif rule.action == "error":
            plan.error = rule.status
        elif rule.action == "drop":
            plan.after = "drop"
        elif rule.action == "late_commit":
            plan.late = rule.seconds
        else:
            plan.after, plan.after_status = "error_after", rule.status


async def _send_error(send: Any, status: int, rate_headers: dict[str, str]) -> None:
    """An injected error: a gateway's HTML page (502/503/504) or Tripletex's JSON error with its
    X-Rate-Limit headers."""
    request_id = str(uuid.uuid4())
    gateway = status in GATEWAY
    if gateway:
        body = f"<html><body><h1>{status} {GATEWAY[status]}</h1></body></html>".encode()
        ctype = b"text/html"
    else:
        message = None if status >= 500 else "Injected fault"
        body = dumps(error_envelope(status, CODES.get(status, 1000), message, request_id))
        ctype = b"application/json"
    headers = [
        (b"content-type", ctype),
        (b"content-length", str(len(body)).encode()),
        (b"x-tlx-request-id", request_id.encode()),
    ]
    if not gateway:
        headers += [(k.encode(), v.encode()) for k, v in rate_headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _late_commit(app: Any, scope: dict[str, Any], receive: Any, send: Any, seconds: float) -> None:
    """Read the whole request, wait `seconds` (the client gives up), then run it: it commits all the same."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await asyncio.sleep(seconds)
    replayed = False

    async def replay() -> dict[str, Any]:
        nonlocal replayed
        if replayed:
            await asyncio.sleep(3600)
        replayed = True
        return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def send_if_listening(message: dict[str, Any]) -> None:
        try:
            await send(message)
        except Exception:  # the client hung up long ago; the work is done regardless
            pass

    await app(scope, replay, send_if_listening)


class DroppedResponse(Exception):
    """Raised after a response was started to make the server close the connection."""


async def drop_connection(send: Any) -> None:
    """Close the client's connection without a response (uvicorn's transport when reachable)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()
        await asyncio.sleep(0.01)
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
    raise DroppedResponse


class FaultMiddleware:
    """Outermost ASGI layer: applies the injector's plan to every /v2 request."""

    def __init__(
        self, app: Any, injector: FaultInjector, rate_headers: Callable[[dict[str, Any]], dict[str, str]]
    ) -> None:
        self.app = app
        self.injector = injector
        self.rate_headers = rate_headers

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v2/"):
            await self.app(scope, receive, send)
            return
        plan = self.injector.plan(scope["method"], scope["path"][3:])
        if plan.delay:
            await asyncio.sleep(plan.delay)
        if plan.error is not None:
            await _send_error(send, plan.error, self.rate_headers(scope))
            return
        if plan.late:
            await _late_commit(self.app, scope, receive, send, plan.late)
            return
        if plan.after is None:
            await self.app(scope, receive, send)
            return
        messages: list[dict[str, Any]] = []

        async def capture(message: dict[str, Any]) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        if plan.after == "drop":
            await drop_connection(send)
        else:
            start = next((m for m in messages if m["type"] == "http.response.start"), {})
            counted = {
                k.decode("latin-1"): v.decode("latin-1")
                for k, v in start.get("headers", [])
                if k.lower().startswith(b"x-rate-limit-")
            }
            await _send_error(send, plan.after_status, counted)
