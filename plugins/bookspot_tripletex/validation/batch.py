"""Validate many tenant-days with one Great Expectations run per suite, then split the results back.

Each suite's frames of all tenant-days are stacked into one frame (columns `tenant` and `day` added);
tenant-days whose frames differ in column types or whose suite parameters differ go into separate
stacks, so every stack keeps the types and bound values each tenant-day has on its own. Per check kind:

- row checks (values between, in set, not null, regex, ...; type checks on object columns): run once on
  the stack; the failing row indexes GX returns are mapped back to each tenant-day's own rows;
- `expect_column_values_to_be_unique`: run on the column qualified by its tenant-day, so duplicates count
  only within one day;
- whole-table checks (row count, column sum): per tenant-day the table's figure (row count, the column's
  pandas sum, as GX computes it) is one row of a per-day frame on which GX checks the same bounds;
- a type check on a non-object column is a property of the stack's dtype, the same for each tenant-day;
- anything else (another kind, `mostly`, a row condition) runs on each tenant-day's own frame.

Each tenant-day's checks are then built by the same `to_check` as a lone run: results equal one-by-one
runs (tests/validation/test_batch.py).
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from bookspot_tripletex.journal.model import DayJournal
from bookspot_tripletex.tenants.config import TenantConfig
from bookspot_tripletex.validation.frames import build_frames
from bookspot_tripletex.validation.run import (
    Check,
    ValidationResult,
    exception_message,
    gx_runtime,
    new_result,
    run_suites,
    suite_params,
    to_check,
)
from bookspot_tripletex.validation.suites import SUITE_NAMES, suite_json

ROW_KINDS = frozenset(
    {
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_be_of_type",
    }
)
UNIQUE = "expect_column_values_to_be_unique"
TABLE_KINDS = {"expect_table_row_count_to_be_between": "rows", "expect_column_sum_to_be_between": "sum"}
STACK_KEYS = ("tenant", "day")
"""Columns naming each stacked row's tenant-day (a frame with a column of that name keeps its own)."""
TABLE_ASSET = "per_day"


@dataclass(frozen=True)
class Outcome:
    """One tenant-day's share of a GX result, shaped as to_check reads a GX result."""

    success: bool
    result: dict[str, Any]
    exception_info: Any = None


def _plan(exp: dict[str, Any]) -> str:
    kind = exp["type"]
    if (
        exp["kwargs"].get("mostly") is not None
        or exp.get("row_condition")
        or exp["kwargs"].get("row_condition")
    ):
        return "alone"
    if kind in ROW_KINDS:
        return "row"
    if kind == UNIQUE:
        return "unique"
    if kind in TABLE_KINDS:
        return "table"
    return "alone"


def _table_column(exp: dict[str, Any]) -> str:
    column = exp["kwargs"].get("column")
    return f"{TABLE_KINDS[exp['type']]}__{column or 'table'}"


def _table_figure(frame: pd.DataFrame, exp: dict[str, Any]) -> Any:
    if exp["type"] == "expect_table_row_count_to_be_between":
        return len(frame)
    return frame[exp["kwargs"]["column"]].sum()


def _unique_column(exp: dict[str, Any]) -> str:
    return f"unique__{exp['kwargs']['column']}"


