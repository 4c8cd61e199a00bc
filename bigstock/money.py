"""Money is an integer number of euro cents; VAT rates are Decimal fractions (0.20).

Totals are computed per VAT rate and rounded half-up once, at the total (DESIGN.md §5).
"""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format

CENT = Decimal("1")


def round_cents(value: Decimal) -> int:
    """Half-up to a whole cent."""
    return int(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def vat_cents(base_cents: int, rate: Decimal) -> int:
    """VAT on a base, rounded once."""
    return round_cents(Decimal(base_cents) * rate)


def prorate_cents(amount_cents: int, numerator: int, denominator: int) -> int:
    """``amount x numerator / denominator`` in exact arithmetic, rounded half-up once."""
    return round_cents(Decimal(amount_cents) * numerator / denominator)


def format_cents(amount_cents: int, currency: str = "EUR") -> str:
    """Localised display: ``1 234,56 €`` in French, ``€1,234.56``-like grouping in English."""
    value = Decimal(amount_cents) / 100
    text = number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{text}\u00a0€" if currency == "EUR" else f"{text}\u00a0{currency}"


def percent(rate: Decimal) -> str:
    """0.20 -> '20', 0.055 -> '5,5' (localised)."""
    value = (rate * 100).normalize()
    return number_format(value, use_l10n=True)
