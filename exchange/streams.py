"""Live ticker streams behind ``Exchange.subscribe``: Bybit's public WebSocket, or polling a price source."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.utils import timezone

from exchange import bybit_parse as parse
from exchange.base import Subscription
from market.types import Ticker

logger = logging.getLogger(__name__)

# pybit reads the module-level PUBLIC_WSS when a WebSocket is built: swap it under a lock.
_PUBLIC_WSS_LOCK = threading.Lock()


def bybit_ticker_stream(ws_url: str, symbols: list[str], on_ticker: Callable[[Ticker], None], *,
                        connect_retries: int = 3) -> Subscription:
    """Subscribe to ``tickers.<symbol>`` on a Bybit-v5 public linear stream at ``ws_url`` (``wss://host``)."""
    from pybit import unified_trading

    with _PUBLIC_WSS_LOCK:
        saved = unified_trading.PUBLIC_WSS
        unified_trading.PUBLIC_WSS = f"{ws_url.rstrip('/')}/v5/public/{{CHANNEL_TYPE}}"
        try:
            socket = unified_trading.WebSocket(channel_type="linear", testnet=False, retries=connect_retries)
        finally:
            unified_trading.PUBLIC_WSS = saved

    def handle(message: dict) -> None:
        # pybit merges deltas into a full snapshot before calling us; an exception here would end its thread.
        try:
            data = message.get("data") or {}
            if data.get("lastPrice"):
                time = parse.ms_to_datetime(message.get("ts")) or timezone.now()
                on_ticker(parse.ticker(data, time))
        except Exception:  # noqa: BLE001
            logger.exception("ticker message not handled", extra={"topic": message.get("topic")})

    socket.ticker_stream(symbol=list(symbols), callback=handle)
    # pybit reconnects a dropped socket by itself, but gives up for good (``exited``, with nothing but a log
    # line) after failed reconnects or on an error it does not expect, such as the answer to a subscribe
    # arriving before pybit has recorded the request: ``alive`` lets the owner subscribe again.
    return Subscription(symbols=list(symbols), topics=[f"tickers.{symbol}" for symbol in symbols], _close=socket.exit,
                        _alive=lambda: not socket.exited)


def polling_ticker_stream(get_ticker: Callable[[str], Ticker], symbols: list[str],
                          on_ticker: Callable[[Ticker], None], *, interval: float = 1.0) -> Subscription:
    """A thread that reads each symbol's ticker every ``interval`` seconds and passes each new reading on
    (a reading is new when its price or its time changed, so a flat market still ticks)."""
    stop = threading.Event()
    symbols = list(symbols)

    def run() -> None:
        last: dict[str, tuple] = {}
        while not stop.is_set():
            for symbol in symbols:
                try:
                    ticker = get_ticker(symbol)
                    if last.get(symbol) != (ticker.last_price, ticker.time):
                        last[symbol] = (ticker.last_price, ticker.time)
                        on_ticker(ticker)
                except Exception:  # noqa: BLE001 - one bad read must not end the stream
                    logger.exception("ticker poll failed", extra={"symbol": symbol})
            stop.wait(interval)

    thread = threading.Thread(target=run, name=f"tickers-{'-'.join(symbols)[:40]}", daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(timeout=5)

    return Subscription(symbols=symbols, topics=[f"tickers.{symbol}" for symbol in symbols], _close=close,
                        _alive=thread.is_alive)
