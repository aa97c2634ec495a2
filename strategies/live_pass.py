"""The built-in indicators of a live frame as plain arrays, each computed once per candle frame. Pure: no I/O.

``compute_indicators`` builds a DataFrame of every indicator column, which a backtest needs; the live cycle only
reads the last few rows of each column, so this pass returns the same columns as numpy arrays, without a frame.
It calls the same numpy functions of ``strategies.indicators``, with the same arguments, as ``compute_indicators``
does on a frame of up to ``SHORT_FRAME_ROWS`` rows: the numbers are the same, bit for bit (the tests compare them
on the bundled candles). Longer frames are not asked here (``indicator_arrays`` refuses them): there
``compute_indicators`` goes through ``ta`` instead.

The pieces are kept per piece and its own periods in a ``PieceCache`` that lives as long as its candles: strategies
whose periods differ in one indicator share the others, and an EMA period that is also a MACD period (12 and 26 by
default) is computed once for both.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from strategies.indicators import (
    INDICATOR_COLUMNS,
    SHORT_FRAME_ROWS,
    ema,
    fast_stochastic,
    moving_average,
    rolling_mean_std,
    true_range,
    wilder_average,
    wilder_rsi,
)


class PieceCache:
    """One candle frame's high, low and close as float64 arrays and the indicator pieces computed on them so far."""

    def __init__(self, high: np.ndarray, low: np.ndarray, close: np.ndarray):
        self.high, self.low, self.close = high, low, close
        self._pieces: dict[tuple, np.ndarray | tuple[np.ndarray, ...]] = {}

    @property
    def computed(self) -> list[tuple]:
        """The keys of the pieces computed so far."""
        return list(self._pieces)

    def piece(self, key: tuple, compute: Callable[[], np.ndarray | tuple[np.ndarray, ...]]):
        """``compute()`` the first time ``key`` is asked, the same (read-only) arrays afterwards."""
        found = self._pieces.get(key)
        if found is None:
            found = compute()
            for array in found if isinstance(found, tuple) else (found,):
                array.setflags(write=False)  # shared by every strategy on these candles: nobody may change it
            self._pieces[key] = found
        return found


def indicator_arrays(cache: PieceCache, c: dict) -> dict[str, np.ndarray]:
    """``INDICATOR_COLUMNS`` for the full config ``c`` (``strategies.indicators.full_config``) as arrays, each the
    same numbers as ``compute_indicators``' column of that name."""
    if len(cache.close) > SHORT_FRAME_ROWS:
        raise ValueError(f"a live pass is for frames of up to {SHORT_FRAME_ROWS} rows, got {len(cache.close)}")
    high, low, close = cache.high, cache.low, cache.close

    def close_ema(period: int) -> np.ndarray:
        return cache.piece(("ema", period), lambda: ema(close, period))

    def bands():
        middle, deviation = rolling_mean_std(close, c["bb_period"])
        deviation *= c["bb_std"]
        return middle + deviation, middle, middle - deviation

    def macd():
        line = close_ema(c["macd_fast"]) - close_ema(c["macd_slow"])
        signal = ema(line, c["macd_signal"], first=c["macd_slow"] - 1)
        return line, signal, line - signal

    def stochastic():
        slow_k = moving_average(fast_stochastic(high, low, close, c["stoch_k"]), c["stoch_smooth"])
        return slow_k, moving_average(slow_k, c["stoch_d"])

    upper, middle, lower = cache.piece(("bands", c["bb_period"], c["bb_std"]), bands)
    line, signal, hist = cache.piece(("macd", c["macd_fast"], c["macd_slow"], c["macd_signal"]), macd)
    stoch_k, stoch_d = cache.piece(("stochastic", c["stoch_k"], c["stoch_smooth"], c["stoch_d"]), stochastic)
    columns = {
        "rsi": cache.piece(("rsi", c["rsi_period"]), lambda: wilder_rsi(close, c["rsi_period"])),
        "ema_short": close_ema(c["ema_short"]), "ema_long": close_ema(c["ema_long"]),
        "macd": line, "macd_signal": signal, "macd_hist": hist,
        "bb_upper": upper, "bb_middle": middle, "bb_lower": lower, "stoch_k": stoch_k, "stoch_d": stoch_d,
        "atr": cache.piece(("atr", c["atr_period"]), lambda: wilder_average(
            true_range(high, low, close), c["atr_period"], first=c["atr_period"] - 1)),
    }
    return {name: columns[name] for name in INDICATOR_COLUMNS}
