"""Indicator values against references computed independently of ``ta`` and pandas: by hand on a
short series, by each indicator's textbook recurrence, and with the standard library's statistics."""

import math
import statistics
import threading
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import ta

from strategies import indicators, talib_pass
from strategies.indicators import (
    INDICATOR_COLUMNS,
    compute_indicators,
    exponential_smoothing,
    min_candles,
    rolling_extreme,
    warmup_rows,
)

CLOSES = [10, 11, 12, 11, 13, 12, 14, 15, 13, 16]
# Short periods, so every value can be checked on paper.
SMALL = {"rsi_period": 3, "ema_short": 2, "ema_long": 3, "macd_fast": 2, "macd_slow": 3, "macd_signal": 2,
         "bb_period": 3, "bb_std": 2, "stoch_k": 3, "stoch_smooth": 2, "stoch_d": 2, "atr_period": 3}


def candles(closes, spread=1.0):
    closes = np.asarray(closes, dtype="float64")
    index = pd.date_range("2026-01-01", periods=len(closes), freq="1min", tz="UTC", name="start")
    return pd.DataFrame({"open": closes, "high": closes + spread, "low": closes - spread, "close": closes,
                         "volume": np.ones(len(closes))}, index=index)


@pytest.fixture(scope="module")
def small():
    return compute_indicators(candles(CLOSES), SMALL)


def ema_by_recurrence(values, period):
    """EMA seeded with the first value: e[t] = e[t-1] + 2/(period+1) * (x[t] - e[t-1])."""
    alpha, out, current = Fraction(2, period + 1), [], None
    for value in values:
        current = Fraction(value) if current is None else current + alpha * (Fraction(value) - current)
        out.append(current)
    return out


def wilder_by_recurrence(values, period, first):
    """None before ``first``; there the mean of the ``period`` values ending at it; then Wilder's smoothing."""
    out, average = [], None
    for index, value in enumerate(values):
        if index == first:
            average = sum(Fraction(v) for v in values[first - period + 1:first + 1]) / period
        elif index > first:
            average = average + (Fraction(value) - average) / period
        out.append(average)
    return out


def assert_series(actual, expected):
    """NaN exactly where the reference has no value, equal (to float precision) elsewhere."""
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        if want is None:
            assert math.isnan(got)
        else:
            assert got == pytest.approx(float(want), rel=1e-12, abs=1e-12)


def test_it_computes_wilders_rsi_as_on_paper(small):
    # Changes: +1 +1 -1 +2 -1 +2 +1 -2 +3. Gains 1 1 0 2 0 2 1 0 3, losses 0 0 1 0 1 0 0 2 0.
    # Row 3: average gain (1+1+0)/3 = 2/3, average loss (0+0+1)/3 = 1/3, RS 2: RSI 100 - 100/3.
    # Row 4: gain (2/3*2 + 2)/3 = 10/9, loss (1/3*2 + 0)/3 = 2/9, RS 5: RSI 100 - 100/6.
    # Row 5: gain (10/9*2 + 0)/3 = 20/27, loss (2/9*2 + 1)/3 = 13/27, RS 20/13: RSI 100 - 100*13/33.
    rsi = small["rsi"].to_numpy()
    assert np.isnan(rsi[:3]).all()
    assert rsi[3] == pytest.approx(100 - 100 / 3)
    assert rsi[4] == pytest.approx(100 - 100 / 6)
    assert rsi[5] == pytest.approx(100 - 100 * 13 / 33)
    changes = np.diff(CLOSES, prepend=np.nan)
    gains = wilder_by_recurrence([max(c, 0) if c == c else 0 for c in changes], 3, first=3)
    losses = wilder_by_recurrence([max(-c, 0) if c == c else 0 for c in changes], 3, first=3)
    expected = [None if gain is None else 100 - 100 / (1 + gain / loss)
                for gain, loss in zip(gains, losses, strict=True)]
    assert_series(rsi, expected)


def test_it_reports_rsi_100_without_losses_and_50_without_any_movement():
    rising = compute_indicators(candles(range(100, 140)), {})
    flat = compute_indicators(candles([100.0] * 40), {})
    assert rising["rsi"].iloc[-1] == 100
    assert flat["rsi"].iloc[-1] == 50


