"""A long frame's indicators through TA-Lib (strategies.talib_pass, issue 23) against the formulas they replaced:
``ta``'s EMA, MACD and Bollinger bands (pandas), the module's numpy Wilder RSI and ATR and its stochastic, on a
seeded random walk and on the bundled real candles; the same NaN rows, values to 1e-9 of the column's scale, the
same rule decisions; and the edge cases (short inputs, constant and flat prices, a missing price, a period of 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib
from numpy.lib.stride_tricks import sliding_window_view
from ta.trend import MACD, EMAIndicator
from ta.volatility import BollingerBands

from exchange.replay import load_minutes
from strategies import indicators, talib_pass
from strategies.indicators import (
    INDICATOR_COLUMNS,
    SHORT_FRAME_ROWS,
    compute_indicators,
    fast_stochastic,
    full_config,
    moving_average,
    true_range,
    wilder_average,
    wilder_rsi,
)
from strategies.rules import RULES

DATA = Path(__file__).resolve().parents[2] / "exchange" / "data"
ROWS = 3 * SHORT_FRAME_ROWS  # a backtest's long frame: the TA-Lib path
SHORT_PERIODS = {"rsi_period": 2, "ema_short": 2, "ema_long": 3, "macd_fast": 2, "macd_slow": 3, "macd_signal": 2,
                 "bb_period": 2, "bb_std": 1.5, "stoch_k": 2, "stoch_smooth": 2, "stoch_d": 2, "atr_period": 2}
LONG_PERIODS = {"rsi_period": 300, "ema_short": 200, "ema_long": 500, "macd_fast": 100, "macd_slow": 400,
                "macd_signal": 200, "bb_period": 500, "stoch_k": 100, "stoch_smooth": 20, "stoch_d": 30,
                "atr_period": 500}
CONFIGS = {"defaults": {}, "short periods": SHORT_PERIODS, "long periods": LONG_PERIODS,
           "signal = fast period": {"macd_fast": 9, "macd_slow": 26, "macd_signal": 9}}


def walk(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, rows)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.0005, (2, rows))) * close
    return frame_of(open_, np.maximum(open_, close) + wick[0], np.minimum(open_, close) - wick[1], close)


def frame_of(open_, high, low, close) -> pd.DataFrame:
    index = pd.date_range("2026-01-01", periods=len(close), freq="1min", tz="UTC", name="start")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": np.ones(len(close))}, index=index)


@pytest.fixture(scope="module")
def real_candles() -> dict[str, pd.DataFrame]:
    return {symbol: load_minutes(str(DATA / f"{symbol}_1m.csv.gz")) for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT")}


def exact_bands(close: np.ndarray, period: int, width: float):
    """Each window's own mean and population deviation (two passes), equal values giving that value and 0."""
    windows = sliding_window_view(close, period)
    mean, deviation = windows.mean(axis=1), windows.std(axis=1)
    flat = windows.max(axis=1) == windows.min(axis=1)
    mean[flat], deviation[flat] = windows[flat, 0], 0.0
    pad = np.full(period - 1, np.nan)
    return {"bb_upper": np.concatenate([pad, mean + width * deviation]), "bb_middle": np.concatenate([pad, mean]),
            "bb_lower": np.concatenate([pad, mean - width * deviation])}


def previous_formulas(frame: pd.DataFrame, config: dict, *, bands_from_ta: bool = True) -> dict[str, np.ndarray]:
    """The long frame's columns as computed before TA-Lib: ``ta`` (pandas) for the EMAs, MACD and bands (or, with
    ``bands_from_ta=False``, exact window statistics), the module's numpy functions for the rest."""
    c = full_config(config)
    close, high, low = (frame[name].to_numpy() for name in ("close", "high", "low"))
    series = frame["close"]
    macd = MACD(series, window_slow=c["macd_slow"], window_fast=c["macd_fast"], window_sign=c["macd_signal"])
    if bands_from_ta:
        bb = BollingerBands(series, window=c["bb_period"], window_dev=c["bb_std"])
        bands = {"bb_upper": bb.bollinger_hband().to_numpy(), "bb_middle": bb.bollinger_mavg().to_numpy(),
                 "bb_lower": bb.bollinger_lband().to_numpy()}
    else:
        bands = exact_bands(close, c["bb_period"], c["bb_std"])
    slow_k = moving_average(fast_stochastic(high, low, close, c["stoch_k"]), c["stoch_smooth"])
    return {
        "rsi": wilder_rsi(close, c["rsi_period"]),
        "ema_short": EMAIndicator(series, window=c["ema_short"]).ema_indicator().to_numpy(),
        "ema_long": EMAIndicator(series, window=c["ema_long"]).ema_indicator().to_numpy(),
        "macd": macd.macd().to_numpy(), "macd_signal": macd.macd_signal().to_numpy(),
        "macd_hist": macd.macd_diff().to_numpy(), **bands,
        "stoch_k": slow_k, "stoch_d": moving_average(slow_k, c["stoch_d"]),
        "atr": wilder_average(true_range(high, low, close), c["atr_period"], first=c["atr_period"] - 1),
    }


