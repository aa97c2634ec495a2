"""The live cycle's answer for the last candle alone (``IStrategy.last_row``: the built-ins' indicators as arrays,
``strategies.live_pass``, their conditions on the last rows) is the Signal the population hooks give over every
row, the backtest's path: the same action, reasons, candle, price, indicator snapshot and exits, on 200-candle
windows all through the bundled month, for both built-ins with the default and other periods, with and without a
confirming timeframe, the candles' work shared between strategies as the cycle shares it (one ``shared`` per
window)."""

import numpy as np
import pandas as pd
import pytest

from market.candles import resample
from market.intervals import interval_delta
from strategies.builtin.rule_based import Scalping
from strategies.indicators import INDICATOR_COLUMNS, compute_indicators, full_config
from strategies.live_pass import PieceCache, indicator_arrays
from strategies.signals import Action, SignalMemo, evaluate, evaluate_with, instantiate, populated
from trades.backtest.data import BUNDLED, read_source

WINDOW = 200
# The others change a period of every indicator group, and 12 / 26 are also MACD's: its EMAs are then shared.
OTHER = {"rsi_period": 10, "ema_short": 12, "ema_long": 26, "bb_period": 15, "bb_std": 2.5, "stoch_k": 10,
         "stoch_smooth": 2, "atr_period": 10, "rsi_oversold": 35, "rsi_overbought": 65}
STRATEGIES = [(kind, config) for kind in ("scalping", "trend_following") for config in ({}, OTHER)]
HIGHER = {"5": "15", "15": "60"}


@pytest.fixture(scope="module")
def minutes():
    return {symbol: read_source(symbol, BUNDLED)[0] for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT")}


def higher_window(higher: pd.DataFrame, higher_interval: str, window: pd.DataFrame, interval: str) -> pd.DataFrame:
    """The higher-timeframe candles that had closed when the window's last candle closed (the cycle's view)."""
    closed = np.searchsorted(higher.index + interval_delta(higher_interval),
                             window.index[-1] + interval_delta(interval), side="right")
    return higher.iloc[max(0, closed - WINDOW):closed]


# Windows ending on every 11th candle of one symbol's 15-minute month and every 61st of another's 5-minute month
# (strides prime to the timeframes' cycles, so they fall on every hour's minutes and every weekday), plus every
# fourth window ending on a candle where one of the strategies enters over the whole month (entries are ~2% of the
# signals: a stride alone would compare few). Every window of both months (11,000, 3 minutes of CPU) agreed when
# the live path was written; this keeps the suite's share to seconds.
@pytest.mark.parametrize(("symbol", "interval", "stride"), [("ETHUSDT", "15", 11), ("BTCUSDT", "5", 61)])
def test_the_last_row_signal_is_the_every_row_signal_on_every_window(minutes, symbol, interval, stride):
    frame, higher = resample(minutes[symbol], interval), resample(minutes[symbol], HIGHER[interval])
    entering = sorted({row + 1 for kind, config in STRATEGIES
                       for row in np.flatnonzero(populated(kind, frame, config).entries) if row + 1 >= WINDOW})
    ends = sorted({*range(WINDOW, len(frame) + 1, stride), *entering[::4]})
    instances = [instantiate(kind, config) for kind, config in STRATEGIES]
    compared = entries = confirmations = 0
    for end in ends:
        window = frame.iloc[end - WINDOW:end]
        confirming = higher_window(higher, HIGHER[interval], window, interval)
        shared = {}  # one per candles, as the cycle's SignalMemo keeps it: the strategies share their pieces
        for number, strategy in enumerate(instances):
            # With and without the confirmation, turn about (it is asked only of an entry).
            higher_frame = confirming if (end + number) % 2 else None
            live = evaluate_with(strategy, window, higher_frame=higher_frame, shared=shared)
            every_row = evaluate_with(strategy, window, higher_frame=higher_frame, every_row=True)
            assert live == every_row, (symbol, interval, window.index[-1], type(strategy).key(), strategy.parameters)
            compared += 1
            entries += every_row.action != Action.HOLD
            confirmations += higher_frame is not None and every_row.action != Action.HOLD
    # The windows hold entries, held and confirmed ones alike, and warm-up windows where an indicator has no value.
    assert compared == len(ends) * len(STRATEGIES) and entries > 40 and confirmations > 10


def test_the_live_pass_gives_compute_indicators_columns_bit_for_bit(minutes):
    frame = resample(minutes["SOLUSDT"], "15")
    for end in range(WINDOW, len(frame) + 1, 97):
        window = frame.iloc[end - WINDOW:end]
        cache = PieceCache(*(window[name].to_numpy(dtype="float64") for name in ("high", "low", "close")))
        for config in ({}, OTHER, {"ema_short": 5, "macd_fast": 5, "macd_signal": 5}):
            expected = compute_indicators(window, config)
            arrays = indicator_arrays(cache, full_config(config))
            assert list(arrays) == list(INDICATOR_COLUMNS)
            for name in INDICATOR_COLUMNS:
                np.testing.assert_array_equal(arrays[name], expected[name].to_numpy(), err_msg=name)
                assert not arrays[name].flags.writeable  # shared: nobody may change another strategy's numbers


def test_frames_the_live_pass_does_not_take_run_the_hooks(minutes):
    window = resample(minutes["ETHUSDT"], "15").iloc[-WINDOW:]
    strategy = instantiate("scalping", {})
    assert strategy.last_row(window, {}, {}) is not None
    with_turnover = window.assign(turnover=window["volume"] * window["close"])  # another numeric column: snapshot
    assert strategy.last_row(with_turnover, {}, {}) is None
    assert "turnover" in evaluate("scalping", with_turnover, {}).indicators
    with_indicators = compute_indicators(window, {})  # columns already computed: the hooks reuse them
    assert strategy.last_row(with_indicators, {}, {}) is None
    assert evaluate("scalping", with_indicators, {}) == evaluate("scalping", window, {})
    assert strategy.last_row(window.astype({"volume": "int64"}), {}, {}) is None


def test_a_subclass_that_changes_a_hook_runs_its_hooks(minutes):
    window = resample(minutes["ETHUSDT"], "15").iloc[-WINDOW:]

    class LongOnEveryCandle(Scalping):
        def populate_entry_trend(self, frame, metadata):
            frame["enter_long"], frame["enter_short"] = True, False
            return frame

    class Unchanged(Scalping):
        pass

    assert LongOnEveryCandle({}).last_row(window, {}, {}) is None
    assert evaluate_with(LongOnEveryCandle({}), window).action == Action.LONG
    assert Unchanged({}).last_row(window, {}, {}) is not None


def test_a_memo_shares_one_piece_cache_per_candles(minutes):
    frame = resample(minutes["BTCUSDT"], "15").iloc[-WINDOW:]
    memo = SignalMemo()
    for kind, config in STRATEGIES:
        shared = memo.evaluate(kind, frame, config, frame_key=("BTCUSDT", "15"))
        assert shared == evaluate_with(instantiate(kind, config), frame, every_row=True)
    computed = memo._shared[("BTCUSDT", "15")][PieceCache].computed
    # 12 and 26 are MACD's EMA periods too: the other periods' EMAs are MACD's arrays, not computed again.
    assert sorted(key[1] for key in computed if key[0] == "ema") == [9, 12, 21, 26]
    assert sum(key[0] == "macd" for key in computed) == 1 and sum(key[0] == "rsi" for key in computed) == 2
