"""A long frame's indicators through TA-Lib's C loops, corrected to ``strategies.indicators``' definitions.

On a backtest's million candles pandas' loops (``ta``) and numpy's blocked scans cost four times TA-Lib's C
for the same indicators (issue 23). TA-Lib's definitions differ from this project's in a few places; each
function here says where and how the difference is taken out, so that the values stay those of
``strategies.indicators`` (to ~1e-12 of the value, the tests and ``benchmarks/indicators_bench.py`` check):

* seeds: TA-Lib seeds an EMA with the simple mean of its first ``period`` values, ``ta`` with the first value;
  Wilder's ATR here starts a row earlier than TA-Lib's. Two runs of the same linear recurrence
  ``y[t] = y[t-1] + alpha * (x[t] - y[t-1])`` that differ only in their starting value differ by
  ``d * (1 - alpha) ** (t - t0)`` from then on, so one vectorised correction over the rows where that term
  has not yet underflowed to zero turns TA-Lib's run into this module's (``_reseed``);
* Bollinger bands: TA-Lib's rolling variance comes from running sums, which lose digits when a window barely
  moves against its price level, and its mean of a window of equal values can be off by one unit in the last
  place. Such windows (``FLAT_VARIANCE``) are recomputed from their values: equal values give exactly that
  value and a zero deviation, so ``close <= bb_lower`` holds on a flat market (pandas' running sums, which
  ``ta`` used, could miss that by 1e-4 on a 70,000 price: ``tests/strategies/test_talib_pass.py``).

Every function needs finite inputs and periods of at least 2 (``usable``); anything else keeps the module's
own path. TA-Lib releases the GIL inside its loops, so these run side by side on threads.
"""

from __future__ import annotations

import math

import numpy as np
import talib

# A window whose variance is below this fraction of its squared mean (a deviation under 3e-5 of the price) is
# recomputed from its values: there TA-Lib's running sums (errors around 1e-17 of the squared price, measured
# on the bundled candles and a million-candle random walk) would no longer be negligible against the deviation.
FLAT_VARIANCE = 1e-9
CHUNK = 1 << 16  # rows checked at a time for flat windows (512 kB of scratch)
_SMALLEST = 5e-324  # the smallest positive double: a correction below it is exactly zero


def usable(high: np.ndarray, low: np.ndarray, close: np.ndarray, periods) -> bool:
    """Whether TA-Lib may compute this frame: every price finite (a NaN would poison its running sums, where
    pandas steps over it) and every period at least 2 (TA-Lib's EMA needs 2; a period of 1 is the identity)."""
    if min(periods) < 2:
        return False
    return bool(np.isfinite(close.sum() + high.sum() + low.sum()))  # one NaN or inf makes the total non-finite


def ema(values: np.ndarray, period: int) -> np.ndarray:
    """``ta``'s EMA (``indicators.ema``): seeded with the first value, NaN for the first ``period - 1`` rows."""
    out = _smoothed(values, period, float(values[0])) if len(values) else np.array(values, dtype="float64")
    out[:period - 1] = np.nan
    return out


