"""Where the paper exchange gets its prices: ``MarketData``, and its two sources.

- ``ReplayMarketData`` (``exchange.replay``): the bundled real 1-minute candles on a replay clock; offline.
- ``BybitPublicMarketData``: Bybit's public kline, ticker and instrument endpoints; no keys needed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from django.utils import timezone

from exchange import bybit_parse as parse
from exchange.bybit_http import BybitHttp
from exchange.replay import ReplayMarketData
from market.errors import InvalidOrderError
from market.instruments import RulesCache, check_symbol
from market.intervals import INTERVAL_MINUTES
from market.types import Candle, InstrumentRules, Ticker

__all__ = ["BybitPublicMarketData", "MarketData", "ReplayMarketData"]

MINUTE = timedelta(minutes=1)
CATEGORY = "linear"


@runtime_checkable
class MarketData(Protocol):
    source: str  # "replay" or "bybit"
    label: str  # how prices are labelled on screen

    def now(self) -> datetime:
        """The market's clock: the replay clock, or wall time."""

    def ticker(self, symbol: str) -> Ticker: ...

    def klines(self, symbol: str, interval: str, limit: int = 200) -> list[Candle]:
        """Oldest first; the newest may still be forming."""

    def minute_candles(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        """Closed 1-minute candles that opened at or after ``start`` and ended by ``end``, oldest first."""

    def instrument(self, symbol: str) -> InstrumentRules:
        """Raises InvalidOrderError for a symbol this source does not have."""


class BybitPublicMarketData:
    """Bybit's public market endpoints through the same retrying session as the real exchange."""

    source = "bybit"
    label = "Bybit"

    def __init__(self, http: BybitHttp):
        self.http = http
        self._rules = RulesCache(self._fetch_rules)

    def now(self) -> datetime:
        return timezone.now()

    def ticker(self, symbol: str) -> Ticker:
        rows = self.http.call("get_tickers", category=CATEGORY, symbol=check_symbol(symbol)).get("list") or []
        if not rows:
            raise InvalidOrderError(f"{symbol} is not listed on Bybit ({CATEGORY})")
        return parse.ticker(rows[0], timezone.now())

    def klines(self, symbol: str, interval: str, limit: int = 200) -> list[Candle]:
        return parse.candles(self.kline_result(symbol, interval, limit))

    def kline_result(self, symbol: str, interval: str, limit: int = 200) -> dict:
        """The wire answer (newest first), for a caller that parses it its own way (``parse.kline_frame``)."""
        if interval not in INTERVAL_MINUTES:
            raise InvalidOrderError(f"unknown interval {interval!r}; use one of {', '.join(INTERVAL_MINUTES)}")
        return self.http.call("get_kline", category=CATEGORY, symbol=check_symbol(symbol), interval=interval,
                              limit=limit)

    def minute_candles(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        if end - start < MINUTE:
            return []
        result = self.http.call("get_kline", category=CATEGORY, symbol=check_symbol(symbol), interval="1",
                                start=parse.datetime_to_ms(start), end=parse.datetime_to_ms(end), limit=1000)
        return [candle for candle in parse.candles(result) if candle.start >= start and candle.start + MINUTE <= end]

    def instrument(self, symbol: str) -> InstrumentRules:
        return self._rules.get(check_symbol(symbol))

    def _fetch_rules(self, symbol: str) -> InstrumentRules:
        rows = self.http.call("get_instruments_info", category=CATEGORY, symbol=symbol).get("list") or []
        if not rows:
            raise InvalidOrderError(f"{symbol} is not listed on Bybit ({CATEGORY})")
        return parse.instrument(rows[0])
