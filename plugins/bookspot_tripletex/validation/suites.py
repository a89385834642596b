"""The expectation suites, kept as reviewable JSON in the project's expectations/ folder."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bookspot_tripletex.settings import PACKAGE_DIR

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

SUITES_DIR = PACKAGE_DIR / "expectations"
SUITE_NAMES = ("journal_lines", "voucher", "day_totals", "vat_derivation", "postings_vs_lines")


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file and what is wrong."""


def check_suite(data: Any, source: str) -> dict[str, Any]:
    """A suite needs a name, notes and expectations, each with type, kwargs, description and meta.check."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise SuiteError(f"{source}: a suite is an object with a name")
    if not (data.get("meta") or {}).get("notes"):
        raise SuiteError(f"{source}: meta.notes must describe the suite")
    expectations = data.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteError(f"{source}: expectations must be a non-empty list")
    seen: set[str] = set()
    for i, exp in enumerate(expectations):
        where = f"{source}: expectations[{i}]"
        if (
            not isinstance(exp, dict)
            or not isinstance(exp.get("type"), str)
            or not isinstance(exp.get("kwargs"), dict)
        ):
            raise SuiteError(f"{where}: needs a type and kwargs")
        if not exp.get("description"):
            raise SuiteError(f"{where}: needs a plain-English description")
        check = (exp.get("meta") or {}).get("check")
        if not isinstance(check, str) or not check:
            raise SuiteError(f"{where}: meta.check must name the check")
        if check in seen:
            raise SuiteError(f"{where}: check name {check!r} is used twice")
        seen.add(check)
    return data


def suite_json(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The checked JSON of one suite (a fresh copy: callers may change it)."""
    path = (directory or SUITES_DIR) / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{path}: {exc}") from exc
    return check_suite(data, str(path))


def build_suite(data: dict[str, Any]) -> ExpectationSuite:
    """A suite's JSON as a GX ExpectationSuite (imports great_expectations: call it inside a task)."""
    import great_expectations as gx

    return gx.ExpectationSuite(**copy.deepcopy(data))