def assert_same_columns(got: pd.DataFrame, expected: dict[str, np.ndarray], tolerance: float = 1e-9) -> None:
    """NaN on the same rows; elsewhere within ``tolerance`` of the column's scale: its largest magnitude, and for
    the MACD columns (differences of two price averages, crossing zero) the largest close."""
    price = np.abs(got["close"].to_numpy()).max()
    for name in INDICATOR_COLUMNS:
        ours, theirs = got[name].to_numpy(), expected[name]
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), f"{name}: NaN rows differ"
        valid = ~np.isnan(theirs)
        if not valid.any():
            continue
        scale = max(np.abs(theirs[valid]).max(), price if name.startswith("macd") else 0.0)
        np.testing.assert_allclose(ours[valid], theirs[valid], rtol=0, atol=tolerance * scale, err_msg=name)


def decisions(columns, close: np.ndarray, config: dict) -> dict[str, np.ndarray]:
    """Each built-in type's long and short rule masks (strategies.rules) over every row."""
    c = full_config(config)
    data = {name: np.asarray(columns[name]) for name in INDICATOR_COLUMNS} | {"close": close}
    out = {}
    for kind, rules in RULES.items():
        for side in ("LONG", "SHORT"):
            out[f"{kind} {side}"] = np.logical_and.reduce([x.mask for x in rules(data, c) if x.side == side])
    return out


def test_a_long_frame_takes_the_talib_path():
    frame = walk(ROWS)
    close, high, low = (frame[name].to_numpy() for name in ("close", "high", "low"))
    jobs = indicators._indicator_jobs(high, low, close, full_config({}))
    assert {job.__qualname__.split(".")[0] for job in jobs} == {"_talib_jobs"}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_it_gives_the_previous_values_and_decisions_on_a_random_walk(name):
    config = CONFIGS[name]
    frame = walk(ROWS, seed=len(name))
    got = compute_indicators(frame, config)
    # Bands against exact window statistics: with a 2-candle window pandas' running sums are 2e-8 off (below).
    assert_same_columns(got, previous_formulas(frame, config, bands_from_ta=False))
    reference = previous_formulas(frame, config)
    for name_, column in exact_bands(frame["close"].to_numpy(), full_config(config)["bb_period"],
                                     full_config(config)["bb_std"]).items():
        np.testing.assert_allclose(got[name_].to_numpy(), column, rtol=1e-12, equal_nan=True)
        if config != SHORT_PERIODS:
            np.testing.assert_allclose(reference[name_], column, rtol=1e-9, equal_nan=True)
    ours, theirs = decisions(got, frame["close"].to_numpy(), config), decisions(reference, frame["close"].to_numpy(),
                                                                                 config)
    for rule, mask in ours.items():
        np.testing.assert_array_equal(mask, theirs[rule], err_msg=rule)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_it_gives_the_previous_values_on_the_bundled_candles(real_candles, name):
    config = CONFIGS[name]
    for symbol, frame in real_candles.items():
        got = compute_indicators(frame, config)
        assert_same_columns(got, previous_formulas(frame, config, bands_from_ta=False))
        if config != SHORT_PERIODS:  # pandas' bands and decisions agree too (see the flat-window test for why not 2)
            reference = previous_formulas(frame, config)
            assert_same_columns(got, reference)
            ours, theirs = decisions(got, frame["close"].to_numpy(), config), decisions(
                reference, frame["close"].to_numpy(), config)
            for rule, mask in ours.items():
                np.testing.assert_array_equal(mask, theirs[rule], err_msg=f"{symbol} {rule}")


def test_a_flat_window_has_bands_exactly_at_its_price():
    # Real BTCUSDT minutes 555-558 closed at 70915.17, 70912.16, 70912.16, 70884: over a 2-candle window pandas'
    # running sums put the lower band at 70912.15988 (a 1.2e-4 deviation), so close <= bb_lower failed there.
    chunk = talib_pass.CHUNK  # flat stretches in several of the chunks checked, one across a chunk's edge
    frame = walk(2 * chunk + 1_000, seed=3)
    close = frame["close"].to_numpy().copy()
    stretches = ((1_000, 1_030), (chunk - 10, chunk + 30), (2 * chunk + 100, 2 * chunk + 140))
    close[1_000:1_030] = 70912.16
    for start, end in stretches[1:]:
        close[start:end] = close[start - 1]
    frame["close"] = close
    got = compute_indicators(frame, {"bb_period": 20})
    for start, end in stretches:
        rows = slice(start + 19, end)
        for band in ("bb_upper", "bb_middle", "bb_lower"):
            assert (got[band].to_numpy()[rows] == close[rows]).all(), band
    assert_same_columns(got, previous_formulas(frame, {"bb_period": 20}, bands_from_ta=False), tolerance=1e-12)


