"""Market scenarios cut from the bundled real candles, for tests that need a strategy to act.

``signal_window`` finds a moment in the real data where a strategy signals, and shifts that stretch
of candles so its signal candle is the one that closed most recently *now*. Served by the fake Bybit
server, it makes the very next cycle see that signal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from market.candles import frame_to_candles, resample
from market.intervals import INTERVAL_MINUTES
from strategies.config import validate_indicators
from strategies.indicators import compute_indicators
from strategies.signals import signal_series

CODES = {"LONG": 1, "SHORT": -1}


def _minutes(symbol: str) -> pd.DataFrame:
    from django.conf import settings

    from exchange.replay import load_minutes
    from market.candles import bundled_files

    return load_minutes(str(bundled_files(settings.CANDLE_DATA_DIR)[symbol]))


def signal_window(*, action: str = "LONG", strategy_type: str = "trend_following", symbol: str = "BTCUSDT",
                  interval: str = "1", length: int = 250, indicators: dict | None = None, now: datetime | None = None,
                  occurrence: int = 0):
    """``length`` closed candles ending with one where ``strategy_type`` signals ``action``, re-timed so that
    candle closed at the start of the current minute. Returns (candles oldest first, signal candle row)."""
    config = validate_indicators(indicators or {})
    frame = resample(_minutes(symbol), interval)
    signals = signal_series(strategy_type, compute_indicators(frame, config), config)
    hits = [i for i in range(length, len(frame)) if signals[i] == CODES[action]]
    end = hits[occurrence]
    window = frame.iloc[end - length + 1:end + 1].copy()
    step = timedelta(minutes=INTERVAL_MINUTES[interval])
    now = now or datetime.now(UTC)
    last_start = now.replace(second=0, microsecond=0) - step
    window.index = pd.DatetimeIndex([last_start - step * (length - 1 - i) for i in range(length)], name="start")
    return frame_to_candles(window), window.iloc[-1]


def serve(fake_bybit, symbol: str, interval: str, candles) -> None:
    """Make the fake exchange serve these candles and trade at the last close."""
    fake_bybit.set_klines(symbol, interval, candles)
    fake_bybit.set_price(symbol, candles[-1].close)
