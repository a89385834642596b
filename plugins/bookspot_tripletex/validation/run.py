"""Run the expectation suites on one tenant-day; the checks, results and GX context they share.

Great Expectations is imported on first use and its ephemeral context created once per process
(`gx_runtime`); the import takes seconds. Every suite runs on its frame (validation/frames.py); `success`
is True only when every check of every suite passes. A day without a voucher is never a success: the
voucher suite requires at least one posting. Many tenant-days at once: validation/batch.py.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.money import nok_text
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.validation.frames import (
    ROW_KEYS,
    build_frames,
    plain,
    records,
    totals_by_payment_method,
    totals_by_vat_rate,
)
from bookspot_tripletex.validation.suites import SUITE_NAMES, build_suite, suite_json

log = logging.getLogger(__name__)

MAX_LISTED = 50
DATASOURCE = "bookspot_validation"


@dataclass(frozen=True)
class Check:
    """One expectation's outcome, worded for a reviewer; money values are øre when unit == 'ore'."""

    name: str
    suite: str
    description: str
    passed: bool
    expected: str
    observed: Any
    unit: str | None = None
    rows_checked: int | None = None
    unexpected_count: int | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ValidationResult:
    tenant: str
    date: str
    success: bool
    checks: list[Check]
    totals_by_vat_rate: list[dict[str, Any]]
    totals_by_payment_method: list[dict[str, Any]]
    vat_derivation: list[dict[str, Any]]
    vat_tolerance_ore: int
    gx_version: str
    validated_at: str
    duration_s: float
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def summary(self) -> dict[str, Any]:
        """What the voucher row keeps: pass/fail, which checks failed, when."""
        return {
            "success": self.success,
            "checks": len(self.checks),
            "passed": sum(c.passed for c in self.checks),
            "failed": self.failed,
            "warnings": [w["check"] for w in self.warnings],
            "validated_at": self.validated_at,
        }

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["failed"] = self.failed
        return out


def _value_text(value: Any, unit: str | None) -> str:
    if unit == "ore" and isinstance(value, float) and value.is_integer():
        value = int(value)
    if unit == "ore" and isinstance(value, int) and not isinstance(value, bool):
        return nok_text(value)
    return str(value)


def _bind(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return params[value["$PARAMETER"]]
    return value


def expected_text(exp: dict[str, Any], params: dict[str, Any]) -> str:
    """What the check requires, in words: meta.expected (may name kwargs, e.g. {max_value}) or generated."""
    meta = exp.get("meta") or {}
    unit = meta.get("unit")
    kw = {k: _bind(v, params) for k, v in exp["kwargs"].items()}
    if meta.get("expected"):
        return str(meta["expected"]).format_map({k: _value_text(v, unit) for k, v in kw.items()})
    col = str(kw.get("column", "")).removesuffix("_ore")
    suffix = " NOK" if unit == "ore" else ""
    lo, hi = kw.get("min_value"), kw.get("max_value")
    kind = exp["type"]
    if kind == "expect_column_sum_to_be_between":
        if lo == hi and lo is not None:
            return f"sum of {col} = {_value_text(lo, unit)}{suffix}"
        return f"sum of {col} between {_value_text(lo, unit)} and {_value_text(hi, unit)}{suffix}"
    if kind == "expect_column_values_to_be_between":
        if lo == hi and lo is not None:
            return f"every {col} = {_value_text(lo, unit)}{suffix}"
        return f"every {col} between {_value_text(lo, unit)} and {_value_text(hi, unit)}{suffix}"
    if kind == "expect_column_values_to_not_be_null":
        return f"no empty {col}"
    if kind == "expect_column_values_to_be_unique":
        return f"{col} unique"
    if kind == "expect_column_values_to_be_in_set":
        return f"every {col} one of " + ", ".join(map(str, kw["value_set"]))
    if kind == "expect_column_values_to_not_be_in_set":
        return f"no {col} equal to " + ", ".join(_value_text(v, unit) for v in kw["value_set"])
    if kind == "expect_column_values_to_be_of_type":
        return f"{col} stored as {kw['type_']}"
    if kind == "expect_column_values_to_match_regex":
        return f"every {col} matches {kw['regex']}"
    if kind == "expect_table_row_count_to_be_between":
        return f"between {lo} and {hi} rows" if hi is not None else f"at least {lo} rows"
    return f"{kind} {kw}"


def exception_message(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "error")
    for nested in info.values():
        message = exception_message(nested)
        if message:
            return message
    return None


def _failed_rows(
    frame: pd.DataFrame, suite: str, column: str | None, indexes: list[Any]
) -> list[dict[str, Any]]:
    keys = [k for k in ROW_KEYS.get(suite, ()) if k in frame.columns]
    if column and column in frame.columns and column not in keys:
        keys.append(column)
    rows = []
    for index in indexes[:MAX_LISTED]:
        if isinstance(index, dict):
            rows.append(plain(index))
        elif index in frame.index:
            row = frame.loc[index]
            rows.append({k: plain(row[k]) for k in keys})
    return rows


def to_check(
    suite: str, exp: dict[str, Any], result: Any, frame: pd.DataFrame, params: dict[str, Any]
) -> Check:
    """One GX ExpectationValidationResult (or None when GX returned none) as a Check."""
    meta = exp.get("meta") or {}
    unit = meta.get("unit")
    common = {
        "name": f"{suite}.{meta['check']}",
        "suite": suite,
        "description": exp["description"],
        "expected": expected_text(exp, params),
        "unit": unit,
    }
    if result is None:
        return Check(passed=False, observed=None, error="not evaluated", **common)
    error = exception_message(result.exception_info)
    res = result.result or {}
    if error is not None:
        return Check(passed=False, observed=None, error=error, **common)
    if "observed_value" in res:
        return Check(passed=bool(result.success), observed=plain(res["observed_value"]), **common)
    unexpected = plain(res.get("unexpected_list") or [])
    indexes = list(res.get("unexpected_index_list") or [])
    return Check(
        passed=bool(result.success),
        observed=unexpected[:MAX_LISTED],
        rows_checked=plain(res.get("element_count")),
        unexpected_count=plain(res.get("unexpected_count", len(unexpected))),
        failures=_failed_rows(frame, suite, exp["kwargs"].get("column"), indexes),
        **common,
    )


@dataclass
class GxRuntime:
    """The process's GX module, ephemeral context and pandas data source, with compiled suites."""

    gx: Any
    context: Any
    source: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    definitions: dict[str, Any] = field(default_factory=dict)
    suites: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.gx.__version__)

    def validate(
        self, asset: str, frame: pd.DataFrame, suite: dict[str, Any], params: dict[str, Any]
    ) -> dict[str | None, Any]:
        """Validate one frame against one suite's JSON; the GX results by meta.check."""
        key = json.dumps(suite, sort_keys=True)
        with self.lock:
            if asset not in self.definitions:
                self.definitions[asset] = self.source.add_dataframe_asset(
                    asset
                ).add_batch_definition_whole_dataframe(asset)
            if key not in self.suites:
                self.suites[key] = build_suite(suite)
            batch = self.definitions[asset].get_batch(batch_parameters={"dataframe": frame})
            outcome = batch.validate(
                self.suites[key], expectation_parameters=params, result_format="COMPLETE"
            )
        return {(r.expectation_config.meta or {}).get("check"): r for r in outcome.results}


