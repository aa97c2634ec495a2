"""Each built-in's rules on crafted indicator frames: every condition can fire and block, with the reasons the
decision log shows (the built-in class's own entry hook and ``explain_entry``, without the warm-up the kernel adds
on real candles: these frames are a few rows of indicator values)."""

import numpy as np
import pandas as pd
import pytest

from strategies import signals
from strategies.catalogue import strategy_class
from strategies.config import indicator_defaults
from strategies.indicators import INDICATOR_COLUMNS
from strategies.signals import ACTIONS, Action, StrategyError

CONFIG = indicator_defaults()
NEUTRAL = {"close": 100.0, "rsi": 50.0, "ema_short": 100.0, "ema_long": 100.0, "macd": 0.0, "macd_signal": 0.0,
           "macd_hist": 0.0, "bb_upper": 105.0, "bb_middle": 100.0, "bb_lower": 95.0, "stoch_k": 50.0,
           "stoch_d": 50.0, "atr": 1.0}


def signal_series(kind: str, frame: pd.DataFrame, config: dict) -> np.ndarray:
    entered = strategy_class(kind)(config).populate_entry_trend(frame.copy(), {})
    return entered["enter_long"].to_numpy().astype(np.int8) - entered["enter_short"].to_numpy().astype(np.int8)


def explain(kind: str, frame: pd.DataFrame, config: dict) -> tuple[Action, list[str]]:
    action = ACTIONS[int(signal_series(kind, frame, config)[-1])]
    return action, strategy_class(kind)(config).explain_entry(frame, len(frame) - 1, action.value)


def rows(*changes: dict) -> pd.DataFrame:
    """An indicator frame: one row per dict, each a change from a neutral row."""
    index = pd.date_range("2026-01-01", periods=len(changes), freq="1min", tz="UTC", name="start")
    return pd.DataFrame([{**NEUTRAL, **change} for change in changes], index=index)


STRETCHED_DOWN = {"rsi": 25.0, "close": 94.0, "macd_hist": -3.0}
TURNING_UP = {"rsi": 33.0, "close": 96.0, "macd_hist": -2.0, "stoch_k": 30.0, "stoch_d": 20.0}
STRETCHED_UP = {"rsi": 75.0, "close": 106.0, "macd_hist": 3.0}
TURNING_DOWN = {"rsi": 67.0, "close": 104.0, "macd_hist": 2.0, "stoch_k": 70.0, "stoch_d": 80.0}


def test_scalping_goes_long_when_an_oversold_stretch_turns_up():
    frame = rows(NEUTRAL, STRETCHED_DOWN, TURNING_UP)
    assert signal_series("scalping", frame, CONFIG).tolist() == [0, 0, 1]
    action, reasons = explain("scalping", frame, CONFIG)
    assert action == Action.LONG
    assert reasons == [
        "RSI <= 30 at or below the lower Bollinger band on one of the last 3 candles "
        "(RSI 50.00, 25.00, 33.00; close 96.00, lower band 95.00)",
        "MACD histogram rising (-3.00 -> -2.00)",
        "Stochastic %K above %D (%K 30.00, %D 20.00)",
    ]


def test_scalping_goes_short_when_an_overbought_stretch_turns_down():
    frame = rows(NEUTRAL, STRETCHED_UP, TURNING_DOWN)
    assert signal_series("scalping", frame, CONFIG).tolist() == [0, 0, -1]
    action, reasons = explain("scalping", frame, CONFIG)
    assert action == Action.SHORT
    assert [reason.split(" (")[0] for reason in reasons] == [
        "RSI >= 70 at or above the upper Bollinger band on one of the last 3 candles",
        "MACD histogram falling", "Stochastic %K below %D"]


def test_scalping_forgets_a_stretch_after_three_candles():
    still = {**TURNING_UP, "macd_hist": -1.0}
    later = {**TURNING_UP, "macd_hist": 0.0}
    frame = rows(STRETCHED_DOWN, TURNING_UP, still, later)
    assert signal_series("scalping", frame, CONFIG).tolist() == [0, 1, 1, 0]
    action, reasons = explain("scalping", frame, CONFIG)
    assert action == Action.HOLD
    assert reasons[0].startswith("LONG not met: RSI <= 30 at or below the lower Bollinger band")


@pytest.mark.parametrize(("spoiler", "failed"), [
    ({"macd_hist": -4.0}, "LONG not met: MACD histogram rising (-3.00 -> -4.00)"),
    ({"stoch_k": 20.0, "stoch_d": 30.0}, "LONG not met: Stochastic %K above %D (%K 20.00, %D 30.00)"),
])
def test_scalping_holds_when_one_long_condition_fails_and_says_which(spoiler, failed):
    frame = rows(NEUTRAL, STRETCHED_DOWN, {**TURNING_UP, **spoiler})
    action, reasons = explain("scalping", frame, CONFIG)
    assert action == Action.HOLD
    assert failed in reasons
    assert sum(reason.startswith("LONG met") for reason in reasons) == 2


