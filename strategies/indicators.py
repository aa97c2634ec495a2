"""Technical indicators over a candle frame, vectorised over every row at once.

``compute_indicators(frame, config)`` adds float64 columns to a copy of a candle frame
(``market.candles``: float64 open/high/low/close/volume, oldest first, closed candles only):

========================  ============================================================================
column                    definition (periods from the strategy's ``indicators`` config)
========================  ============================================================================
``rsi``                   Wilder's RSI: average gain / loss seeded with the simple mean of the first
                          ``rsi_period`` changes, then Wilder's smoothing (alpha = 1/period). 100 when
                          there were no losses, 50 when the price did not move at all.
``ema_short/ema_long``    EMA, alpha = 2/(period+1), seeded with the first close (``ta``).
``macd/macd_signal/...``  MACD line = EMA(fast) - EMA(slow), signal = EMA(signal) of it, ``macd_hist`` =
                          line - signal (``ta``).
``bb_upper/middle/lower`` SMA(bb_period) +- bb_std population standard deviations (``ta``).
``stoch_k/stoch_d``       Slow stochastic: fast %K over ``stoch_k`` candles (``ta``'s formula), smoothed by
                          an SMA(stoch_smooth) into %K, and %D = SMA(stoch_d) of that %K.
``atr``                   Wilder's ATR with ``ta``'s definition (first true range = the first candle's
                          range, seeded with the mean of the first ``atr_period`` true ranges).
========================  ============================================================================

Rows before an indicator has its full window are NaN. ``ta``'s own RSI (seeded with zero, converging to Wilder's
only after ~100 candles), ATR (a Python loop per candle, 0.0 in its warm-up) and stochastic (fast %K only) are
not used: the definitions above are computed here, and the tests check them against independent references
(ATR also against ``ta``'s own). Three ways lead to the same numbers (to ~1e-12 of the value):

* a live frame (up to ``SHORT_FRAME_ROWS`` rows): numpy (``ema``, ``rolling_mean_std``, the Wilder averages by
  ``exponential_smoothing``, window extremes by ``rolling_extreme``): on a few hundred rows pandas' fixed cost
  per call was most of the pass;
* a backtest's long frame: TA-Lib's C functions, their seeds and flat windows corrected to these definitions
  (``strategies.talib_pass``; issue 23: four times faster than ``ta``'s pandas, which issue 4 had asked for);
* a long frame with a missing price or a period of 1, which TA-Lib cannot take: ``ta`` and numpy as before.

A long frame (``PARALLEL_FROM_ROWS``) has its indicators computed side by side on a few threads; the values
are the same as on one thread, bit for bit. ``benchmarks/indicators_bench.py`` measures the pass.
"""

from __future__ import annotations

import operator
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import talib
from numpy.lib.stride_tricks import sliding_window_view
from ta.trend import MACD, EMAIndicator
from ta.volatility import BollingerBands

from strategies import talib_pass
from strategies.config import validate_indicators
from strategies.smoothing import exponential_smoothing, wilder_average

INDICATOR_COLUMNS = (
    "rsi", "ema_short", "ema_long", "macd", "macd_signal", "macd_hist",
    "bb_upper", "bb_middle", "bb_lower", "stoch_k", "stoch_d", "atr",
)
COMPUTED_WITH = "indicators computed with"
# Rules look back this many candles (the current one included), e.g. "oversold on one of the last 3".
SETTLING = 4  # period-lengths for an exponential average to forget its seed (see settled_candles)
LOOKBACK = 3


def full_config(config: dict | None) -> dict:
    """The config with every default filled in (raises django's ValidationError on nonsense)."""
    return validate_indicators(config or {})


def warmup_rows(config: dict) -> int:
    """Index of the first row at which every indicator has a value."""
    c = full_config(config)
    return max(
        c["rsi_period"],  # the first change is at row 1
        c["ema_long"] - 1,
        c["macd_slow"] + c["macd_signal"] - 2,
        c["bb_period"] - 1,
        c["stoch_k"] + c["stoch_smooth"] + c["stoch_d"] - 3,
        c["atr_period"] - 1,
    )


def min_candles(config: dict) -> int:
    """Closed candles a signal needs: every indicator defined on each of the last ``LOOKBACK`` rows."""
    return warmup_rows(config) + LOOKBACK


