"""How fast is the indicator + signal pass, against a per-candle loop and a plain numpy reference?

    .venv/bin/python benchmarks/indicators_bench.py [--candles 1000000] [--loop-sample 20000]

Times ``compute_indicators`` + ``signal_series`` (both strategy types, default periods) on 200
candles (one live cycle) and on 1,000,000 candles (a backtest), on a seeded random walk, against
two references measured in the same run:

* a per-candle Python loop computing the same maths incrementally (the way an event-driven bot
  would); on the large frame it runs on ``--loop-sample`` candles and its time per candle is
  extrapolated, which the output says;
* plain numpy: the same maths on arrays (blocked scans for the exponential averages, sliding
  windows for the rolling ones), feeding the same rule masks (``strategies.rules``).

Before timing, it asserts that both references produce the same indicator values (to floating-point
noise) and the same signals as the real pass.

Issue 23 adds a third reference on the 1,000,000 candles, for the indicators alone: TA-Lib's C functions
computing the same twelve columns (EMA x2, MACD, BBANDS, RSI, ATR, STOCH) from the same three columns, kept
and attached to the frame as ``compute_indicators`` attaches its own. It is compared with
``compute_indicators`` alone (no signals: TA-Lib has none), each timed as the best of the same number of
alternating runs. TA-Lib seeds its averages differently (see ``strategies.talib_pass``), so the script first
asserts that its values equal ours once the seeds have faded. Needs no database.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import deque
from pathlib import Path

import django
import numpy as np
import pandas as pd
import talib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Signals look their strategy class up in the catalogue, which reads STRATEGY_DIRS from the settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")
django.setup()

from strategies import indicators  # noqa: E402
from strategies.indicators import INDICATOR_COLUMNS, compute_indicators, full_config, settled_candles  # noqa: E402
from strategies.rules import RULES  # noqa: E402
from strategies.signals import signal_series  # noqa: E402

TYPES = tuple(RULES)
GOAL_VS_LOOP = 50.0
GOAL_VS_NUMPY = 2.0
GOAL_VS_TALIB = 1.0  # issue 23: the indicator pass within TA-Lib's time for the same indicators
TALIB_RUNS = 9
SEEDS_FADED = 20_000  # rows after which no seed difference is left (every correction has underflowed to 0)


def random_walk(rows: int, seed: int = 7) -> pd.DataFrame:
    """Seeded 1-minute candles: a geometric random walk with plausible highs, lows and volumes."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, rows)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.0005, (2, rows))) * close
    high = np.maximum(open_, close) + wick[0]
    low = np.minimum(open_, close) - wick[1]
    volume = rng.gamma(2.0, 50.0, rows)
    index = pd.date_range("2020-01-01", periods=rows, freq="1min", tz="UTC", name="start")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


# --- the real pass ---------------------------------------------------------------------------------

def real_pass(frame: pd.DataFrame, config: dict):
    with_indicators = compute_indicators(frame, config)
    signals = {kind: signal_series(kind, with_indicators, config) for kind in TYPES}
    return {name: with_indicators[name].to_numpy() for name in INDICATOR_COLUMNS}, signals


# --- reference 1: a per-candle Python loop -----------------------------------------------------------

