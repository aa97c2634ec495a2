"""Isolated-margin liquidation of a linear USDT perpetual, as pure rules.

Bybit's simplified formula for an isolated position (no extra margin added, fees left out):

- long:  liquidation price = entry x (1 - 1/leverage + MMR)
- short: liquidation price = entry x (1 + 1/leverage - MMR)

where MMR is the maintenance margin rate of the position's risk-limit tier. For BTCUSDT and ETHUSDT the first
tier (what a bot of this size trades in) has a maintenance margin of 0.5 % (Bybit's risk-limit table,
GET /v5/market/risk-limit: ``maintenanceMargin: "0.5"`` on tier 1, with ``initialMargin: "1"``, i.e. 100x);
``market.fills.DEFAULT_MAINTENANCE_MARGIN_RATE`` is that 0.005, used for every symbol.

The price is rounded to the tick against the trader (a long's up, a short's down), as the exchange shows it.
A 1-minute candle that reaches it liquidates the position there, before the strategy's stop when the stop is
further away (the worse outcome, as ``market.fills`` assumes); the position is closed at the liquidation price
itself, without slippage (the exchange's liquidation engine takes it over), and pays the taker fee.
"""

from __future__ import annotations

from decimal import Decimal

from market.fills import BUY, DEFAULT_MAINTENANCE_MARGIN_RATE, direction, to_tick

LIQUIDATION = "liquidation"


def liquidation_price(side: str, entry_price: Decimal, leverage: Decimal, tick_size: Decimal | None = None,
                      maintenance_rate: Decimal = DEFAULT_MAINTENANCE_MARGIN_RATE) -> Decimal:
    moved = entry_price * (1 - direction(side) * (1 / Decimal(leverage) - maintenance_rate))
    return to_tick(moved, tick_size, up=side == BUY)


def reached(side: str, liquidation: Decimal | float, low, high) -> bool:
    """Whether a candle's range reaches the liquidation price of a position on ``side``."""
    return low <= liquidation if side == BUY else high >= liquidation


def before_stop(side: str, liquidation: Decimal | float, stop: Decimal | float | None) -> bool:
    """Whether the price meets the liquidation before the stop (the stop is further away, or there is none)."""
    if stop is None or not stop:
        return True
    return stop < liquidation if side == BUY else stop > liquidation