def settled_candles(config: dict) -> int:
    """Closed candles before the built-ins' signals no longer depend on older history. An exponential average (MACD's,
    the EMAs, Wilder's RSI and ATR) still carries its seed with weight about e^-(2 x SETTLING) after SETTLING of its
    periods: far below anything a threshold notices, which the look-ahead and warm-up check
    (``strategies.sdk.lookahead``) confirms on every bundled symbol. At least ``min_candles``."""
    c = full_config(config)
    slowest = max(c["macd_slow"] + c["macd_signal"], c["ema_long"], c["rsi_period"] * 2, c["atr_period"] * 2)
    return max(min_candles(config), SETTLING * slowest)


def compute_indicators(frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """A copy of ``frame`` with the indicator columns added (see the module docstring)."""
    c = full_config(config)
    missing = [name for name in ("high", "low", "close") if name not in frame.columns]
    if missing:
        raise ValueError(f"candle frame lacks column(s) {', '.join(missing)}")
    close, high, low = (frame[name].to_numpy(dtype="float64") for name in ("close", "high", "low"))
    jobs = _indicator_jobs(high, low, close, c)
    if len(frame) >= PARALLEL_FROM_ROWS and THREADS > 1:
        results = list(_executor().map(operator.call, jobs))
    else:
        results = [job() for job in jobs]
    columns = {name: values for result in results for name, values in result.items()}
    result = _with_columns(frame, {name: np.asarray(columns[name], dtype="float64") for name in INDICATOR_COLUMNS})
    # Which periods these columns were computed with: a built-in strategy given this frame reuses them rather than
    # computing the same indicators again (strategies.builtin.rule_based).
    result.attrs[COMPUTED_WITH] = config_key(c)
    return result


def config_key(config: dict) -> str:
    """A full config's periods (``full_config``) as one string: what ``COMPUTED_WITH`` holds. A string, not the dict:
    pandas deep-copies a frame's attrs on every column it hands out, and a dict made that cost more than the
    indicators themselves."""
    return repr(sorted((name, float(value)) for name, value in config.items()))  # 2 and 2.0: the same period


def _indicator_jobs(high: np.ndarray, low: np.ndarray, close: np.ndarray, c: dict) -> list:
    """The indicators as independent computations over the same (read-only) columns, the slowest first. A live
    frame (up to ``SHORT_FRAME_ROWS``) has its EMAs, MACD and bands in numpy: on a few hundred rows ``ta``'s pandas
    calls cost ten times the arithmetic. A backtest's long frame goes through TA-Lib's C loops (``talib_pass``),
    unless a price is missing or a period is 1, where it keeps ``ta``. Same numbers to ~1e-12."""
    short = len(close) <= SHORT_FRAME_ROWS
    if not short and talib_pass.usable(high, low, close, [c[name] for name in TALIB_PERIODS]):
        return _talib_jobs(high, low, close, c)
    series = None if short else pd.Series(close, copy=False)

    def bands():
        if not short:
            bb = BollingerBands(series, window=c["bb_period"], window_dev=c["bb_std"])
            return {"bb_upper": bb.bollinger_hband(), "bb_middle": bb.bollinger_mavg(),
                    "bb_lower": bb.bollinger_lband()}
        middle, deviation = rolling_mean_std(close, c["bb_period"])
        deviation *= c["bb_std"]
        return {"bb_upper": middle + deviation, "bb_middle": middle, "bb_lower": middle - deviation}

    def macd():
        if not short:
            m = MACD(series, window_slow=c["macd_slow"], window_fast=c["macd_fast"], window_sign=c["macd_signal"])
            return {"macd": m.macd(), "macd_signal": m.macd_signal(), "macd_hist": m.macd_diff()}
        line = ema(close, c["macd_fast"]) - ema(close, c["macd_slow"])
        signal = ema(line, c["macd_signal"], first=c["macd_slow"] - 1)
        return {"macd": line, "macd_signal": signal, "macd_hist": line - signal}

    def rsi():
        return {"rsi": wilder_rsi(close, c["rsi_period"])}

    def atr():
        ranges = true_range(high, low, close)
        return {"atr": wilder_average(ranges, c["atr_period"], first=c["atr_period"] - 1)}

    def ema_short():
        return {"ema_short": ema(close, c["ema_short"]) if short else
                EMAIndicator(series, window=c["ema_short"]).ema_indicator()}

    def ema_long():
        return {"ema_long": ema(close, c["ema_long"]) if short else
                EMAIndicator(series, window=c["ema_long"]).ema_indicator()}

    def stochastic():
        slow_k = moving_average(fast_stochastic(high, low, close, c["stoch_k"]), c["stoch_smooth"])
        return {"stoch_k": slow_k, "stoch_d": moving_average(slow_k, c["stoch_d"])}

    return [bands, macd, rsi, atr, ema_short, ema_long, stochastic]


# The periods TA-Lib's functions take (each at least 2 there); the stochastic's smoothings stay in numpy.
TALIB_PERIODS = ("rsi_period", "ema_short", "ema_long", "macd_fast", "macd_slow", "macd_signal", "bb_period",
                 "stoch_k", "atr_period")


def _talib_jobs(high: np.ndarray, low: np.ndarray, close: np.ndarray, c: dict) -> list:
    """``_indicator_jobs`` of a long frame with finite prices, on TA-Lib (``talib_pass``: same values)."""
    period = {name: int(c[name]) for name in TALIB_PERIODS}

    def macd():
        line, signal, histogram = talib_pass.macd(close, period["macd_fast"], period["macd_slow"],
                                                  period["macd_signal"])
        return {"macd": line, "macd_signal": signal, "macd_hist": histogram}

    def bands():
        upper, middle, lower = talib_pass.bollinger(close, period["bb_period"], c["bb_std"])
        return {"bb_upper": upper, "bb_middle": middle, "bb_lower": lower}

    def stochastic():
        lowest, highest = talib.MIN(low, period["stoch_k"]), talib.MAX(high, period["stoch_k"])  # exact extremes
        fast_k = _fast_k(close, lowest, highest)  # in lowest's array; highest's is free again
        slow_k = _moving_average_into(fast_k, c["stoch_smooth"], out=highest)  # (a fresh 8 MB array costs more)
        return {"stoch_k": slow_k, "stoch_d": _moving_average_into(slow_k, c["stoch_d"], out=fast_k)}

    def rsi():
        values = talib_pass.rsi(close, period["rsi_period"])
        return {"rsi": wilder_rsi(close, period["rsi_period"]) if values is None else values}

    def atr():
        return {"atr": talib_pass.atr(high, low, close, period["atr_period"])}

    def ema_short():
        return {"ema_short": talib_pass.ema(close, period["ema_short"])}

    def ema_long():
        return {"ema_long": talib_pass.ema(close, period["ema_long"])}

    return [bands, stochastic, rsi, macd, ema_short, ema_long, atr]


# On a long frame (a backtest) the indicators run side by side: TA-Lib's, numpy's and pandas' loops
# release the GIL, so on two idle cores a million candles take about 0.7 of the time. A live cycle's few hundred
# candles stay on the calling thread, where handing work over would cost more than it saves.
PARALLEL_FROM_ROWS = 20_000
SHORT_FRAME_ROWS = 5_000  # up to this many rows, rolling windows are taken over a view (rolling_mean_std)
THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _executor() -> ThreadPoolExecutor:
    """This process's pool, created on first use (a forked worker must not inherit its parent's)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(THREADS, thread_name_prefix="indicators"))
        return _pool[1]


# The helpers below work in place where they can: on a million candles, every avoided temporary
# array saves a fresh 8 MB allocation, which costs more than the arithmetic on it.

def ema(values: np.ndarray, period: int, first: int = 0) -> np.ndarray:
    """``ta``'s EMA (pandas' ``ewm(span=period, adjust=False, min_periods=period)``): alpha = 2/(period+1), seeded
    with the value at row ``first`` (the first one that is not NaN), NaN for the ``period - 1`` rows after it."""
    out = exponential_smoothing(np.array(values, dtype="float64"), 2.0 / (period + 1), start=min(first, len(values)))
    out[:first + period - 1] = np.nan
    return out


def rolling_mean_std(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and population standard deviation over full windows (NaN before the first), as ``ta``'s
    Bollinger bands take them from pandas. A live frame's few hundred rows are done over a window view (no pandas
    fixed cost); a backtest's long frame through pandas' running sums (no window-sized copy of every row)."""
    if len(values) < window:
        return np.full(len(values), np.nan), np.full(len(values), np.nan)
    if len(values) > SHORT_FRAME_ROWS:
        rolling = pd.Series(values, copy=False).rolling(window, min_periods=window)
        return rolling.mean().to_numpy(), rolling.std(ddof=0).to_numpy()  # (not reached by compute_indicators)
    windows = sliding_window_view(values, window)
    mean, deviation = np.full(len(values), np.nan), np.full(len(values), np.nan)
    mean[window - 1:] = windows.mean(axis=1)
    deviation[window - 1:] = windows.std(axis=1)
    return mean, deviation


