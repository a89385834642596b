"""The hashed locks pin every requirement of every locked package, extras included, on lines of their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bookspot_devkit import locks

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [("requirements-dev.lock", "requirements-dev.in"), ("requirements.txt", "requirements.in")]


@pytest.mark.parametrize(("lock_name", "in_name"), PAIRS)
def test_committed_lock_pins_everything_its_packages_require(lock_name: str, in_name: str) -> None:
    lock = locks.parse_lock((ROOT / lock_name).read_text(encoding="utf-8"))
    problems, extras = locks.walk(lock, locks.roots(ROOT / in_name), locks.installed_requires)
    assert [str(p) for p in problems] == []
    assert ("uvicorn", "standard") in extras


def _without_entry(text: str, first_line: str) -> str:
    return re.sub(rf"(?ms)^{re.escape(first_line)}.*?(?=^\S)", "", text, count=1)


def test_check_fails_on_an_extra_left_unpinned() -> None:
    text = (ROOT / "requirements-dev.lock").read_text(encoding="utf-8")
    assert "uvicorn[standard]==" in text
    lock = locks.parse_lock(_without_entry(text, "uvicorn[standard]=="))
    problems, _ = locks.walk(lock, locks.roots(ROOT / "requirements-dev.in"), locks.installed_requires)
    assert [p.requirement for p in problems] == ["uvicorn[standard]"]


def test_check_fails_on_a_requirement_missing_from_the_lock() -> None:
    text = (ROOT / "requirements-dev.lock").read_text(encoding="utf-8")
    lock = locks.parse_lock(_without_entry(text, "h11=="))
    problems, _ = locks.walk(lock, locks.roots(ROOT / "requirements-dev.in"), locks.installed_requires)
    assert problems and {p.reason for p in problems} == {"not in the lock"}
    assert all(p.requirement.startswith("h11") for p in problems)


def test_check_fails_on_a_pin_its_dependant_refuses() -> None:
    lock = locks.parse_lock("app==1.0 \\\n    --hash=sha256:00\nlib==2.0 \\\n    --hash=sha256:11\n")
    requires = {("app", "1.0"): ["lib<2", 'extra-lib[fast]>=1; extra == "x"'], ("lib", "2.0"): []}
    problems, _ = locks.walk(lock, [locks.Requirement("app")], lambda n, v: requires[n, v])
    assert [str(p) for p in problems] == ["lib<2 (wanted by app==1.0): the lock pins 2.0"]


def test_pin_adds_the_extra_with_the_entrys_hashes(tmp_path: Path) -> None:
    lock_file = tmp_path / "lock.txt"
    lock_file.write_text(
        "app==1.0 \\\n    --hash=sha256:aa\n    # via -r in\nlib==2.0 \\\n    --hash=sha256:bb \\\n"
        "    --hash=sha256:cc\n    # via app\n",
        encoding="utf-8",
    )
    in_file = tmp_path / "in.txt"
    in_file.write_text("app\n", encoding="utf-8")
    requires = {("app", "1.0"): ["lib[fast]>=2"], ("lib", "2.0"): []}
    added = locks.pin(lock_file, in_file, lambda n, v: requires[n, v])
    assert added == ["lib[fast]==2.0"]
    text = lock_file.read_text(encoding="utf-8")
    assert "lib[fast]==2.0 \\\n    --hash=sha256:bb \\\n    --hash=sha256:cc\n" in text
    problems, _ = locks.walk(locks.parse_lock(text), locks.roots(in_file), lambda n, v: requires[n, v])
    assert problems == []
