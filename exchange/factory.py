"""The one place that turns settings into an ``Exchange``; built once per process."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from exchange.base import Exchange
from exchange.bybit import ENDPOINTS, WS_ENDPOINTS, BybitExchange
from exchange.bybit_http import BybitHttp
from exchange.market_data import BybitPublicMarketData, MarketData
from exchange.models import ReplayState
from exchange.paper import PaperExchange
from exchange.replay import ReplayMarketData

_lock = threading.Lock()
_exchange: Exchange | None = None
_market_data: MarketData | None = None


def get_exchange() -> Exchange:
    """The exchange the settings ask for (paper, testnet, demo or live), built on first use."""
    global _exchange
    with _lock:
        if _exchange is None:
            _exchange = build_exchange()
        return _exchange


def reset_exchange() -> None:
    """Forget the cached exchange (and market data), e.g. after tests change the settings."""
    global _exchange, _market_data
    with _lock:
        _exchange = None
        _market_data = None


def build_exchange() -> Exchange:
    mode = settings.EXCHANGE_MODE
    if mode == "paper":
        return PaperExchange(get_market_data(), initial_balance=settings.PAPER_INITIAL_BALANCE,
                             fee_rate=settings.PAPER_FEE_RATE, slippage_bps=settings.PAPER_SLIPPAGE_BPS)
    if mode not in ENDPOINTS:
        raise ImproperlyConfigured(f"EXCHANGE_MODE: unknown mode {mode!r}")
    if not (settings.BYBIT_API_KEY and settings.BYBIT_API_SECRET):
        raise ImproperlyConfigured(
            f"EXCHANGE_MODE: {mode} trading needs BYBIT_API_KEY and BYBIT_API_SECRET; set both, or use "
            f"EXCHANGE_MODE=paper")
    return BybitExchange(api_key=settings.BYBIT_API_KEY, api_secret=settings.BYBIT_API_SECRET,
                         base_url=settings.BYBIT_BASE_URL or ENDPOINTS[mode],
                         ws_url=settings.BYBIT_WS_URL or WS_ENDPOINTS[mode], timeout=settings.BYBIT_TIMEOUT,
                         recv_window=settings.BYBIT_RECV_WINDOW, name=f"bybit-{mode}")


def get_market_data() -> MarketData:
    """Paper mode's prices: the bundled replay (offline) or Bybit's public endpoints."""
    global _market_data
    if _market_data is None:
        if settings.MARKET_DATA == "replay":
            _market_data = ReplayMarketData(settings.CANDLE_DATA_DIR, anchor=ReplayState.anchor_time(),
                                            speed=settings.REPLAY_SPEED)
        else:
            _market_data = BybitPublicMarketData(BybitHttp(base_url=settings.BYBIT_BASE_URL or ENDPOINTS["live"],
                                                           timeout=settings.BYBIT_TIMEOUT))
    return _market_data
