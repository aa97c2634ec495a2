"""Filters that print money, prices and quantities the way a trader reads them.

Values arrive as ``Decimal`` (page renders) or as strings (socket events carry JSON), so every filter
accepts both and prints an em dash for a missing or unreadable value instead of failing the page.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings

from dashboard.chart_data import market_clock
from exchange.factory import get_market_data
from market.instruments import BUNDLED_RULES

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
def price(value, symbol: str = "") -> str:
    """A price as the exchange quotes it: to the instrument's tick when ``symbol``'s is known
    (``{{ trade.price|price:trade.symbol }}``: 67123.5 -> 67,123.50 on BTCUSDT's 0.10 tick), else every
    significant digit kept and none invented (67123.50000000 -> 67,123.5)."""
    number = as_decimal(value)
    if number is None:
        return DASH
    rules = BUNDLED_RULES.get(symbol)
    if rules is not None:
        return f"{rules.round_price(number).quantize(rules.tick_size):,f}"
    return _plain(number, grouping=True)


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
    """A percentage (already 0-100), to 2 decimals: 56.2560 -> 56.26%."""
    number = as_decimal(value)
    return DASH if number is None else f"{number.quantize(CENT):,}%"


@register.filter
def signed_percent(value) -> str:
    """A change in percent, signed, to 2 decimals: 2.7412 -> +2.74%, -0.5 -> −0.50%."""
    number = as_decimal(value)
    return DASH if number is None else f"{signed(number)}%"


def replaying() -> bool:
    """Paper trading on the bundled replay: prices run on a clock of their own, not the wall clock."""
    return settings.EXCHANGE_MODE == "paper" and settings.MARKET_DATA == "replay"


@register.filter
def market_time(moment):
    """A wall-clock moment (when a trade was recorded) on the clock the prices and the chart run on: the replay's
    in paper replay, so a trade reads the time of the candle it sits on; unchanged everywhere else."""
    if moment is None or moment == "" or not replaying():
        return moment
    return market_clock(get_market_data())(moment)


@register.simple_tag
def clock_name() -> str:
    """Which clock the times on a page are on (the page says so next to them): in replay, trades, decisions and
    the chart all read the replay's."""
    return "replay UTC" if replaying() else "UTC"
