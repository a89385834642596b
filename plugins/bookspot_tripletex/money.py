"""Money as integer øre: rounding, VAT arithmetic and the Decimal/NOK edge."""

from __future__ import annotations

from decimal import Decimal

ORE_PER_NOK = 100
_CENT = Decimal("0.01")


def div_round_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero (denominator > 0)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def vat_in_gross(gross_ore: int, rate_percent: int) -> int:
    """VAT contained in a gross amount: round_half_up(gross * r / (100 + r))."""
    return div_round_half_up(gross_ore * rate_percent, 100 + rate_percent)


def net_of_gross(gross_ore: int, rate_percent: int) -> int:
    """Net as Tripletex derives it: gross / (1 + r) rounded to øre."""
    return div_round_half_up(gross_ore * 100, 100 + rate_percent)


def ore_to_decimal(ore: int) -> Decimal:
    """Øre to a two-decimal NOK Decimal (exact)."""
    if isinstance(ore, bool) or not isinstance(ore, int):
        raise TypeError(f"øre must be int, got {type(ore).__name__}")
    return (Decimal(ore) / ORE_PER_NOK).quantize(_CENT)


def format_nok(ore: int) -> str:
    """Øre as a decimal NOK string, e.g. 164627 -> '1646.27'."""
    return str(ore_to_decimal(ore))


def parse_nok(value: str | int | Decimal) -> int:
    """A NOK amount (string or Decimal, at most two decimals) to øre."""
    if isinstance(value, float):
        raise TypeError("NOK amounts are never floats")
    amount = Decimal(str(value))
    ore = amount * ORE_PER_NOK
    if ore != ore.to_integral_value():
        raise ValueError(f"{value!r} has more than two decimals")
    return int(ore)
