"""The market's vocabulary, shared by every floor: sides, order types and statuses, candles, tickers, balances,
positions, orders, closed PnL, order requests and an instrument's lot and tick rules.

Plain values with no I/O. Money is ``Decimal``; times are timezone-aware UTC datetimes; sides are Bybit's
``Buy``/``Sell``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum

from market.errors import InvalidOrderError


class Side(StrEnum):
    BUY = "Buy"
    SELL = "Sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "Market"
    LIMIT = "Limit"


class OrderStatus(StrEnum):
    """Bybit v5 orderStatus values."""

    NEW = "New"
    PARTIALLY_FILLED = "PartiallyFilled"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    PARTIALLY_FILLED_CANCELED = "PartiallyFilledCanceled"
    REJECTED = "Rejected"
    UNTRIGGERED = "Untriggered"
    TRIGGERED = "Triggered"
    DEACTIVATED = "Deactivated"

    @property
    def is_final(self) -> bool:
        return self in {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.PARTIALLY_FILLED_CANCELED,
                        OrderStatus.REJECTED, OrderStatus.DEACTIVATED}


@dataclass(frozen=True)
class Candle:
    start: datetime  # open time, UTC
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class Ticker:
    symbol: str
    last_price: Decimal
    time: datetime
    bid: Decimal | None = None
    ask: Decimal | None = None
    mark_price: Decimal | None = None
    change_24h_pct: Decimal | None = None
    volume_24h: Decimal | None = None


@dataclass(frozen=True)
class Balance:
    coin: str
    equity: Decimal  # wallet balance + unrealized PnL
    wallet_balance: Decimal  # cash after realized PnL and fees
    available: Decimal  # what can open new positions
    unrealized_pnl: Decimal
    used_margin: Decimal = Decimal("0")


@dataclass(frozen=True)
class Position:
    symbol: str
    side: Side
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    leverage: Decimal
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    liquidation_price: Decimal | None = None
    updated_at: datetime | None = None

    @property
    def value(self) -> Decimal:
        return self.size * self.mark_price


@dataclass(frozen=True)
class Order:
    order_id: str
    order_link_id: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: Decimal
    price: Decimal | None  # limit price; None for market orders
    status: OrderStatus
    avg_price: Decimal | None = None
    filled_qty: Decimal = Decimal("0")
    fee: Decimal = Decimal("0")
    reduce_only: bool = False
    reject_reason: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ClosedPnl:
    """One closed (or reduced) position, as Bybit's /v5/position/closed-pnl reports it."""

    symbol: str
    side: Side  # side of the closing order
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    realized_pnl: Decimal  # fees included
    order_id: str
    closed_at: datetime


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    qty: Decimal
    order_link_id: str
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    reduce_only: bool = False
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass(frozen=True)
class InstrumentRules:
    symbol: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    max_market_qty: Decimal | None = None
    min_notional: Decimal = Decimal("0")
    max_leverage: Decimal = Decimal("100")

    def round_qty(self, qty: Decimal) -> Decimal:
        """Down to the lot step: never more than asked for."""
        return (qty / self.qty_step).to_integral_value(rounding=ROUND_DOWN) * self.qty_step

    def round_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(rounding=ROUND_HALF_UP) * self.tick_size

    def check_qty(self, qty: Decimal, price: Decimal | None = None, *, market: bool = True) -> Decimal:
        """Round ``qty`` to the step and refuse it, with the reason, if the exchange would."""
        rounded = self.round_qty(qty)
        if rounded < self.min_qty:
            raise InvalidOrderError(
                f"{self.symbol}: quantity {qty} is below the minimum order size {self.min_qty} "
                f"(step {self.qty_step})")
        limit = self.max_market_qty if market and self.max_market_qty else self.max_qty
        if rounded > limit:
            raise InvalidOrderError(f"{self.symbol}: quantity {qty} is above the maximum order size {limit}")
        if price is not None and self.min_notional and rounded * price < self.min_notional:
            raise InvalidOrderError(
                f"{self.symbol}: order value {rounded * price:.2f} USDT is below the minimum {self.min_notional}")
        return rounded
