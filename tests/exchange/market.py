"""A market the test moves by hand: the paper exchange's ``MarketData`` with prices and candles set by the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from market.errors import InvalidOrderError
from market.instruments import BUNDLED_RULES
from market.types import Candle, Ticker

MINUTE = timedelta(minutes=1)
START = datetime(2026, 4, 1, 12, 0, 30, tzinfo=UTC)


class ManualMarket:
    source = "manual"
    label = "test prices"

    def __init__(self, prices: dict[str, str] | None = None, start: datetime = START):
        self.time = start
        self.prices = {symbol: Decimal(price) for symbol, price in
                       (prices or {"BTCUSDT": "60000", "ETHUSDT": "3000", "SOLUSDT": "150"}).items()}
        self.candles: dict[str, list[Candle]] = {symbol: [] for symbol in self.prices}

    def now(self) -> datetime:
        return self.time

    def instrument(self, symbol):
        if symbol not in self.prices:
            raise InvalidOrderError(f"{symbol} is not in the test market")
        return BUNDLED_RULES[symbol]

    def ticker(self, symbol: str) -> Ticker:
        self.instrument(symbol)
        return Ticker(symbol=symbol, last_price=self.prices[symbol], time=self.time)

    def klines(self, symbol, interval, limit=200):
        return self.candles[symbol][-limit:]

    def minute_candles(self, symbol, start, end):
        return [c for c in self.candles[symbol] if c.start >= start and c.start + MINUTE <= end]

    def candle(self, symbol: str, *, high=None, low=None, close=None) -> Candle:
        """One more 1-minute candle for ``symbol``, opening at the current price; the clock moves a minute on."""
        open_ = self.prices[symbol]
        close = Decimal(str(close)) if close is not None else open_
        high = Decimal(str(high)) if high is not None else max(open_, close)
        low = Decimal(str(low)) if low is not None else min(open_, close)
        minute = self.time.replace(second=0, microsecond=0)
        candle = Candle(start=minute, open=open_, high=max(high, open_, close), low=min(low, open_, close),
                        close=close, volume=Decimal("1"))
        self.candles[symbol].append(candle)
        self.time += MINUTE
        self.prices[symbol] = close
        return candle