def macd(close: np.ndarray, fast: int, slow: int, signal: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``ta``'s MACD line, signal and histogram (NaN before rows ``slow - 1``, ``slow + signal - 2``) from TA-Lib's
    MACD, which computes the three EMAs in one loop. TA-Lib starts both EMAs at row ``slow - 1``, each seeded with
    the mean of its window ending there, and the signal at row ``slow + signal - 2`` with the mean of the first
    ``signal`` line values; ``ta`` seeds the EMAs with the first close and the signal with the first line value.
    Rows up to the first signal are recomputed here; after them, the line differs by the two seed differences
    decaying at their EMAs' rates, and the signal by the signal EMA of that difference (one short EMA)."""
    start, first_signal = slow - 1, slow + signal - 2
    if len(close) <= first_signal + 1:  # too short for TA-Lib's: the three EMAs one by one
        line = ema(close, fast)
        line -= ema(close, slow)
        signal_line = np.full(len(close), np.nan)
        if len(close) > start:
            signal_line[start:] = _smoothed(line[start:], signal, float(line[start]))
            signal_line[:first_signal] = np.nan
        return line, signal_line, line - signal_line
    line, signal_line, histogram = talib.MACD(close, fast, slow, signal)
    head = close[:first_signal + 1].tolist()
    fast_rate, slow_rate, signal_rate = 2.0 / (fast + 1), 2.0 / (slow + 1), 2.0 / (signal + 1)
    fast_ema = slow_ema = head[0]
    ours = []  # ta's MACD line from row start to the first signal row
    for row in range(1, first_signal + 1):
        fast_ema += fast_rate * (head[row] - fast_ema)
        slow_ema += slow_rate * (head[row] - slow_ema)
        if row == start:  # TA-Lib's EMAs begin here: how far ta's are from them
            fast_gap = fast_ema - sum(head[slow - fast:slow]) / fast
            slow_gap = slow_ema - sum(head[:slow]) / slow
        if row >= start:
            ours.append(fast_ema - slow_ema)
    level = ours[0]
    for value in ours[1:]:
        level += signal_rate * (value - level)
    line[start:first_signal] = ours[:-1]
    signal_gap = level - float(signal_line[first_signal])
    decays = (1.0 - fast_rate, 1.0 - slow_rate, 1.0 - signal_rate)
    size = abs(fast_gap) + abs(slow_gap) + abs(signal_gap)
    if size == 0.0:
        return line, signal_line, histogram
    # Past this many rows every correction has underflowed to zero (the row count bounds a resonance's growth).
    rows = int((math.log(_SMALLEST) - math.log(size) - math.log(len(close))) / math.log(max(decays))) + 2
    rows = min(rows, len(close) - first_signal)
    offset = first_signal - start  # rows since TA-Lib's EMAs began
    line_gap = _powers(decays[0], rows)
    line_gap *= fast_gap * decays[0] ** offset
    slow_part = _powers(decays[1], rows)
    slow_part *= slow_gap * decays[1] ** offset
    line_gap -= slow_part
    signal_correction = _smoothed(line_gap, signal, signal_gap)
    end = first_signal + rows
    line[first_signal:end] += line_gap
    signal_line[first_signal:end] += signal_correction
    histogram[first_signal:end] += np.subtract(line_gap, signal_correction, out=line_gap)
    return line, signal_line, histogram


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Wilder's ATR as ``indicators`` defines it (the first true range is the first candle's range, the first
    average at row ``period - 1``). TA-Lib's starts a row later, from the true ranges of rows 1 to ``period``;
    same recurrence, so its run is reseeded at row ``period``."""
    n = len(close)
    if n < period:
        return np.full(n, np.nan)
    head = min(period + 1, n)
    ranges = [high[0] - low[0]] + [
        max(h - lo, abs(h - previous), abs(lo - previous))
        for h, lo, previous in zip(high[1:head].tolist(), low[1:head].tolist(), close[:head - 1].tolist(), strict=True)]
    level = float(np.mean(ranges[:period]))
    if n == period:
        out = np.full(n, np.nan)
        out[-1] = level
        return out
    out = talib.ATR(high, low, close, period)
    out[period - 1] = level
    _reseed(out, period, level + (ranges[period] - level) / period, 1.0 - 1.0 / period)
    return out


def rsi(close: np.ndarray, period: int) -> np.ndarray | None:
    """Wilder's RSI as ``indicators.wilder_rsi`` (the same seeds as TA-Lib's), or None if TA-Lib reports a 0
    after its warm-up: it says 0, not 50, when the price did not move, and that 0 cannot be told from a real one
    (the caller then computes the module's own RSI)."""
    out = talib.RSI(close, period)
    return None if len(close) > period and not out[period:].min() > 0.0 else out


def bollinger(close: np.ndarray, period: int, width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Upper band, middle (SMA) and lower band: mean +- ``width`` population standard deviations."""
    upper, middle, lower = talib.BBANDS(close, period, width, width, talib.MA_Type.SMA)
    if len(close) >= period:
        _recompute_flat_windows(close, period, width, upper, middle, lower)
    return upper, middle, lower


def _recompute_flat_windows(close, period: int, width: float, upper, middle, lower) -> None:
    """Overwrite, from the windows' own values, the bands of windows that barely move (``FLAT_VARIANCE``)."""
    limit = width * math.sqrt(FLAT_VARIANCE)  # half band <= limit * mean: deviation**2 <= FLAT_VARIANCE * mean**2
    scratch = np.empty(min(CHUNK, len(close)))
    for begin in range(period - 1, len(close), CHUNK):  # in chunks: the scratch array stays in the CPU's cache
        end = min(begin + CHUNK, len(close))
        levels = middle[begin:end]
        half_band = np.subtract(upper[begin:end], levels, out=scratch[:end - begin])
        if float(half_band.min()) > limit * float(levels.max()):  # not one window of the chunk near flat
            continue
        rows = begin + np.flatnonzero(half_band <= np.multiply(levels, limit, out=half_band))
        windows = close[rows[:, None] - np.arange(period - 1, -1, -1)]  # each flagged row's window, oldest first
        mean = windows.mean(axis=1)
        spread = windows - mean[:, None]
        deviation = np.sqrt(np.einsum("ij,ij->i", spread, spread) / period)
        flat = windows.max(axis=1) == windows.min(axis=1)  # equal values: exactly that value and no deviation
        mean[flat], deviation[flat] = windows[flat, 0], 0.0
        deviation *= width
        middle[rows], upper[rows], lower[rows] = mean, mean + deviation, mean - deviation


def _smoothed(values: np.ndarray, period: int, level: float) -> np.ndarray:
    """``y[0] = level``, then ``y[t] = y[t-1] + alpha * (values[t] - y[t-1])`` with alpha = 2/(period+1): TA-Lib's
    EMA (seeded at row ``period - 1`` with the mean of the first ``period`` values), reseeded."""
    alpha = 2.0 / (period + 1)
    head = [level]
    for value in values[1:min(period, len(values))].tolist():
        level += alpha * (value - level)
        head.append(level)
    if len(values) < period:
        return np.array(head, dtype="float64")
    out = talib.EMA(values, period)
    out[:period - 1] = head[:-1]
    _reseed(out, period - 1, head[-1], 1.0 - alpha)
    return out


def _reseed(out: np.ndarray, start: int, level: float, decay: float) -> None:
    """Turn a recurrence ``out[t] = out[t-1] + (1 - decay) * (x[t] - out[t-1])`` from ``start`` on into the same
    recurrence started from ``level``: add ``(level - out[start]) * decay ** (t - start)`` wherever that is not
    yet exactly zero."""
    difference = level - float(out[start])
    if difference == 0.0 or decay <= 0.0:
        out[start] = level
        return
    # decay ** k * |difference| underflows to zero beyond this many rows (and adds nothing there).
    rows = int((math.log(_SMALLEST) - math.log(abs(difference))) / math.log(decay)) + 2
    rows = min(rows, len(out) - start)
    correction = _powers(decay, rows)
    correction *= difference
    out[start:start + rows] += correction
    out[start] = level  # exactly, not TA-Lib's value plus the difference


def _powers(decay: float, rows: int) -> np.ndarray:
    """``decay ** arange(rows)`` to an ulp or two, as the outer product of two short tables of powers (a power
    per element costs more than the rest of a correction)."""
    width = 128
    coarse = np.power(decay, width * np.arange(-(-rows // width), dtype="float64"))
    fine = np.power(decay, np.arange(width, dtype="float64"))
    return np.multiply.outer(coarse, fine).ravel()[:rows]
