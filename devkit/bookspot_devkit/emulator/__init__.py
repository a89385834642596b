"""A local emulator of the Tripletex API v2 subset BookSpot uses (tokens, ledger, vouchers)."""

from .config import (
    AccountSpec,
    ClosedPeriod,
    CompanyConfig,
    EmulatorConfig,
    FaultConfig,
    FaultRule,
    RateLimitConfig,
    load_config,
    write_config,
)

__all__ = [
    "AccountSpec",
    "ClosedPeriod",
    "CompanyConfig",
    "EmulatorConfig",
    "FaultConfig",
    "FaultRule",
    "RateLimitConfig",
    "load_config",
    "write_config",
]
