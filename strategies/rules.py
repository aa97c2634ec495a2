"""The entry rules of each strategy type, as named boolean conditions over every row at once.

A strategy goes LONG on a row when all its long conditions hold there, SHORT when all its short
conditions hold, and HOLDs otherwise. ``strategies.signals`` turns the same masks into the
backtester's signal series and into the live cycle's reasons, so the two can never disagree.

scalping (mean reversion on stretched moves)
    LONG  1. RSI <= rsi_oversold with the close at or below the lower Bollinger band, on one of the
             last 3 candles (the stretch);
          2. the MACD histogram rose on this candle (downward momentum is fading);
          3. Stochastic %K is above %D (the turn has begun).
    SHORT the mirror image: RSI >= rsi_overbought at or above the upper band on one of the last 3
          candles, the MACD histogram fell, %K below %D.

trend_following (join a new trend)
    LONG  1. EMA short crossed above EMA long on this candle;
          2. the MACD line is above its signal line (momentum agrees);
          3. RSI is below rsi_overbought (not chasing an exhausted move).
    SHORT EMA short crossed below EMA long, MACD below its signal, RSI above rsi_oversold.

ATR is not an entry condition; it is part of every snapshot for the AI and for position sizing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from strategies.indicators import LOOKBACK

LONG, SHORT = "LONG", "SHORT"
# At most the rows a condition (and its numbers) on one row reads: that row and the ones before it (the stretch
# spans LOOKBACK candles, "rising" and "crossed" compare with the previous one). The last row's masks and numbers are
# the same computed over the last ROWS_READ rows alone: what the live cycle computes (strategies.builtin).
ROWS_READ = LOOKBACK + 1


@dataclass(frozen=True)
class Condition:
    side: str  # LONG or SHORT
    label: str  # what must hold, e.g. "MACD histogram rising"
    mask: np.ndarray  # bool per row
    values: Callable[[int], str]  # the numbers behind it at one row, for the reasons


def fmt(value: float) -> str:
    value = float(value)  # a numpy scalar formats to the same text, slower (thousands of reasons a cycle)
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4g}"


def before(values: np.ndarray, row: int) -> float:
    """The value on the row before ``row`` (NaN for the first row)."""
    return float(values[row - 1]) if row >= 1 else float("nan")


def compared_with_previous(values: np.ndarray, compare) -> np.ndarray:
    """``compare(value, previous value)`` on every row; False on the first, which has no previous."""
    out = np.zeros(len(values), dtype=bool)
    compare(values[1:], values[:-1], out=out[1:])
    return out


def crossed(fast: np.ndarray, slow: np.ndarray, above: bool) -> np.ndarray:
    """Where ``fast`` went from at-or-below ``slow`` to above it (or the reverse, with above=False)."""
    now, then = (np.greater, np.less_equal) if above else (np.less, np.greater_equal)
    out = np.zeros(len(fast), dtype=bool)
    np.logical_and(now(fast[1:], slow[1:]), then(fast[:-1], slow[:-1]), out=out[1:])
    return out


def within_last(mask: np.ndarray, rows: int) -> np.ndarray:
    """True where ``mask`` held on this row or one of the ``rows - 1`` before it."""
    out = mask.copy()
    for shift in range(1, min(rows, len(mask))):
        out[shift:] |= mask[:-shift]
    return out


def scalping(ind: Mapping[str, np.ndarray], config: dict) -> list[Condition]:
    rsi, close, hist = ind["rsi"], ind["close"], ind["macd_hist"]
    lower, upper, k, d = ind["bb_lower"], ind["bb_upper"], ind["stoch_k"], ind["stoch_d"]
    oversold, overbought = config["rsi_oversold"], config["rsi_overbought"]
    stretched_down = within_last((rsi <= oversold) & (close <= lower), LOOKBACK)
    stretched_up = within_last((rsi >= overbought) & (close >= upper), LOOKBACK)

    def stretch(i, band):
        first = max(0, i - LOOKBACK + 1)
        return (f"RSI {', '.join(fmt(v) for v in rsi[first:i + 1])}; close {fmt(close[i])}, "
                f"{band} band {fmt((lower if band == 'lower' else upper)[i])}")

    return [
        Condition(LONG, f"RSI <= {oversold:g} at or below the lower Bollinger band on one of the last "
                        f"{LOOKBACK} candles", stretched_down, lambda i: stretch(i, "lower")),
        Condition(LONG, "MACD histogram rising", compared_with_previous(hist, np.greater),
                  lambda i: f"{fmt(before(hist, i))} -> {fmt(hist[i])}"),
        Condition(LONG, "Stochastic %K above %D", k > d, lambda i: f"%K {fmt(k[i])}, %D {fmt(d[i])}"),
        Condition(SHORT, f"RSI >= {overbought:g} at or above the upper Bollinger band on one of the last "
                         f"{LOOKBACK} candles", stretched_up, lambda i: stretch(i, "upper")),
        Condition(SHORT, "MACD histogram falling", compared_with_previous(hist, np.less),
                  lambda i: f"{fmt(before(hist, i))} -> {fmt(hist[i])}"),
        Condition(SHORT, "Stochastic %K below %D", k < d, lambda i: f"%K {fmt(k[i])}, %D {fmt(d[i])}"),
    ]


def trend_following(ind: Mapping[str, np.ndarray], config: dict) -> list[Condition]:
    short, long_ = ind["ema_short"], ind["ema_long"]
    macd, signal, rsi = ind["macd"], ind["macd_signal"], ind["rsi"]
    oversold, overbought = config["rsi_oversold"], config["rsi_overbought"]
    ema_s, ema_l = f"EMA {config['ema_short']}", f"EMA {config['ema_long']}"

    def crossing(i):
        return (f"{ema_s} {fmt(before(short, i))} -> {fmt(short[i])}, "
                f"{ema_l} {fmt(before(long_, i))} -> {fmt(long_[i])}")

    def macd_values(i):
        return f"MACD {fmt(macd[i])}, signal {fmt(signal[i])}"

    return [
        Condition(LONG, f"{ema_s} crossed above {ema_l} on this candle", crossed(short, long_, above=True),
                  crossing),
        Condition(LONG, "MACD above its signal line", macd > signal, macd_values),
        Condition(LONG, f"RSI below {overbought:g}", rsi < overbought, lambda i: f"RSI {fmt(rsi[i])}"),
        Condition(SHORT, f"{ema_s} crossed below {ema_l} on this candle", crossed(short, long_, above=False),
                  crossing),
        Condition(SHORT, "MACD below its signal line", macd < signal, macd_values),
        Condition(SHORT, f"RSI above {oversold:g}", rsi > oversold, lambda i: f"RSI {fmt(rsi[i])}"),
    ]


RULES: dict[str, Callable[[Mapping[str, np.ndarray], dict], list[Condition]]] = {
    "scalping": scalping,
    "trend_following": trend_following,
}