def loop_pass(frame: pd.DataFrame, c: dict):
    highs, lows, closes = (frame[name].tolist() for name in ("high", "low", "close"))
    n = len(closes)
    out = {name: [math.nan] * n for name in INDICATOR_COLUMNS}
    signals = {kind: [0] * n for kind in TYPES}
    a_short, a_long = 2 / (c["ema_short"] + 1), 2 / (c["ema_long"] + 1)
    a_fast, a_slow, a_sig = 2 / (c["macd_fast"] + 1), 2 / (c["macd_slow"] + 1), 2 / (c["macd_signal"] + 1)
    ema_s = ema_l = ema_f = ema_sl = signal = None
    macd_count = 0
    gains, losses, avg_gain, avg_loss = [], [], None, None
    trs, atr = [], None
    fast_ks, slow_ks = deque(maxlen=c["stoch_smooth"]), deque(maxlen=c["stoch_d"])
    setups_down, setups_up = deque(maxlen=3), deque(maxlen=3)
    blank = dict.fromkeys(INDICATOR_COLUMNS, math.nan)
    prev = blank
    for i in range(n):
        close, high, low = closes[i], highs[i], lows[i]
        row = dict(blank)
        # EMAs and MACD: seeded with the first close, reported once their window is full.
        ema_s = close if ema_s is None else ema_s + a_short * (close - ema_s)
        ema_l = close if ema_l is None else ema_l + a_long * (close - ema_l)
        ema_f = close if ema_f is None else ema_f + a_fast * (close - ema_f)
        ema_sl = close if ema_sl is None else ema_sl + a_slow * (close - ema_sl)
        row["ema_short"] = ema_s if i >= c["ema_short"] - 1 else math.nan
        row["ema_long"] = ema_l if i >= c["ema_long"] - 1 else math.nan
        if i >= c["macd_slow"] - 1:
            macd = ema_f - ema_sl
            signal = macd if signal is None else signal + a_sig * (macd - signal)
            macd_count += 1
            row["macd"] = macd
            if macd_count >= c["macd_signal"]:
                row["macd_signal"] = signal
                row["macd_hist"] = macd - signal
        # Wilder's RSI.
        if i >= 1:
            change = close - closes[i - 1]
            gain, loss = max(change, 0.0), max(-change, 0.0)
            period = c["rsi_period"]
            if avg_gain is None:
                gains.append(gain)
                losses.append(loss)
                if len(gains) == period:
                    avg_gain, avg_loss = sum(gains) / period, sum(losses) / period
            else:
                avg_gain += (gain - avg_gain) / period
                avg_loss += (loss - avg_loss) / period
            if avg_gain is not None:
                if avg_loss == 0:
                    row["rsi"] = 100.0 if avg_gain > 0 else 50.0
                else:
                    row["rsi"] = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
        # Bollinger Bands over the window.
        period = c["bb_period"]
        if i >= period - 1:
            window = closes[i - period + 1:i + 1]
            mean = sum(window) / period
            deviation = math.sqrt(sum((x - mean) ** 2 for x in window) / period)
            row["bb_middle"] = mean
            row["bb_upper"] = mean + c["bb_std"] * deviation
            row["bb_lower"] = mean - c["bb_std"] * deviation
        # Slow stochastic.
        period = c["stoch_k"]
        if i >= period - 1:
            lowest, highest = min(lows[i - period + 1:i + 1]), max(highs[i - period + 1:i + 1])
            fast_ks.append(100.0 * (close - lowest) / (highest - lowest) if highest > lowest else math.nan)
            if len(fast_ks) == fast_ks.maxlen:
                slow_ks.append(sum(fast_ks) / len(fast_ks))
                row["stoch_k"] = slow_ks[-1]
                if len(slow_ks) == slow_ks.maxlen:
                    row["stoch_d"] = sum(slow_ks) / len(slow_ks)
        # Wilder's ATR (the first true range is the first candle's range).
        tr = high - low if i == 0 else max(high - low, abs(high - closes[i - 1]), abs(low - closes[i - 1]))
        period = c["atr_period"]
        if atr is None:
            trs.append(tr)
            if len(trs) == period:
                atr = sum(trs) / period
        else:
            atr += (tr - atr) / period
        if atr is not None:
            row["atr"] = atr
        for name, value in row.items():
            out[name][i] = value
        # Rules (strategies.rules), candle by candle.
        setups_down.append(row["rsi"] <= c["rsi_oversold"] and close <= row["bb_lower"])
        setups_up.append(row["rsi"] >= c["rsi_overbought"] and close >= row["bb_upper"])
        hist, k, d, prev_hist = row["macd_hist"], row["stoch_k"], row["stoch_d"], prev["macd_hist"]
        long_ = any(setups_down) and hist > prev_hist and k > d
        short = any(setups_up) and hist < prev_hist and k < d
        signals["scalping"][i] = int(long_) - int(short)
        s, l_, ps, pl = row["ema_short"], row["ema_long"], prev["ema_short"], prev["ema_long"]
        macd, sig, rsi = row["macd"], row["macd_signal"], row["rsi"]
        long_ = s > l_ and ps <= pl and macd > sig and rsi < c["rsi_overbought"]
        short = s < l_ and ps >= pl and macd < sig and rsi > c["rsi_oversold"]
        signals["trend_following"][i] = int(long_) - int(short)
        prev = row
    return ({name: np.array(values) for name, values in out.items()},
            {kind: np.array(values, dtype=np.int8) for kind, values in signals.items()})


# --- reference 2: plain numpy ------------------------------------------------------------------------

