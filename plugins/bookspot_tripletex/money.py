"""Money as integer øre: rounding, VAT arithmetic, the Decimal/NOK edge and NOK as Norwegians read it."""

from __future__ import annotations

from decimal import Decimal

ORE_PER_NOK = 100
_CENT = Decimal("0.01")
LOCALE = "nb_NO"
NOK_PATTERN = "#,##0.00"


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


def nok_text(amount: int | str | Decimal | None) -> str:
    """An amount as Norwegians read it (Babel, nb-NO): øre 119000 or "1190.00" -> "1 190,00" (the group
    separator a no-break space). Text that is not an amount is returned as it is; None as ""."""
    from babel.numbers import format_decimal

    if amount is None:
        return ""
    if isinstance(amount, bool) or isinstance(amount, float):
        raise TypeError(f"not an amount: {amount!r}")
    if isinstance(amount, int):
        value = ore_to_decimal(amount)
    else:
        try:
            value = Decimal(str(amount).strip())
        except ArithmeticError:
            return str(amount)
        if not value.is_finite():
            return str(amount)
    return format_decimal(value, format=NOK_PATTERN, locale=LOCALE)


def parse_nok(value: str | int | Decimal) -> int:
    """A NOK amount (string or Decimal, at most two decimals) to øre."""
    if isinstance(value, float):
        raise TypeError("NOK amounts are never floats")
    amount = Decimal(str(value))
    ore = amount * ORE_PER_NOK
    if ore != ore.to_integral_value():
        raise ValueError(f"{value!r} has more than two decimals")
    return int(ore)