def _stack_suite(exps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The suite as run on the stack: unique checks on the qualified column, per-day ones left out."""
    out = []
    for exp in exps:
        plan = _plan(exp)
        if plan == "row":
            out.append(exp)
        elif plan == "unique":
            out.append({**exp, "kwargs": {**exp["kwargs"], "column": _unique_column(exp)}})
    return out


def _day_suite(exps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Whole-table checks as the same bounds on each day's figure."""
    out = []
    for exp in exps:
        if _plan(exp) == "table":
            kwargs = {k: v for k, v in exp["kwargs"].items() if k != "column"}
            kwargs["column"] = _table_column(exp)
            out.append({**exp, "type": "expect_column_values_to_be_between", "kwargs": kwargs})
    return out


def _suite(name: str, exps: list[dict[str, Any]], data: dict[str, Any]) -> dict[str, Any]:
    return {**copy.deepcopy(data), "name": name, "expectations": copy.deepcopy(exps)}


def _stack(
    frames: list[pd.DataFrame], keys: list[tuple[str, str]], exps: list[dict[str, Any]]
) -> tuple[pd.DataFrame, list[int]]:
    """The frames one under the other, tenant and day as columns; the first stacked row of each day."""
    parts, starts, start = [], [], 0
    for i, frame in enumerate(frames):
        part = frame.copy()
        for column, value in zip(STACK_KEYS, keys[i], strict=True):
            if column not in part.columns:
                part[column] = pd.Series([value] * len(frame), dtype="str")
        for exp in exps:
            if _plan(exp) == "unique":
                column = exp["kwargs"]["column"]
                part[_unique_column(exp)] = pd.Series(
                    [None if pd.isna(v) else f"{i}\x1f{v}" for v in frame[column]], dtype="object"
                )
        parts.append(part)
        starts.append(start)
        start += len(frame)
    return pd.concat(parts, ignore_index=True), starts


def _error(result: Any) -> Any:
    info = getattr(result, "exception_info", None)
    return info if exception_message(info) else None


def _split_rows(
    result: Any, starts: list[int], sizes: list[int], originals: list[pd.Series] | None = None
) -> list[Outcome | None]:
    """A row check's result on the stack as each day's share; `originals`: each day's checked column,
    whose values replace the stack's (a qualified column's) in the share."""
    if result is None:
        return [None] * len(starts)
    error = _error(result)
    res = result.result or {}
    if error is not None:
        return [Outcome(False, res, error) for _ in starts]
    if "observed_value" in res:  # a type check on a non-object dtype: the stack's dtype is each day's
        return [Outcome(bool(result.success), res) for _ in starts]
    indexes = list(res.get("unexpected_index_list") or [])
    values = list(res.get("unexpected_list") or [])
    if len(values) != len(indexes):
        values = [None] * len(indexes)
    per_day: list[list[tuple[int, Any]]] = [[] for _ in starts]
    bounds = pd.Series(starts)
    for index, value in zip(indexes, values, strict=True):
        day = int(bounds.searchsorted(index, side="right")) - 1
        per_day[day].append((int(index) - starts[day], value))
    out: list[Outcome | None] = []
    for day, rows in enumerate(per_day):
        share = {
            "element_count": sizes[day],
            "unexpected_count": len(rows),
            "unexpected_list": [v for _, v in rows],
            "unexpected_index_list": [i for i, _ in rows],
        }
        if originals is not None:
            share["unexpected_list"] = [originals[day].iloc[i] for i, _ in rows]
        out.append(Outcome(not rows, share))
    return out


def _split_days(result: Any, figures: list[Any]) -> list[Outcome | None]:
    """A per-day check's result as each day's figure, passing unless GX named the day's row."""
    if result is None:
        return [None] * len(figures)
    error = _error(result)
    if error is not None:
        return [Outcome(False, result.result or {}, error) for _ in figures]
    failing = set((result.result or {}).get("unexpected_index_list") or [])
    return [Outcome(i not in failing, {"observed_value": fig}) for i, fig in enumerate(figures)]


def _run_stack(
    name: str,
    data: dict[str, Any],
    frames: list[pd.DataFrame],
    keys: list[tuple[str, str]],
    params: dict[str, Any],
) -> list[dict[str | None, Any]]:
    """The suite on a stack of days with the same column types and parameters: per day, by check."""
    runtime = gx_runtime()
    exps = data["expectations"]
    per_day: list[dict[str | None, Any]] = [{} for _ in frames]
    row_suite = _stack_suite(exps)
    if row_suite:
        stacked, starts = _stack(frames, keys, exps)
        results = runtime.validate(name, stacked, _suite(name, row_suite, data), params)
        sizes = [len(f) for f in frames]
        for exp in exps:
            if _plan(exp) not in ("row", "unique"):
                continue
            check = exp["meta"]["check"]
            originals = [f[exp["kwargs"]["column"]] for f in frames] if exp["type"] == UNIQUE else None
            for day, share in enumerate(_split_rows(results.get(check), starts, sizes, originals)):
                per_day[day][check] = share
    day_suite = _day_suite(exps)
    if day_suite:
        tables = [exp for exp in exps if _plan(exp) == "table"]
        figures = {_table_column(exp): [_table_figure(f, exp) for f in frames] for exp in tables}
        table = pd.DataFrame({k: pd.Series(v) for k, v in figures.items()})
        results = runtime.validate(TABLE_ASSET, table, _suite(f"{name}.per_day", day_suite, data), params)
        for exp in day_suite:
            check = exp["meta"]["check"]
            shares = _split_days(results.get(check), figures[exp["kwargs"]["column"]])
            for day, share in enumerate(shares):
                per_day[day][check] = share
    alone = [exp for exp in exps if _plan(exp) == "alone"]
    if alone:
        for day, frame in enumerate(frames):
            per_day[day].update(runtime.validate(name, frame, _suite(name, alone, data), params))
    return per_day


def _signature(frame: pd.DataFrame, params: dict[str, Any]) -> tuple[Any, ...]:
    return (tuple((c, str(t)) for c, t in frame.dtypes.items()), tuple(sorted(params.items())))


def run_suites_batch(
    frames: Sequence[dict[str, pd.DataFrame]],
    params: Sequence[dict[str, Any]],
    keys: Sequence[tuple[str, str]],
) -> tuple[list[list[Check]], str]:
    """Each tenant-day's checks (suite-file order, as `run.run_suites` gives them) and the GX version.
    A lone tenant-day takes `run.run_suites` itself (fewer GX runs than a stack of one)."""
    if len(frames) == 1:
        lone, version = run_suites(frames[0], params[0])
        return [lone], version
    checks: list[list[Check]] = [[] for _ in frames]
    for name in SUITE_NAMES:
        data = suite_json(name)
        stacks: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, day_frames in enumerate(frames):
            stacks[_signature(day_frames[name], params[i])].append(i)
        for members in stacks.values():
            stack_params = params[members[0]]
            results = _run_stack(
                name, data, [frames[i][name] for i in members], [keys[i] for i in members], stack_params
            )
            for i, by_check in zip(members, results, strict=True):
                for exp in data["expectations"]:
                    outcome = by_check.get(exp["meta"]["check"])
                    checks[i].append(to_check(name, exp, outcome, frames[i][name], stack_params))
    return checks, gx_runtime().version


def validate_journals(
    conn: Connection, items: Sequence[tuple[TenantConfig, DayJournal]]
) -> list[ValidationResult]:
    """Validate many tenant-days at once; one result per item, in order, as `run.validate_day` gives it."""
    if not items:
        return []
    started = time.perf_counter()
    frames = [build_frames(conn, journal) for _, journal in items]
    checks, version = run_suites_batch(
        frames,
        [suite_params(tenant) for tenant, _ in items],
        [(journal.tenant, journal.date.isoformat()) for _, journal in items],
    )
    share = (time.perf_counter() - started) / len(items)
    return [
        new_result(journal, tenant, day_frames, day_checks, version, share)
        for (tenant, journal), day_frames, day_checks in zip(items, frames, checks, strict=True)
    ]
