"""Days and instants as Norwegians write them (Babel, nb-NO), in Oslo time."""

from __future__ import annotations

import datetime as dt

import pytest

from bookspot_tripletex.timeutil import day_text, moment_text


@pytest.mark.parametrize(
    ("day", "expected"),
    [(dt.date(2026, 11, 24), "24.11.2026"), ("2026-03-05", "05.03.2026"), (None, ""), ("someday", "someday")],
)
def test_day_text(day: object, expected: str) -> None:
    assert day_text(day) == expected  # type: ignore[arg-type]


def test_moment_text_is_oslo_time_summer_and_winter() -> None:
    assert moment_text("2026-11-24T23:30:00+00:00") == "25.11.2026 00:30"
    assert moment_text(dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC)) == "01.07.2026 12:00"
    assert moment_text(dt.datetime(2026, 7, 1, 10, 0)) == "01.07.2026 12:00"  # naive: UTC
