"""Live prices to the dashboard: which symbols to stream, and publishing each at most once per interval.

``manage.py stream_market`` drives a ``MarketStreamer`` in a loop; the streamer holds one exchange
subscription for the wanted symbols, renews it when they change, and keeps only the newest ticker per
symbol so a fast feed (Bybit pushes every 100 ms) costs one event per symbol per second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.events import Event, publish
from exchange.base import Exchange, Subscription
from exchange.models import MarketSubscription
from market.errors import ExchangeError
from market.types import Ticker
from strategies.models import Strategy

logger = logging.getLogger(__name__)


def wanted_symbols() -> list[str]:
    """Symbols subscribed through the API, plus every active strategy's symbols."""
    symbols = set(MarketSubscription.objects.values_list("symbol", flat=True))
    for strategy_symbols in Strategy.objects.filter(is_active=True).values_list("symbols", flat=True):
        symbols.update(strategy_symbols or [])
    return sorted(symbols)


def publish_ticker(ticker: Ticker, source: str) -> None:
    publish(Event.MARKET_UPDATE, {
        "symbol": ticker.symbol, "price": ticker.last_price, "time": ticker.time,
        "change_24h_pct": ticker.change_24h_pct, "volume_24h": ticker.volume_24h, "source": source})


class MarketStreamer:
    def __init__(self, exchange: Exchange, *, source: str = "", min_interval: float = 1.0,
                 publish: Callable[[Ticker, str], None] = publish_ticker, clock: Callable[[], float] = time.monotonic):
        self.exchange = exchange
        self.source = source or exchange.name
        self.min_interval = min_interval
        self.publish = publish
        self.clock = clock
        self.symbols: list[str] = []
        self.subscription: Subscription | None = None
        self._latest: dict[str, Ticker] = {}
        self._sent_at: dict[str, float] = {}
        self._refused: set[str] = set()
        self._seen_dead = False
        self._lock = threading.Lock()

    def on_ticker(self, ticker: Ticker) -> None:
        """Called from the stream's thread: remember the newest price only."""
        with self._lock:
            self._latest[ticker.symbol] = ticker

    def follow(self, symbols: list[str]) -> None:
        """Stream exactly ``symbols`` (those the exchange lists); subscribe again only when the set changed
        or the stream died. Called again and again (``stream_market`` does, every refresh)."""
        usable = [symbol for symbol in symbols if self._usable(symbol)]
        if usable == self.symbols and not self._died():
            return
        self.close()
        if usable:
            self.subscription = self.exchange.subscribe(usable, self.on_ticker)
            logger.info("streaming prices of %s", ", ".join(usable))
        self.symbols = usable  # only now: a subscribe that raised is tried again at the next call

    def _died(self) -> bool:
        """Dead at two calls in a row: a socket being re-established looks given up for an instant."""
        dead = self.subscription is not None and not self.subscription.alive
        died, self._seen_dead = dead and self._seen_dead, dead
        if died:
            logger.warning("the price stream of %s died; subscribing again", ", ".join(self.symbols))
        return died

    def _usable(self, symbol: str) -> bool:
        try:
            self.exchange.get_instrument(symbol)
            return True
        except ExchangeError as error:
            if symbol not in self._refused:
                self._refused.add(symbol)
                logger.warning("not streaming %s: %s", symbol, error, extra={"symbol": symbol})
            return False

    def flush(self) -> int:
        """Publish each symbol's newest ticker unless that symbol was published less than ``min_interval`` ago."""
        now = self.clock()
        with self._lock:
            due = [ticker for symbol, ticker in self._latest.items()
                   if now - self._sent_at.get(symbol, float("-inf")) >= self.min_interval]
            for ticker in due:
                del self._latest[ticker.symbol]
                self._sent_at[ticker.symbol] = now
        for ticker in due:
            self.publish(ticker, self.source)
        return len(due)

    def close(self) -> None:
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None
        self.symbols = []
        self._seen_dead = False
