import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bookspot_tripletex.domain import ACCOUNT_TYPE
from bookspot_tripletex.validation.suites import SUITE_NAMES, SUITES_DIR, SuiteError, check_suite, suite_json

ROOT = Path(__file__).resolve().parents[2]


def test_every_suite_file_is_listed_and_valid() -> None:
    assert SUITES_DIR.resolve() == ROOT / "expectations"
    assert sorted(p.stem for p in SUITES_DIR.glob("*.json")) == sorted(SUITE_NAMES)
    for name in SUITE_NAMES:
        data = suite_json(name)
        assert data["name"] == name
        assert len(data["meta"]["notes"]) > 80
        assert all(e["type"].startswith("expect_") and e["description"] for e in data["expectations"])


def expectation(suite: str, check: str) -> dict:
    return next(e for e in suite_json(suite)["expectations"] if e["meta"]["check"] == check)


def test_account_type_regex_is_the_tenant_config_one() -> None:
    """The suite keeps a copy of the config's regex (groups non-capturing); they must not drift apart."""
    regex = expectation("journal_lines", "account_type_known")["kwargs"]["regex"]
    assert regex == ACCOUNT_TYPE.pattern.replace("(", "(?:")
    samples = [
        *("sales.25", "sales.exempt", "settlement.vipps", "product.p_1", "category.rental"),
        *("gift_card_liability", "sales.13"),
        *("settlement.paypal", "provider_fees ", "customer_prepayments", "product. x"),
    ]
    assert [bool(re.search(regex, s)) for s in samples] == [bool(ACCOUNT_TYPE.match(s)) for s in samples]


def test_tolerance_is_a_suite_parameter() -> None:
    exp = expectation("vat_derivation", "within_tolerance")
    assert exp["kwargs"]["max_value"] == {"$PARAMETER": "vat_tolerance_ore"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["meta"].pop("notes"), "meta.notes"),
        (lambda d: d["expectations"][0].pop("description"), "description"),
        (lambda d: d["expectations"][0]["meta"].pop("check"), "meta.check"),
        (lambda d: d["expectations"].append(dict(d["expectations"][0])), "used twice"),
        (lambda d: d.update(expectations=[]), "non-empty"),
    ],
)
def test_a_broken_suite_is_refused(change, message: str) -> None:
    data = json.loads(json.dumps(suite_json("voucher")))
    change(data)
    with pytest.raises(SuiteError, match=message):
        check_suite(data, "voucher.json")


def test_importing_the_step_does_not_import_great_expectations() -> None:
    code = (
        "import sys\n"
        "import bookspot_tripletex.validation.run, bookspot_tripletex.validation.report\n"
        "import bookspot_tripletex.validation.suites, bookspot_tripletex.validation.frames\n"
        "assert 'great_expectations' not in sys.modules, 'GX imported at module import time'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