def test_it_computes_emas_by_their_recurrence(small):
    # EMA 3 (alpha 1/2) from 10: 10, 10.5, 11.25, 11.125, 12.0625; reported from the 3rd candle.
    assert small["ema_long"].iloc[2:5].tolist() == [11.25, 11.125, 12.0625]
    assert_series(small["ema_long"], [None, None, *ema_by_recurrence(CLOSES, 3)[2:]])
    assert_series(small["ema_short"], [None, *ema_by_recurrence(CLOSES, 2)[1:]])


def test_it_computes_macd_from_its_two_emas_and_the_signal_from_the_macd_line(small):
    line = [f - s for f, s in zip(ema_by_recurrence(CLOSES, 2), ema_by_recurrence(CLOSES, 3), strict=True)]
    signal = ema_by_recurrence(line[2:], 2)  # the signal EMA starts at the first MACD value (row 2)
    assert_series(small["macd"], [None, None, *line[2:]])
    assert_series(small["macd_signal"], [None, None, None, *signal[1:]])
    assert_series(small["macd_hist"], [None, None, None, *(m - s for m, s in zip(line[3:], signal[1:], strict=True))])


def test_it_computes_bollinger_bands_from_the_mean_and_population_deviation(small):
    # Row 2: window 10 11 12, mean 11, population deviation sqrt(2/3).
    assert small["bb_middle"].iloc[2] == pytest.approx(11)
    assert small["bb_upper"].iloc[2] == pytest.approx(11 + 2 * math.sqrt(2 / 3))
    for row in range(2, len(CLOSES)):
        window = CLOSES[row - 2:row + 1]
        mean, deviation = statistics.fmean(window), statistics.pstdev(window)
        assert small["bb_middle"].iloc[row] == pytest.approx(mean)
        assert small["bb_upper"].iloc[row] == pytest.approx(mean + 2 * deviation)
        assert small["bb_lower"].iloc[row] == pytest.approx(mean - 2 * deviation)
    assert small[["bb_upper", "bb_middle", "bb_lower"]].iloc[:2].isna().all().all()


def test_it_computes_the_slow_stochastic(small):
    # Highs are close + 1, lows close - 1. Row 2: lowest low 9, highest high 13, close 12: fast %K 75.
    highs, lows = [c + 1 for c in CLOSES], [c - 1 for c in CLOSES]
    fast = [None, None] + [
        100 * (CLOSES[i] - min(lows[i - 2:i + 1])) / (max(highs[i - 2:i + 1]) - min(lows[i - 2:i + 1]))
        for i in range(2, len(CLOSES))]
    assert fast[2] == 75
    slow = [None] * 3 + [(fast[i - 1] + fast[i]) / 2 for i in range(3, len(CLOSES))]
    d = [None] * 4 + [(slow[i - 1] + slow[i]) / 2 for i in range(4, len(CLOSES))]
    assert_series(small["stoch_k"], slow)
    assert_series(small["stoch_d"], d)


def test_it_computes_wilders_atr_with_nan_in_the_warm_up(small):
    # True ranges (high - low is 2): 2, then max(2, |high - previous close|, |low - previous close|) =
    # 2 for a move of 1, 3 for a move of 2, 4 for a move of 3. First ATR (row 2): (2+2+2)/3 = 2.
    moves = np.abs(np.diff(CLOSES))
    true_ranges = [2] + [max(2, move + 1) for move in moves]
    assert true_ranges[:5] == [2, 2, 2, 2, 3]
    assert_series(small["atr"], wilder_by_recurrence(true_ranges, 3, first=2))
    # ta's own ATR agrees once it has a value (it shows 0.0 instead of NaN before that).
    frame = candles(CLOSES)
    theirs = ta.volatility.AverageTrueRange(frame["high"], frame["low"], frame["close"], window=3).average_true_range()
    assert theirs.iloc[0] == 0.0
    assert small["atr"].iloc[2:].to_numpy() == pytest.approx(theirs.iloc[2:].to_numpy(), rel=1e-12)


