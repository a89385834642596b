"""Configure and run the BookSpot simulator: generated data per account, served from a background thread."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.dataclasses import dataclass

from bookspot_devkit.configfile import read_mapping, validated
from bookspot_devkit.httpserver import ThreadedServer

from .app import Faults, Simulation, create_app
from .generator import Knobs, TenantGenerator


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class SimulatorConfig:
    """Accounts and their tokens, the data to generate for each (dates inclusive; none without dates),
    knobs, faults, the clock (None: every version is visible), an optional admin token, host and port.

    A pydantic dataclass: a token is a string or {"env": "VARIABLE"} read from the environment;
    `knobs` and `faults` may be mappings; unknown settings are refused.
    """

    tokens: dict[str, str] = Field(min_length=1)
    seed: int = 0
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    transactions_per_day: float | None = Field(default=None, gt=0)
    knobs: Knobs = dataclasses.field(default_factory=Knobs)
    faults: Faults = dataclasses.field(default_factory=Faults)
    fault_seed: int = 0
    now: dt.datetime | None = None
    admin_token: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)

    @field_validator("tokens", mode="before")
    @classmethod
    def _tokens(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {str(account): _token(str(account), token) for account, token in value.items()}

    @field_validator("knobs", mode="plain")
    @classmethod
    def _knobs(cls, value: Any) -> Knobs:
        return value if isinstance(value, Knobs) else Knobs.from_mapping(_mapping(value, "knobs"))

    @field_validator("faults", mode="plain")
    @classmethod
    def _faults(cls, value: Any) -> Faults:
        return value if isinstance(value, Faults) else Faults().replaced(_mapping(value, "faults"))

    @model_validator(mode="after")
    def _both_dates(self) -> SimulatorConfig:
        if (self.date_from is None) != (self.date_to is None):
            raise ValueError("give both date_from and date_to, or neither")
        return self

    def __repr__(self) -> str:
        return f"SimulatorConfig(accounts={sorted(self.tokens)}, seed={self.seed}, port={self.port})"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "simulator config") -> SimulatorConfig:
        """From parsed JSON/YAML; a `ConfigError` names `source` and each bad field."""
        return validated(cls, dict(data), source)

    @classmethod
    def from_file(cls, path: str | Path) -> SimulatorConfig:
        """A JSON file (`.json`), else YAML."""
        return cls.from_mapping(read_mapping(path), Path(path).name)


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping")
    return value


def _token(account: str, value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and isinstance(value.get("env"), str):
        token = os.environ.get(value["env"])
        if not token:
            raise ValueError(f"token of account {account!r}: environment variable {value['env']} is not set")
        return token
    raise ValueError(f"token of account {account!r} must be a non-empty string or {{'env': NAME}}")


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
