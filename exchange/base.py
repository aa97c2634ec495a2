"""The one interface every exchange implements (Bybit through pybit, and the paper exchange).

Everything outside ``exchange/`` talks to an ``Exchange``; it never knows which one it has. The values it
speaks (orders, positions, candles ...) are the market floor's (``market.types``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pandas as pd

from market.candles import candles_to_frame
from market.types import (
    Balance,
    Candle,
    ClosedPnl,
    InstrumentRules,
    Order,
    OrderRequest,
    Position,
    Ticker,
)


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
    def set_trading_stop(self, symbol: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None,
                         trailing_stop: Decimal | None = None, active_price: Decimal | None = None) -> None:
        """Set (or, with Decimal("0"), cancel) the position's stop-loss / take-profit / trailing stop.

        ``trailing_stop`` is a distance in price: the stop follows the best price reached by that much, never
        moving back, and the position's ``stop_loss`` reports where it stands; with ``active_price`` it starts
        trailing only once that price trades (Bybit's ``trailingStop`` and ``activePrice``)."""

    @abstractmethod
    def add_partial_take_profit(self, symbol: str, *, price: Decimal, qty: Decimal) -> None:
        """A take-profit for part of the position: a reduce-only market close of ``qty`` once ``price`` trades
        (Bybit's partial TP/SL mode). Cancelled by the exchange when the position closes."""

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

    def get_kline_frame(self, symbol: str, interval: str, limit: int = 200) -> pd.DataFrame:
        """``get_klines`` as a candle frame (``market.candles``); an exchange that can skip the Candle objects does."""
        return candles_to_frame(self.get_klines(symbol, interval, limit))

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
