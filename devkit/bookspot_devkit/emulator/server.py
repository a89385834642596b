"""`EmulatorServer`: the emulator on 127.0.0.1 in a background thread, for tests and local runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from ..httpserver import ThreadedServer
from .app import create_app
from .config import EmulatorConfig, FaultConfig, RateLimitConfig
from .state import EmulatorState


class EmulatorServer:
    """Serve an emulator for `config`; `url` is the API base (…/v2), `admin_url` the admin base.

    With `state_file` the companies' data outlives the server (see `EmulatorState`).
    """

    def __init__(
        self,
        config: EmulatorConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: str | Path | None = None,
    ) -> None:
        self.config = config
        self.state = EmulatorState(config, state_file)
        self.app = create_app(self.state)
        self._server = ThreadedServer(self.app, host=host, port=port)

    @property
    def root_url(self) -> str:
        return self._server.url

    @property
    def url(self) -> str:
        return f"{self._server.url}/v2"

    @property
    def admin_url(self) -> str:
        return f"{self._server.url}/_emulator"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        self._server.start(timeout)
        return self

    def stop(self) -> None:
        self._server.stop()
        self.state.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def admin(self, method: str, path: str, json: Any = None, timeout: float = 10.0) -> Any:
        """Call an admin endpoint (path relative to /_emulator) and return its JSON (None for 204)."""
        response = requests.request(
            method, f"{self.admin_url}/{path.lstrip('/')}", json=json, timeout=timeout
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        """Back to the configured start: no vouchers or sessions, configured faults and rate limit.

        A state file is brought to that start.
        """
        self.state.reset()

    def set_faults(self, faults: FaultConfig | None) -> None:
        self.state.faults.configure(faults)

    def set_rate_limit(self, rate_limit: RateLimitConfig | None) -> None:
        self.state.set_rate_limit(rate_limit)

    def expire_sessions(self) -> int:
        return self.state.expire_sessions()

    def vouchers(self, company_id: int) -> list[dict[str, Any]]:
        """Every voucher of a company with its postings (account numbers, VAT numbers, amounts)."""
        return list(self.admin("GET", f"companies/{company_id}/vouchers")["values"])

    def requests_seen(self) -> list[dict[str, Any]]:
        """The /v2 calls served so far: method, path, query, status, company_id, request_id (no tokens)."""
        return list(self.admin("GET", "requests")["values"])
