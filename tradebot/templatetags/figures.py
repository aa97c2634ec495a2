"""Filters that print money, prices and quantities the way a trader reads them.

Values arrive as ``Decimal`` (page renders) or as strings (socket events carry JSON), so every filter
accepts both and prints an em dash for a missing or unreadable value instead of failing the page.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()

DASH = "—"
CENT = Decimal("0.01")


def as_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _plain(number: Decimal, grouping: bool) -> str:
    # format() never switches to scientific notation, unlike str() of a normalized Decimal (1E+2).
    text = f"{number:,f}" if grouping else f"{number:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@register.filter
def price(value) -> str:
    """67123.50000000 -> 67,123.5 (every significant digit kept, none invented)."""
    number = as_decimal(value)
    return DASH if number is None else _plain(number, grouping=True)


@register.filter
def qty(value) -> str:
    """0.01200000 -> 0.012."""
    number = as_decimal(value)
    return DASH if number is None else _plain(number, grouping=False)


@register.filter
def money(value) -> str:
    """10000 -> 10,000.00."""
    number = as_decimal(value)
    return DASH if number is None else f"{number.quantize(CENT):,}"


@register.filter
def signed(value) -> str:
    """12.3 -> +12.30, -4 -> −4.00 (a true minus sign, which does not wrap)."""
    number = as_decimal(value)
    if number is None:
        return DASH
    rounded = number.quantize(CENT)
    if rounded == 0:
        return "0.00"
    return f"+{rounded:,}" if rounded > 0 else f"\u2212{-rounded:,}"


@register.filter
def tone(value) -> str:
    """CSS class for a gain or a loss: pos, neg or nothing."""
    number = as_decimal(value)
    if number is None or number == 0:
        return ""
    return "pos" if number > 0 else "neg"


@register.filter
def percent(value) -> str:
    """A percentage (already 0-100): 56.2500 -> 56.3%."""
    number = as_decimal(value)
    return DASH if number is None else f"{number.quantize(Decimal('0.1'))}%"