def np_smooth(x: np.ndarray, alpha: float, start: int, seed: float) -> np.ndarray:
    """y[start] = seed, y[t] = y[t-1] + alpha * (x[t] - y[t-1]); NaN before ``start``.

    Solved in blocks: inside one, y[s+j] = w^(j+1) y[s-1] + alpha * sum_k w^(j-k) x[s+k] with
    w = 1 - alpha, a cumulative sum; the block length keeps w^-j far from overflowing."""
    n = len(x)
    y = np.full(n, np.nan)
    if start >= n:
        return y
    w = 1.0 - alpha
    block = max(16, min(4096, int(150 / -math.log10(w))))
    j = np.arange(block, dtype="float64")
    grow, shrink, decay = w ** -j, w ** j, w ** (j + 1)
    y[start] = seed
    last = seed
    for s in range(start + 1, n, block):
        chunk = x[s:s + block]
        m = len(chunk)
        y[s:s + m] = decay[:m] * last + alpha * np.cumsum(chunk * grow[:m]) * shrink[:m]
        last = y[s + m - 1]
    return y


def np_ema(x: np.ndarray, period: int) -> np.ndarray:
    first = int(np.argmax(~np.isnan(x)))
    y = np_smooth(x, 2.0 / (period + 1), first, x[first])
    y[:first + period - 1] = np.nan
    return y


def np_wilder(x: np.ndarray, period: int, first: int) -> np.ndarray:
    return np_smooth(x, 1.0 / period, first, x[first - period + 1:first + 1].mean())


def np_window(x: np.ndarray, period: int, reduce) -> np.ndarray:
    out = np.full(len(x), np.nan)
    out[period - 1:] = reduce(np.lib.stride_tricks.sliding_window_view(x, period), axis=1)
    return out


def numpy_pass(frame: pd.DataFrame, c: dict):
    high, low, close = (frame[name].to_numpy() for name in ("high", "low", "close"))
    change = np.diff(close, prepend=np.nan)
    gain = np_wilder(np.where(change > 0, change, 0.0), c["rsi_period"], c["rsi_period"])
    loss = np_wilder(np.where(change < 0, -change, 0.0), c["rsi_period"], c["rsi_period"])
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = np.where(loss == 0, np.where(gain > 0, 100.0, 50.0), 100.0 - 100.0 / (1.0 + gain / loss))
    rsi[np.isnan(gain)] = np.nan
    macd = np_ema(close, c["macd_fast"]) - np_ema(close, c["macd_slow"])
    macd_signal = np_ema(macd, c["macd_signal"])
    middle = np_window(close, c["bb_period"], np.mean)
    deviation = np_window(close, c["bb_period"], np.std)
    lowest, highest = np_window(low, c["stoch_k"], np.min), np_window(high, c["stoch_k"], np.max)
    with np.errstate(divide="ignore", invalid="ignore"):
        fast_k = 100.0 * (close - lowest) / (highest - lowest)
    stoch_k = np_window(fast_k, c["stoch_smooth"], np.mean)
    previous_close = np.concatenate([[np.nan], close[:-1]])
    tr = np.fmax(high - low, np.fmax(np.abs(high - previous_close), np.abs(low - previous_close)))
    out = {
        "rsi": rsi, "ema_short": np_ema(close, c["ema_short"]), "ema_long": np_ema(close, c["ema_long"]),
        "macd": macd, "macd_signal": macd_signal, "macd_hist": macd - macd_signal,
        "bb_upper": middle + c["bb_std"] * deviation, "bb_middle": middle,
        "bb_lower": middle - c["bb_std"] * deviation, "stoch_k": stoch_k,
        "stoch_d": np_window(stoch_k, c["stoch_d"], np.mean),
        "atr": np_wilder(tr, c["atr_period"], c["atr_period"] - 1),
    }
    columns = {**out, "close": close}
    signals = {}
    for kind in TYPES:
        conditions = RULES[kind](columns, c)
        long_ = np.logical_and.reduce([x.mask for x in conditions if x.side == "LONG"])
        short = np.logical_and.reduce([x.mask for x in conditions if x.side == "SHORT"])
        signals[kind] = long_.astype(np.int8) - short.astype(np.int8)
    return out, signals


# --- reference 3: TA-Lib, the indicators alone --------------------------------------------------------

