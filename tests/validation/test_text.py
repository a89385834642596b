"""The reports' remembered formatting says what money.nok_text and timeutil.day_text say."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bookspot_tripletex import money, timeutil
from bookspot_tripletex.validation.text import day_text, nok_text


def test_amounts_as_money_writes_them_and_equal_values_of_other_types_apart() -> None:
    for amount in (119000, -164627, 0, "1190.00", Decimal("1190"), None, "n/a"):
        assert nok_text(amount) == money.nok_text(amount)
    assert nok_text(119000) == "1\xa0190,00"
    assert nok_text(Decimal("119000")) == money.nok_text(Decimal("119000")) != nok_text(119000)


def test_days_as_timeutil_writes_them() -> None:
    for day in (dt.date(2026, 11, 24), "2026-11-24", None, "not a day"):
        assert day_text(day) == timeutil.day_text(day)
    assert day_text(dt.date(2026, 11, 24)) == "24.11.2026"
