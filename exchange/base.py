"""The one interface every exchange implements (Bybit through pybit, and the paper exchange).

Everything outside ``exchange/`` talks to an ``Exchange``; it never knows which one it has.
Money is ``Decimal``; times are timezone-aware UTC datetimes; sides are Bybit's ``Buy``/``Sell``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum

from exchange.errors import InvalidOrderError


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


@dataclass
class Subscription:
    """Handle returned by ``Exchange.subscribe``; ``close()`` stops the stream; ``alive`` is False once the
    stream has given up for good (it stays True while a dropped connection is being re-established)."""

    symbols: list[str]
    topics: list[str]
    _close: Callable[[], None] = field(default=lambda: None, repr=False)
    _alive: Callable[[], bool] = field(default=lambda: True, repr=False)

    def close(self) -> None:
        self._close()

    @property
    def alive(self) -> bool:
        return self._alive()


class Exchange(ABC):
    """What the bot needs from an exchange. USDT linear perpetuals, one-way position mode."""

    name: str = "exchange"

    # Account
    @abstractmethod
    def get_balance(self) -> Balance: ...

    @abstractmethod
    def get_positions(self, symbol: str | None = None) -> list[Position]: ...

    # Orders
    @abstractmethod
    def get_open_orders(self, symbol: str | None = None) -> list[Order]: ...

    @abstractmethod
    def get_order_history(self, symbol: str | None = None, limit: int = 50) -> list[Order]: ...

    @abstractmethod
    def find_order(self, symbol: str, order_link_id: str) -> Order | None:
        """The order with this orderLinkId (open orders first, then history), or None if none exists."""

    @abstractmethod
    def place_order(self, request: OrderRequest) -> Order:
        """Send once. A lost answer is settled by ``find_order``, never by sending again."""

    @abstractmethod
    def cancel_order(self, symbol: str, *, order_id: str | None = None, order_link_id: str | None = None) -> None: ...

    @abstractmethod
    def cancel_all_orders(self, symbol: str | None = None) -> int:
        """Cancel every open order (of ``symbol``, or all); returns how many were cancelled."""

    # Positions
    @abstractmethod
    def set_leverage(self, symbol: str, leverage: Decimal) -> None: ...

    @abstractmethod
    def set_trading_stop(self, symbol: str, *, stop_loss: Decimal | None = None,
                         take_profit: Decimal | None = None) -> None:
        """Set (or, with Decimal("0"), cancel) the position's stop-loss / take-profit."""

    @abstractmethod
    def close_position(self, symbol: str, order_link_id: str) -> Order | None:
        """Reduce-only market order for the whole position; None if there was no position."""

    @abstractmethod
    def get_closed_pnl(self, symbol: str | None = None, since: datetime | None = None,
                       limit: int = 50) -> list[ClosedPnl]: ...

    # Market data
    @abstractmethod
    def get_klines(self, symbol: str, interval: str, limit: int = 200) -> list[Candle]:
        """Oldest first. The newest candle may still be open: callers drop it (``closed_candles``)."""

    @abstractmethod
    def get_ticker(self, symbol: str) -> Ticker: ...

    @abstractmethod
    def get_instrument(self, symbol: str) -> InstrumentRules:
        """Raises InvalidOrderError for a symbol the exchange does not list."""

    @abstractmethod
    def subscribe(self, symbols: list[str], on_ticker: Callable[[Ticker], None]) -> Subscription:
        """Stream live tickers for ``symbols`` to ``on_ticker`` (from another thread)."""

    def server_time(self) -> datetime:
        """The exchange's clock (the replay clock for paper replay)."""
        from django.utils import timezone

        return timezone.now()
