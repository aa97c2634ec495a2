"""The built-ins through the SDK kernel give the signals and reasons they gave before it, on the bundled month.

The reference below is the path ``strategies.signals`` took before the SDK: ``strategies.rules.RULES`` condition
masks over ``compute_indicators``, every condition of a side AND-ed, long minus short, the warm-up rows held (as
the backtest held them), the reasons built from the same conditions. The new path is the catalogue's class run by
``strategies.sdk.kernel.populate`` (``signal_series``) and ``evaluate`` for the reasons.
"""

import numpy as np
import pandas as pd
import pytest

from market.candles import resample
from strategies.config import indicator_defaults
from strategies.indicators import INDICATOR_COLUMNS, compute_indicators, settled_candles
from strategies.rules import RULES
from strategies.signals import Action, evaluate, signal_series
from trades.backtest.data import BUNDLED, read_source

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
CONFIGS = {"scalping": {}, "trend_following": {"ema_short": 7, "ema_long": 30, "rsi_overbought": 75}}


def reference_conditions(kind: str, frame: pd.DataFrame, config: dict):
    with_indicators = compute_indicators(frame, config)
    columns = {name: with_indicators[name].to_numpy(dtype="float64") for name in (*INDICATOR_COLUMNS, "close")}
    return RULES[kind](columns, config)


def reference_series(kind: str, frame: pd.DataFrame, config: dict) -> np.ndarray:
    conditions = reference_conditions(kind, frame, config)
    long_ = np.ones(len(frame), dtype=bool)
    short = np.ones(len(frame), dtype=bool)
    for condition in conditions:
        if condition.side == "LONG":
            long_ &= condition.mask
        else:
            short &= condition.mask
    actions = long_.astype(np.int8) - short.astype(np.int8)
    actions[:max(0, settled_candles(config) - 1)] = 0
    return actions


def reference_reasons(kind: str, frame: pd.DataFrame, config: dict) -> tuple[str, list[str]]:
    conditions = reference_conditions(kind, frame, config)
    row = len(frame) - 1
    action = {1: "LONG", -1: "SHORT", 0: "HOLD"}[int(reference_series(kind, frame, config)[row])]
    if action != "HOLD":
        return action, [f"{c.label} ({c.values(row)})" for c in conditions if c.side == action]
    return action, [f"{side} {'met' if c.mask[row] else 'not met'}: {c.label} ({c.values(row)})"
                    for side in ("LONG", "SHORT") for c in conditions if c.side == side]


@pytest.fixture(scope="module")
def minutes():
    return {symbol: read_source(symbol, BUNDLED)[0] for symbol in SYMBOLS}


@pytest.mark.parametrize("interval", ["5", "15"])
@pytest.mark.parametrize("kind", sorted(CONFIGS))
@pytest.mark.parametrize("symbol", SYMBOLS)
def test_the_sdk_path_gives_the_rules_signals_on_every_row(symbol, kind, interval, minutes):
    frame = resample(minutes[symbol], interval)
    config = {**indicator_defaults(), **CONFIGS[kind]}
    expected = reference_series(kind, frame, config)
    actual = signal_series(kind, frame, CONFIGS[kind])
    assert actual.dtype == np.int8 and len(actual) == len(frame) > 1000
    np.testing.assert_array_equal(actual, expected)
    assert np.count_nonzero(expected == 1) and np.count_nonzero(expected == -1)  # the comparison has teeth


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_the_decision_reasons_are_word_for_word_the_rules_reasons(kind, minutes):
    frame = resample(minutes["ETHUSDT"], "5")
    config = {**indicator_defaults(), **CONFIGS[kind]}
    series = reference_series(kind, frame, config)
    later = np.arange(len(series)) >= 300
    ends = [int(np.flatnonzero((series == 1) & later)[3]), int(np.flatnonzero((series == -1) & later)[3]),
            int(np.flatnonzero((series == 0) & later)[700])]
    for end in ends:
        window = frame.iloc[end - 199:end + 1]  # what the live cycle sees: 200 closed candles
        action, reasons = reference_reasons(kind, window, config)
        signal = evaluate(kind, window, CONFIGS[kind])
        assert signal.action == Action(action)
        assert list(signal.reasons) == reasons
        assert not signal.exit_long and not signal.exit_short and signal.exit_tag == ""  # no exit hook
