"""Instrument rules: Bybit's real linear rules for the bundled symbols, and conforming an order to them."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from market.candles import bundled_files
from market.errors import InvalidOrderError
from market.types import InstrumentRules, OrderRequest, OrderType

SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,25}USDT$")
ORDER_LINK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")

# Bybit's linear USDT perpetual rules (GET /v5/market/instruments-info?category=linear), as listed when
# this was written. Paper trading on replayed data uses them so an order that paper accepts is one Bybit
# would accept too.
BUNDLED_RULES: dict[str, InstrumentRules] = {
    "BTCUSDT": InstrumentRules("BTCUSDT", tick_size=Decimal("0.10"), qty_step=Decimal("0.001"),
                               min_qty=Decimal("0.001"), max_qty=Decimal("1190"), max_market_qty=Decimal("119"),
                               min_notional=Decimal("5"), max_leverage=Decimal("100")),
    "ETHUSDT": InstrumentRules("ETHUSDT", tick_size=Decimal("0.01"), qty_step=Decimal("0.01"),
                               min_qty=Decimal("0.01"), max_qty=Decimal("7240"), max_market_qty=Decimal("724"),
                               min_notional=Decimal("5"), max_leverage=Decimal("100")),
    "SOLUSDT": InstrumentRules("SOLUSDT", tick_size=Decimal("0.010"), qty_step=Decimal("0.1"),
                               min_qty=Decimal("0.1"), max_qty=Decimal("79770"), max_market_qty=Decimal("7977"),
                               min_notional=Decimal("5"), max_leverage=Decimal("100")),
}


def check_symbol(symbol: str) -> str:
    if not isinstance(symbol, str) or not SYMBOL_RE.match(symbol):
        raise InvalidOrderError(f"{symbol!r} is not a USDT perpetual symbol such as BTCUSDT")
    return symbol


def conform(request: OrderRequest, rules: InstrumentRules, reference_price: Decimal | None = None) -> OrderRequest:
    """The request with qty rounded down to the lot step and prices to the tick; refused, with the reason,
    where the exchange would refuse it (below the minimum size or value, above the maximum).

    A reduce-only order is exempt from the minimum value: Bybit lets a position be closed whatever it is worth.
    """
    if not ORDER_LINK_ID_RE.match(request.order_link_id or ""):
        raise InvalidOrderError(
            f"orderLinkId {request.order_link_id!r} must be 1-36 characters of letters, digits, _ and -")
    price = rules.round_price(request.price) if request.price is not None else None
    if request.order_type == OrderType.LIMIT and not price:
        raise InvalidOrderError(f"{request.symbol}: a limit order needs a price above 0")
    notional_price = None if request.reduce_only else (price or reference_price)
    qty = rules.check_qty(request.qty, notional_price, market=request.order_type == OrderType.MARKET)
    return replace(
        request, qty=qty, price=price,
        stop_loss=rules.round_price(request.stop_loss) if request.stop_loss else None,
        take_profit=rules.round_price(request.take_profit) if request.take_profit else None)


class RulesCache:
    """Instrument rules per symbol for ``ttl`` seconds: they change rarely, and every order needs them."""

    def __init__(self, fetch: Callable[[str], InstrumentRules], ttl: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, InstrumentRules]] = {}
        self._lock = threading.Lock()

    def get(self, symbol: str) -> InstrumentRules:
        with self._lock:
            entry = self._entries.get(symbol)
        if entry and entry[0] > self._clock():
            return entry[1]
        rules = self._fetch(symbol)
        with self._lock:
            self._entries[symbol] = (self._clock() + self._ttl, rules)
        return rules


def replay_symbols(data_dir: Path) -> list[str]:
    """The symbols the offline replay can serve: a bundled candle file and known lot/tick rules for each."""
    return sorted(set(bundled_files(data_dir)) & set(BUNDLED_RULES))