def test_it_adds_float_columns_to_a_copy_and_keeps_the_candles():
    frame = candles(CLOSES)
    original = frame.copy()
    result = compute_indicators(frame, SMALL)
    pd.testing.assert_frame_equal(frame, original)
    assert list(result.columns) == [*frame.columns, *INDICATOR_COLUMNS]
    assert all(result[name].dtype == np.float64 for name in INDICATOR_COLUMNS)
    pd.testing.assert_frame_equal(result[list(frame.columns)], frame)


def test_every_indicator_has_a_value_from_the_warm_up_row_on():
    frame = candles(100 + np.cumsum(np.random.default_rng(3).normal(0, 1, 120)))
    result = compute_indicators(frame, {})
    start = warmup_rows({})
    assert result[list(INDICATOR_COLUMNS)].iloc[start:].notna().all().all()
    assert result[list(INDICATOR_COLUMNS)].iloc[start - 1].isna().any()
    assert min_candles({}) == start + 3 == 36


def test_it_finds_rolling_extremes_like_a_plain_window_scan():
    values = np.random.default_rng(5).normal(size=50)
    for window in (1, 2, 3, 5, 14, 50):
        lows = rolling_extreme(values, window, np.minimum)
        highs = rolling_extreme(values, window, np.maximum)
        assert np.isnan(lows[:window - 1]).all()
        for row in range(window - 1, len(values)):
            assert lows[row] == min(values[row - window + 1:row + 1])
            assert highs[row] == max(values[row - window + 1:row + 1])
    assert np.isnan(rolling_extreme(values[:3], 5)).all()


def test_it_gives_nan_rows_not_errors_for_frames_shorter_than_a_period():
    result = compute_indicators(candles(CLOSES[:2]), {})
    assert len(result) == 2
    assert result[list(INDICATOR_COLUMNS)].isna().all().all()


def smoothing_by_recurrence(values, alpha, start):
    out, level = [math.nan] * start, float(values[start])
    for value in values[start:]:
        level = level + alpha * (value - level)
        out.append(level)
    return out


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2 / 10, 1 / 14, 1 / 500])
def test_exponential_smoothing_follows_its_recurrence_across_blocks(alpha):
    # The block length depends on alpha (8 to 4096 values); these lengths cross one or several.
    values = 100 + np.cumsum(np.random.default_rng(9).normal(size=9_000))
    for start in (0, 5):
        for length in (1, 2, 7, 8, 9, 830, 831, 4097, 9_000 - start):
            chunk = values[:start + length]
            got = exponential_smoothing(chunk.copy(), alpha, start=start)
            want = smoothing_by_recurrence(chunk, alpha, start)
            assert np.isnan(got[:start]).all() and len(got) == len(chunk)
            np.testing.assert_allclose(got[start:], want[start:], rtol=1e-11, atol=0)


def test_exponential_smoothing_steps_over_a_gap_as_pandas_does():
    values = 100 + np.cumsum(np.random.default_rng(2).normal(size=3_000))
    values[1_000] = np.nan
    expected = pd.Series(values[3:]).ewm(alpha=0.1, adjust=False).mean().to_numpy()
    got = exponential_smoothing(values.copy(), 0.1, start=3)
    assert np.isnan(got[:3]).all()
    np.testing.assert_allclose(got[3:], expected, rtol=1e-12)
    assert np.isfinite(got[-1])


def test_a_long_frame_computed_on_threads_equals_the_same_frame_computed_inline(monkeypatch):
    frame = candles(100 + np.cumsum(np.random.default_rng(4).normal(0, 0.5, 30_000)))
    monkeypatch.setattr(indicators, "THREADS", 2)
    monkeypatch.setattr(indicators, "PARALLEL_FROM_ROWS", 10**9)
    inline = compute_indicators(frame, {})
    threads, rsi = set(), talib_pass.rsi  # a long frame's RSI goes through TA-Lib

    def recording_rsi(*args):
        threads.add(threading.current_thread().name)
        return rsi(*args)

    monkeypatch.setattr(talib_pass, "rsi", recording_rsi)
    monkeypatch.setattr(indicators, "PARALLEL_FROM_ROWS", 1_000)
    threaded = compute_indicators(frame, {})
    assert threads and all(name.startswith("indicators") for name in threads)
    pd.testing.assert_frame_equal(threaded, inline, check_exact=True)
