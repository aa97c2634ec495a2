"""Issue 23: the cycle's shared evaluations (``SignalMemo``) give what ``evaluate`` gives, and the built-ins'
indicator pass, now numpy on a live frame, gives ``ta``'s numbers."""

import numpy as np
import pandas as pd
import pytest
from ta.trend import MACD, EMAIndicator
from ta.volatility import BollingerBands

from strategies.indicators import SHORT_FRAME_ROWS, compute_indicators, rolling_mean_std
from strategies.signals import SignalMemo, StrategyError, evaluate

KEY = ("BTCUSDT", "5")


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(23)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, 400)))
    spread = np.abs(rng.normal(0, 0.002, 400)) * close
    index = pd.date_range("2026-03-01", periods=400, freq="5min", tz="UTC", name="start")
    return pd.DataFrame({"open": np.r_[close[0], close[:-1]], "high": close + spread, "low": close - spread,
                         "close": close, "volume": np.ones(400)}, index=index)


@pytest.mark.parametrize("kind", ["scalping", "trend_following"])
@pytest.mark.parametrize("config", [{}, {"rsi_period": 10, "ema_short": 12, "ema_long": 26}])
def test_a_shared_evaluation_is_the_evaluation(frame, kind, config):
    window = frame.iloc[-200:]
    memo = SignalMemo()
    shared = memo.evaluate(kind, window, config, frame_key=KEY)
    alone = evaluate(kind, window, config)
    assert (shared.action, shared.reasons, shared.candle_time, shared.price) == \
           (alone.action, alone.reasons, alone.candle_time, alone.price)
    assert shared.indicators == pytest.approx(alone.indicators, rel=1e-12)
    assert memo.evaluate(kind, window, dict(config), frame_key=KEY) is shared  # asked again: not computed again


def test_the_memo_keeps_different_settings_and_candles_apart(frame):
    memo = SignalMemo()
    default = memo.evaluate("scalping", frame.iloc[-200:], {}, frame_key=KEY)
    assert memo.evaluate("scalping", frame.iloc[-200:], {"rsi_period": 10}, frame_key=KEY) is not default
    assert memo.evaluate("scalping", frame.iloc[-201:-1], {}, frame_key=("BTCUSDT", "15")).candle_time \
        < default.candle_time


def test_a_strategy_error_is_remembered_and_raised_for_every_pair_that_asks(frame):
    memo = SignalMemo()
    for _ in range(2):
        with pytest.raises(StrategyError, match="unknown strategy type"):
            memo.evaluate("no_such_class", frame, {}, frame_key=KEY)


def test_the_numpy_indicators_give_tas_numbers_on_a_live_frame(frame):
    ours = compute_indicators(frame.iloc[-200:], {})
    close = frame["close"].iloc[-200:]
    macd, bands = MACD(close), BollingerBands(close)
    theirs = {"ema_short": EMAIndicator(close, 9).ema_indicator(), "ema_long": EMAIndicator(close, 21).ema_indicator(),
              "macd": macd.macd(), "macd_signal": macd.macd_signal(), "macd_hist": macd.macd_diff(),
              "bb_upper": bands.bollinger_hband(), "bb_middle": bands.bollinger_mavg(),
              "bb_lower": bands.bollinger_lband()}
    for name, values in theirs.items():
        np.testing.assert_array_equal(np.isnan(ours[name].to_numpy()), np.isnan(values.to_numpy()), err_msg=name)
        np.testing.assert_allclose(ours[name].to_numpy(), values.to_numpy(), rtol=1e-10, atol=1e-10, err_msg=name)


def test_rolling_bands_agree_on_a_short_and_a_long_frame():
    values = 100 + np.cumsum(np.random.default_rng(5).normal(size=SHORT_FRAME_ROWS + 50))
    short_mean, short_std = rolling_mean_std(values[:SHORT_FRAME_ROWS], 20)
    long_mean, long_std = rolling_mean_std(values, 20)
    np.testing.assert_allclose(short_mean[19:], long_mean[19:SHORT_FRAME_ROWS], rtol=1e-9)
    np.testing.assert_allclose(short_std[19:], long_std[19:SHORT_FRAME_ROWS], rtol=1e-7)
    assert np.isnan(short_mean[:19]).all() and np.isnan(rolling_mean_std(values[:5], 20)[1]).all()
