from decimal import Decimal

import pytest

from bookspot_tripletex.money import (
    div_round_half_up,
    format_nok,
    net_of_gross,
    ore_to_decimal,
    parse_nok,
    vat_in_gross,
)


@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [(5, 2, 3), (4, 2, 2), (7, 2, 4), (-5, 2, -3), (1, 3, 0), (2, 3, 1), (0, 7, 0)],
)
def test_round_half_up_away_from_zero(num: int, den: int, expected: int) -> None:
    assert div_round_half_up(num, den) == expected


def test_vat_of_the_worked_example_lines() -> None:
    assert vat_in_gross(119000, 25) == 23800
    assert vat_in_gross(30000, 15) == 3913
    assert vat_in_gross(105000, 12) == 11250
    assert vat_in_gross(100000, 0) == 0


def test_net_and_vat_add_up_to_gross() -> None:
    for gross in (1, 99, 4900, 132900, -132900):
        assert net_of_gross(gross, 25) + vat_in_gross(gross, 25) == gross


def test_nok_edge_is_exact_and_refuses_floats() -> None:
    assert format_nok(164627) == "1646.27"
    assert format_nok(-40500) == "-405.00"
    assert ore_to_decimal(5063) == Decimal("50.63")
    assert parse_nok("1.00") == 100
    with pytest.raises(TypeError):
        parse_nok(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        parse_nok("1.005")
    with pytest.raises(TypeError):
        ore_to_decimal(1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (119_050, "1\u00a0190,50"),
        ("1190.00", "1\u00a0190,00"),
        (Decimal("-1234567.89"), "-1\u00a0234\u00a0567,89"),
        (5, "0,05"),
        ("0.00", "0,00"),
        (None, ""),
        ("not compared", "not compared"),
    ],
)
def test_nok_text_reads_as_norwegian(amount: object, expected: str) -> None:
    from bookspot_tripletex.money import nok_text

    assert nok_text(amount) == expected  # type: ignore[arg-type]


def test_nok_text_refuses_floats() -> None:
    from bookspot_tripletex.money import nok_text

    with pytest.raises(TypeError):
        nok_text(1190.5)  # type: ignore[arg-type]