def test_constant_prices_keep_their_values():
    frame = frame_of(*[np.full(ROWS, 2500.0)] * 4)
    got = compute_indicators(frame, {})
    assert_same_columns(got, previous_formulas(frame, {}), tolerance=1e-15)
    assert (got["rsi"].dropna() == 50.0).all()  # TA-Lib says 0 here: the module's own RSI is used
    assert (got["bb_lower"].dropna() == 2500.0).all() and (got["atr"].dropna() == 0.0).all()
    assert np.isnan(got["stoch_k"]).all()  # an empty high-low range, as before


def test_a_missing_price_falls_back_to_the_previous_path():
    frame = walk(ROWS, seed=5)
    frame.iloc[2_000, frame.columns.get_loc("close")] = np.nan
    close, high, low = (frame[name].to_numpy() for name in ("close", "high", "low"))
    jobs = indicators._indicator_jobs(high, low, close, full_config({}))
    assert {job.__qualname__.split(".")[0] for job in jobs} == {"_indicator_jobs"}
    got = compute_indicators(frame, {})
    reference = previous_formulas(frame, {})
    for name in INDICATOR_COLUMNS:  # the very same code as before: the same numbers, NaN where pandas puts them
        np.testing.assert_array_equal(got[name].to_numpy(), reference[name], err_msg=name)


def test_which_frames_talib_may_compute():
    values = np.linspace(1.0, 2.0, 50)
    assert talib_pass.usable(values, values, values, [2, 14])
    assert not talib_pass.usable(values, values, values, [1, 14])  # a period of 1: the module's own path
    for bad in (np.nan, np.inf, -np.inf):
        broken = values.copy()
        broken[7] = bad
        assert not talib_pass.usable(values, broken, values, [14])


@pytest.mark.parametrize("rows", [1, 2, 5, 8, 9, 10, 40])
def test_short_inputs_give_the_module_values(rows):
    frame = walk(rows, seed=rows)
    close, high, low = (frame[name].to_numpy() for name in ("close", "high", "low"))
    np.testing.assert_allclose(talib_pass.ema(close, 9), indicators.ema(close, 9), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(talib_pass.atr(high, low, close, 9),
                               wilder_average(true_range(high, low, close), 9, first=8), rtol=1e-12, equal_nan=True)
    line, signal, histogram = talib_pass.macd(close, 3, 5, 4)
    expected_line = indicators.ema(close, 3) - indicators.ema(close, 5)
    expected_signal = indicators.ema(expected_line, 4, first=4)
    price = 1e-12 * close.max()  # MACD values are differences of price averages, near zero: compared at price scale
    np.testing.assert_allclose(line, expected_line, rtol=0, atol=price, equal_nan=True)
    np.testing.assert_allclose(signal, expected_signal, rtol=0, atol=price, equal_nan=True)
    np.testing.assert_allclose(histogram, expected_line - expected_signal, rtol=0, atol=price, equal_nan=True)
    upper, middle, lower = talib_pass.bollinger(close, 9, 2.0)
    expected_middle, deviation = indicators.rolling_mean_std(close, 9)
    np.testing.assert_allclose(middle, expected_middle, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(upper, expected_middle + 2 * deviation, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(lower, expected_middle - 2 * deviation, rtol=1e-12, equal_nan=True)
    rsi = talib_pass.rsi(close, 9)
    if rsi is not None:
        np.testing.assert_allclose(rsi, wilder_rsi(close, 9), rtol=1e-12, equal_nan=True)


def test_once_the_seed_has_faded_the_values_are_talibs_own():
    # The seed correction decays to exactly zero (underflow) and stops there: far rows are TA-Lib's numbers.
    frame = walk(ROWS, seed=9)
    close, high, low = (frame[name].to_numpy() for name in ("close", "high", "low"))
    assert talib_pass.ema(close, 21)[-1] == talib.EMA(close, 21)[-1]
    assert talib_pass.atr(high, low, close, 14)[-1] == talib.ATR(high, low, close, 14)[-1]
    assert talib_pass.macd(close, 12, 26, 9)[1][-1] == talib.MACD(close, 12, 26, 9)[1][-1]
    assert talib_pass.ema(close, 21)[20] != talib.EMA(close, 21)[20]  # ...and near the seed they are ta's