def talib_reference(frame: pd.DataFrame, c: dict) -> pd.DataFrame:
    """The twelve columns from TA-Lib's functions, attached to the frame the way ``compute_indicators`` does."""
    high, low, close = (frame[name].to_numpy(dtype="float64") for name in ("high", "low", "close"))
    columns = {"rsi": talib.RSI(close, c["rsi_period"]),
               "ema_short": talib.EMA(close, c["ema_short"]), "ema_long": talib.EMA(close, c["ema_long"])}
    columns["macd"], columns["macd_signal"], columns["macd_hist"] = talib.MACD(
        close, c["macd_fast"], c["macd_slow"], c["macd_signal"])
    columns["bb_upper"], columns["bb_middle"], columns["bb_lower"] = talib.BBANDS(
        close, c["bb_period"], c["bb_std"], c["bb_std"], talib.MA_Type.SMA)
    columns["stoch_k"], columns["stoch_d"] = talib.STOCH(
        high, low, close, c["stoch_k"], c["stoch_smooth"], talib.MA_Type.SMA, c["stoch_d"], talib.MA_Type.SMA)
    columns["atr"] = talib.ATR(high, low, close, c["atr_period"])
    added = pd.DataFrame({name: columns[name] for name in INDICATOR_COLUMNS}, index=frame.index, copy=False)
    return pd.concat([frame, added], axis=1)


def assert_talib_same(ours: pd.DataFrame, theirs: pd.DataFrame) -> float:
    """TA-Lib computes the same indicators: equal values (to 1e-9 of the column's scale) once the seeds have faded."""
    worst = 0.0
    price = float(ours["close"].abs().max())
    for column in INDICATOR_COLUMNS:
        a, b = ours[column].to_numpy()[SEEDS_FADED:], theirs[column].to_numpy()[SEEDS_FADED:]
        assert not np.isnan(a).any() and not np.isnan(b).any(), f"TA-Lib: {column} has gaps"
        scale = max(float(np.abs(a).max()), price if column.startswith("macd") else 0.0)
        error = float(np.max(np.abs(a - b))) / scale
        assert error < 1e-9, f"TA-Lib: {column} differs by {error:.2e} (relative to its scale)"
        worst = max(worst, error)
    return worst


def alternating_best(functions: dict, runs: int) -> dict[str, float]:
    """Each function's fastest of ``runs``, run in turn (A B A B ...) so that both see the same machine load."""
    times = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


# --- checking and timing ---------------------------------------------------------------------------

def assert_same(name: str, expected, got) -> float:
    """Assert equal NaN positions, values within 1e-9 relative, equal signals; return the worst error."""
    values, signals = expected
    other_values, other_signals = got
    worst = 0.0
    for column in INDICATOR_COLUMNS:
        a, b = values[column], other_values[column]
        assert np.array_equal(np.isnan(a), np.isnan(b)), f"{name}: NaN rows of {column} differ"
        finite = ~np.isnan(a)
        scale = max(1.0, float(np.nanmax(np.abs(a))) if finite.any() else 1.0)
        error = float(np.max(np.abs(a[finite] - b[finite])) / scale) if finite.any() else 0.0
        assert error < 1e-9, f"{name}: {column} differs by {error:.2e} (relative to its largest value)"
        worst = max(worst, error)
    # The kernel holds every row before the built-ins' warm-up (strategies.indicators.settled_candles); the
    # references compute the rules on every row: compared from the first row the kernel trusts.
    trusted = settled_candles({}) - 1
    for kind in TYPES:
        ours, reference = np.asarray(signals[kind])[trusted:], np.asarray(other_signals[kind])[trusted:]
        mismatched = int(np.count_nonzero(ours != reference))
        assert mismatched == 0, f"{name}: {kind} signals differ on {mismatched} rows"
    return worst


def one_thread(measure):
    """``measure()`` with every frame's indicators computed on the calling thread."""
    threshold = indicators.PARALLEL_FROM_ROWS
    indicators.PARALLEL_FROM_ROWS = sys.maxsize
    try:
        return measure()
    finally:
        indicators.PARALLEL_FROM_ROWS = threshold