def test_scalping_needs_the_close_at_the_band_not_only_a_low_rsi():
    frame = rows(NEUTRAL, {**STRETCHED_DOWN, "close": 97.0}, TURNING_UP)
    action, reasons = explain("scalping", frame, CONFIG)
    assert action == Action.HOLD
    assert reasons[0].startswith("LONG not met: RSI <= 30")


def test_scalping_uses_the_strategys_rsi_thresholds():
    frame = rows(NEUTRAL, {**STRETCHED_DOWN, "rsi": 35.0}, TURNING_UP)
    assert signal_series("scalping", frame, CONFIG)[-1] == 0
    assert signal_series("scalping", frame, {**CONFIG, "rsi_oversold": 40})[-1] == 1


CROSS_BELOW = {"ema_short": 99.0, "ema_long": 100.0}
CROSS_UP = {"ema_short": 101.0, "ema_long": 100.5, "macd": 0.5, "macd_signal": 0.2, "rsi": 60.0}
CROSS_DOWN = {"ema_short": 99.0, "ema_long": 99.5, "macd": -0.5, "macd_signal": -0.2, "rsi": 40.0}


def test_trend_following_goes_long_on_an_ema_cross_up_with_macd_agreeing():
    frame = rows(CROSS_BELOW, CROSS_UP, {**CROSS_UP, "ema_short": 102.0})
    assert signal_series("trend_following", frame, CONFIG).tolist() == [0, 1, 0]  # the cross, not the state
    action, reasons = explain("trend_following", frame.iloc[:2], CONFIG)
    assert action == Action.LONG
    assert reasons == [
        "EMA 9 crossed above EMA 21 on this candle (EMA 9 99.00 -> 101.00, EMA 21 100.00 -> 100.50)",
        "MACD above its signal line (MACD 0.5, signal 0.2)",
        "RSI below 70 (RSI 60.00)",
    ]


def test_trend_following_goes_short_on_an_ema_cross_down_with_macd_agreeing():
    frame = rows({"ema_short": 101.0, "ema_long": 100.0}, CROSS_DOWN)
    assert signal_series("trend_following", frame, CONFIG).tolist() == [0, -1]
    action, reasons = explain("trend_following", frame, CONFIG)
    assert action == Action.SHORT
    assert reasons[0].startswith("EMA 9 crossed below EMA 21 on this candle")


@pytest.mark.parametrize(("spoiler", "failed"), [
    ({"macd": 0.1, "macd_signal": 0.2}, "LONG not met: MACD above its signal line (MACD 0.1, signal 0.2)"),
    ({"rsi": 75.0}, "LONG not met: RSI below 70 (RSI 75.00)"),
])
def test_trend_following_holds_when_momentum_disagrees_or_rsi_is_extreme(spoiler, failed):
    frame = rows(CROSS_BELOW, {**CROSS_UP, **spoiler})
    action, reasons = explain("trend_following", frame, CONFIG)
    assert action == Action.HOLD
    assert failed in reasons
    assert "LONG met: EMA 9 crossed above EMA 21 on this candle" in " ".join(reasons)


def test_it_holds_on_rows_whose_indicators_are_still_warming_up():
    frame = rows(STRETCHED_DOWN, {**TURNING_UP, "stoch_d": np.nan, "macd_hist": np.nan})
    assert signal_series("scalping", frame, CONFIG).tolist() == [0, 0]
    action, reasons = explain("scalping", frame, CONFIG)
    assert action == Action.HOLD
    assert "LONG not met: Stochastic %K above %D (%K 30.00, %D n/a)" in reasons


def test_it_gives_one_int8_action_per_row():
    frame = rows(*[NEUTRAL] * 5)
    for kind in ("scalping", "trend_following"):
        series = signal_series(kind, frame, CONFIG)
        assert series.dtype == np.int8 and series.shape == (5,) and not series.any()


def test_it_wraps_an_unknown_type_a_bad_config_and_a_missing_column_as_strategy_errors():
    frame = rows(NEUTRAL, NEUTRAL)
    with pytest.raises(StrategyError, match="unknown strategy type 'martingale'"):
        signals.signal_series("martingale", frame, CONFIG)
    with pytest.raises(StrategyError, match="ema_short .30. must be shorter than ema_long"):
        signals.signal_series("trend_following", frame, {"ema_short": 30})
    with pytest.raises(StrategyError, match=r"scalping.populate_indicators raised ValueError: candle frame lacks "
                                            r"column\(s\) high, low \(rule_based.py:\d+\)"):
        signals.signal_series("scalping", frame, CONFIG)
    assert set(INDICATOR_COLUMNS) <= set(NEUTRAL)
