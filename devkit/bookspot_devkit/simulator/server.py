"""Configure and run the BookSpot simulator: generated data per account, served from a background thread."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bookspot_devkit.httpserver import ThreadedServer

from .app import Faults, Simulation, create_app
from .generator import Knobs, TenantGenerator


@dataclasses.dataclass(frozen=True)
class SimulatorConfig:
    """Accounts and their tokens, the data to generate for each (dates inclusive; none without dates),
    knobs, faults, the clock (None: every version is visible), an optional admin token, host and port."""

    tokens: Mapping[str, str]
    seed: int = 0
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    transactions_per_day: float | None = None
    knobs: Knobs = dataclasses.field(default_factory=Knobs)
    faults: Faults = dataclasses.field(default_factory=Faults)
    fault_seed: int = 0
    now: dt.datetime | None = None
    admin_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        if not self.tokens:
            raise ValueError("the simulator needs at least one account and token")
        for account, token in self.tokens.items():
            if not isinstance(token, str) or not token:
                raise ValueError(f"account {account!r} needs a non-empty token")
        if (self.date_from is None) != (self.date_to is None):
            raise ValueError("give both date_from and date_to, or neither")

    def __repr__(self) -> str:
        return f"SimulatorConfig(accounts={sorted(self.tokens)}, seed={self.seed}, port={self.port})"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimulatorConfig:
        """From parsed JSON/YAML. A token is a string or {"env": "VARIABLE"} read from the environment."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown simulator setting(s) {', '.join(unknown)}")
        values = dict(data)
        values["tokens"] = {str(k): _token(str(k), v) for k, v in dict(data.get("tokens") or {}).items()}
        for name in ("date_from", "date_to"):
            if isinstance(values.get(name), str):
                values[name] = dt.date.fromisoformat(values[name])
        if isinstance(values.get("now"), str):
            values["now"] = dt.datetime.fromisoformat(values["now"])
        values["knobs"] = Knobs.from_mapping(values.get("knobs") or {})
        values["faults"] = Faults().replaced(values.get("faults") or {})
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> SimulatorConfig:
        """A JSON file, or YAML when the name ends in .yaml/.yml."""
        text = Path(path).read_text(encoding="utf-8")
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the simulator config must be a mapping")
        return cls.from_mapping(data)


def _token(account: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("env"), str):
        token = os.environ.get(value["env"])
        if not token:
            raise ValueError(f"token of account {account!r}: environment variable {value['env']} is not set")
        return token
    raise ValueError(f"token of account {account!r} must be a string or {{'env': NAME}}")


def build_simulation(config: SimulatorConfig) -> Simulation:
    """A Simulation holding every configured account's generated records."""
    sim = Simulation(
        config.tokens,
        faults=config.faults,
        fault_seed=config.fault_seed,
        now=config.now,
        admin_token=config.admin_token,
    )
    if config.date_from is not None and config.date_to is not None:
        for account in config.tokens:
            generator = TenantGenerator(
                account, config.seed, transactions_per_day=config.transactions_per_day, knobs=config.knobs
            )
            sim.load(account, generator.iter_versions(config.date_from, config.date_to))
    return sim


class SimulatorServer:
    """The simulator over real HTTP; `url` is the base URL a BookSpot client is given."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.simulation = build_simulation(config)
        self._http = ThreadedServer(create_app(self.simulation), host=config.host, port=config.port)

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> SimulatorServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