def best_time(function, *args, repeat: int) -> float:
    """The fastest of ``repeat`` runs: the least disturbed by whatever else the machine is doing."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=20_000)
    args = parser.parse_args()
    config = full_config({})

    small = random_walk(200, seed=11)
    sample = random_walk(args.loop_sample, seed=13)
    large = random_walk(args.candles, seed=17)

    print("checking that the references compute the same thing ...")
    real_small = real_pass(small, config)
    errors = [assert_same("loop, 200 candles", real_small, loop_pass(small, config)),
              assert_same("numpy, 200 candles", real_small, numpy_pass(small, config)),
              assert_same(f"loop, {args.loop_sample:,} candles", real_pass(sample, config), loop_pass(sample, config)),
              assert_same(f"numpy, {args.candles:,} candles", real_pass(large, config), numpy_pass(large, config))]
    fired = {kind: int(np.count_nonzero(real_pass(sample, config)[1][kind])) for kind in TYPES}
    print(f"  same values (worst relative difference {max(errors):.1e}) and identical signals "
          f"({', '.join(f'{kind} fired on {count} of {args.loop_sample:,} rows' for kind, count in fired.items())})")
    if len(large) > SEEDS_FADED:
        talib_error = assert_talib_same(compute_indicators(large, config), talib_reference(large, config))
        print(f"  TA-Lib's twelve columns equal ours from row {SEEDS_FADED:,} on (worst {talib_error:.1e}; before "
              "it, its seeds differ: see strategies/talib_pass.py)")
    else:
        print(f"  (TA-Lib's values not compared: {args.candles:,} candles end before its seeds have faded)")

    print("\ncandles     pass      real        per-candle loop            plain numpy")
    rows = []
    real = best_time(real_pass, small, config, repeat=50)
    loop = best_time(loop_pass, small, config, repeat=20)
    numpy_ = best_time(numpy_pass, small, config, repeat=50)
    rows.append(("200", real, loop, numpy_, ""))
    real = best_time(real_pass, large, config, repeat=5)
    loop_sample = best_time(loop_pass, sample, config, repeat=3)
    loop = loop_sample / len(sample) * len(large)
    numpy_ = best_time(numpy_pass, large, config, repeat=3)
    rows.append((f"{args.candles:,}", real, loop, numpy_,
                 f"   (loop timed on {args.loop_sample:,} candles, {loop_sample:.2f} s, extrapolated per candle)"))
    for label, real, loop, numpy_, note in rows:
        print(f"{label:>9}  {real * 1000:9.2f} ms  {loop * 1000:11.1f} ms = {loop / real:6.1f}x  "
              f"{numpy_ * 1000:9.2f} ms = {real / numpy_:5.2f}x numpy's time{note}")
    _, real, loop, numpy_, _ = rows[-1]
    if indicators.THREADS > 1:
        single = one_thread(lambda: best_time(real_pass, large, config, repeat=5))
        print(f"\nthe {args.candles:,}-candle pass runs its indicators on {indicators.THREADS} threads; "
              f"on one thread it takes {single * 1000:.2f} ms = {loop / single:.1f}x faster than the loop, "
              f"{single / numpy_:.2f}x numpy's time")
    ok = loop / real >= GOAL_VS_LOOP and real / numpy_ <= GOAL_VS_NUMPY
    print(f"\ngoal on {args.candles:,} candles: >= {GOAL_VS_LOOP:g}x faster than the loop "
          f"({loop / real:.1f}x) and within {GOAL_VS_NUMPY:g}x of numpy ({real / numpy_:.2f}x): "
          f"{'met' if ok else 'NOT met'}")

    print(f"\nthe indicators alone on {args.candles:,} candles (compute_indicators, no signals), best of "
          f"{TALIB_RUNS} alternating runs:")
    best = alternating_best({"ours": lambda: compute_indicators(large, config),
                             "talib": lambda: talib_reference(large, config)}, TALIB_RUNS)
    print(f"  compute_indicators {best['ours'] * 1000:7.2f} ms on {indicators.THREADS} thread(s); "
          f"TA-Lib's functions one after the other {best['talib'] * 1000:7.2f} ms")
    if indicators.THREADS > 1:
        single = one_thread(lambda: alternating_best({"ours": lambda: compute_indicators(large, config),
                                                      "talib": lambda: talib_reference(large, config)}, TALIB_RUNS))
        print(f"  on one thread: compute_indicators {single['ours'] * 1000:7.2f} ms, TA-Lib "
              f"{single['talib'] * 1000:7.2f} ms = {single['ours'] / single['talib']:.2f}x TA-Lib's time")
    ratio = best["ours"] / best["talib"]
    talib_ok = ratio <= GOAL_VS_TALIB
    print(f"\ngoal: {args.candles:,}-candle indicator pass <= TA-Lib's time for the same indicators: "
          f"{ratio:.2f}x TA-Lib's time ({best['ours'] * 1000:.2f} ms against {best['talib'] * 1000:.2f} ms): "
          f"{'met' if talib_ok else 'NOT met'}")
    return 0 if ok and talib_ok else 1


if __name__ == "__main__":
    sys.exit(main())