@functools.cache
def gx_runtime() -> GxRuntime:
    """Import GX and create its ephemeral context: once per process."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return GxRuntime(gx, context, context.data_sources.add_pandas(DATASOURCE))


def run_suites(frames: dict[str, pd.DataFrame], params: dict[str, Any]) -> tuple[list[Check], str]:
    """Validate each suite on its frame; the checks in suite-file order, and the GX version."""
    runtime = gx_runtime()
    checks: list[Check] = []
    for name in SUITE_NAMES:
        data = suite_json(name)
        frame = frames[name]
        by_check = runtime.validate(name, frame, data, params)
        for exp in data["expectations"]:
            checks.append(to_check(name, exp, by_check.get(exp["meta"]["check"]), frame, params))
    return checks, runtime.version


def new_result(
    journal: DayJournal,
    tenant: TenantConfig,
    frames: dict[str, pd.DataFrame],
    checks: list[Check],
    gx_version: str,
    duration_s: float,
) -> ValidationResult:
    """The result of one tenant-day from its frames and checks (logged)."""
    result = ValidationResult(
        tenant=journal.tenant,
        date=journal.date.isoformat(),
        success=bool(checks) and all(c.passed for c in checks),
        checks=checks,
        totals_by_vat_rate=totals_by_vat_rate(frames["day_totals"]),
        totals_by_payment_method=totals_by_payment_method(frames["day_totals"]),
        vat_derivation=records(frames["vat_derivation"]),
        vat_tolerance_ore=tenant.vat_tolerance_ore,
        gx_version=gx_version,
        validated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        duration_s=round(duration_s, 3),
    )
    log.info(
        "%s %s: validation %s (%d checks, failed: %s)",
        journal.tenant,
        journal.date,
        "passed" if result.success else "FAILED",
        len(checks),
        ", ".join(result.failed) or "none",
    )
    return result


def suite_params(tenant: TenantConfig) -> dict[str, Any]:
    """The values bound to the suites' $PARAMETERs for one tenant."""
    return {"vat_tolerance_ore": tenant.vat_tolerance_ore}


def validate_day(conn: Connection, tenant: TenantConfig, journal: DayJournal) -> ValidationResult:
    """Run every suite on the day's frames, one tenant-day alone; `success` is False as soon as one
    check fails."""
    started = time.perf_counter()
    frames = build_frames(conn, journal)
    checks, gx_version = run_suites(frames, suite_params(tenant))
    return new_result(journal, tenant, frames, checks, gx_version, time.perf_counter() - started)