def wilder_rsi(close: np.ndarray, period: int) -> np.ndarray:
    """100 * avg gain / (avg gain + avg loss), which is 100 - 100 / (1 + RS) and also 100 with no
    losses; 50 when the price did not move at all."""
    change = np.diff(close, prepend=np.nan)
    gain = wilder_average(np.maximum(change, 0.0), period, first=period)
    loss = wilder_average(np.maximum(np.negative(change, out=change), 0.0, out=change), period, first=period)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.add(gain, loss, out=loss)
        rsi = np.divide(gain, total, out=gain)
        np.multiply(rsi, 100.0, out=rsi)
    rsi[total == 0] = 50.0
    return rsi


def fast_stochastic(high, low, close, period: int) -> np.ndarray:
    """Fast %K: where the close sits in the ``period``-candle high-low range, 0-100 (``ta``'s formula;
    NaN when the range is empty)."""
    lowest = rolling_extreme(np.asarray(low, dtype="float64"), period, np.minimum)
    highest = rolling_extreme(np.asarray(high, dtype="float64"), period, np.maximum)
    return _fast_k(np.asarray(close, dtype="float64"), lowest, highest)


def _fast_k(close: np.ndarray, lowest: np.ndarray, highest: np.ndarray) -> np.ndarray:
    """100 * (close - lowest) / (highest - lowest), overwriting ``lowest`` and ``highest``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        np.subtract(highest, lowest, out=highest)
        k = np.subtract(close, lowest, out=lowest)
        np.multiply(k, 100.0, out=k)
        return np.divide(k, highest, out=k)


def rolling_extreme(values: np.ndarray, window: int, pick=np.maximum) -> np.ndarray:
    """Rolling max (or min, with ``pick=np.minimum``) over full windows, NaN before the first.

    By doubling: ``span`` holds the extreme of the ``width`` values ending at each row, ``width``
    doubling up to the largest power of two within the window; two overlapping spans then cover it.
    log2(window) array passes instead of pandas' per-row deque.
    """
    n = len(values)
    if n < window:
        return np.full(n, np.nan)
    span, spare, width = np.array(values, dtype="float64"), np.empty(n), 1
    while width * 2 <= window:
        spare[:width] = span[:width]
        pick(span[width:], span[:-width], out=spare[width:])
        span, spare, width = spare, span, width * 2
    rest = window - width
    out = spare  # reuse the free buffer for the result
    out[:window - 1] = np.nan
    if rest:
        pick(span[window - 1:], span[width - 1:n - rest], out=out[window - 1:])
    else:
        out[window - 1:] = span[window - 1:]
    return out


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """max(high - low, |high - previous close|, |low - previous close|); the first row's is its range."""
    tr = np.subtract(high, low)
    gap = np.empty(len(close) - 1 if len(close) else 0)
    for extreme in (high, low):
        np.abs(np.subtract(extreme[1:], close[:-1], out=gap), out=gap)
        np.fmax(tr[1:], gap, out=tr[1:])
    return tr


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average over full windows (NaN if the window holds a NaN or is incomplete)."""
    return _moving_average_into(values, window, np.empty(len(values)))


def _moving_average_into(values: np.ndarray, window: int, out: np.ndarray) -> np.ndarray:
    """``moving_average`` written into ``out`` (which must not be ``values``), or, for a long window, a new array."""
    if window > 16:  # a long window: pandas' running sum beats adding shifted copies
        return pd.Series(values, copy=False).rolling(window, min_periods=window).mean().to_numpy()
    n = len(values)
    out[:window - 1] = np.nan
    if n >= window:
        total = out[window - 1:]
        if window == 1:
            total[:] = values
        else:  # in the order of a plain sum: the newest value first
            np.add(values[window - 1:], values[window - 2:n - 1], out=total)
        for shift in range(2, window):
            total += values[window - 1 - shift:n - shift]
        total /= window
    return out


def _with_columns(frame: pd.DataFrame, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """``frame`` plus ``columns`` without copying anything: pandas' copy-on-write keeps the caller's
    frame safe, and the fresh indicator arrays belong to the result alone. A short all-float frame (a live
    cycle's) is built as one block instead: a copy of a few hundred rows costs less than pandas' concat."""
    if len(frame) <= SHORT_FRAME_ROWS and all(dtype == np.float64 for dtype in frame.dtypes):
        block = np.column_stack([frame.to_numpy(dtype="float64"), *columns.values()])
        names = pd.Index([*frame.columns, *columns], dtype=frame.columns.dtype)  # the caller's kind of labels
        return pd.DataFrame(block, index=frame.index, columns=names)
    added = pd.DataFrame(columns, index=frame.index, copy=False)
    return pd.concat([frame, added], axis=1)
