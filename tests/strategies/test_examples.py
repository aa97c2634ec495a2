"""The example strategies of strategies/builtin (ema_crossover, donchian_breakout, mean_reversion_htf): loaded by the
registry like the built-ins, trading a handful of times on the bundled month, and causal through the kernel."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchange.replay import load_minutes
from market.candles import resample
from market.intervals import interval_delta
from strategies.catalogue import catalogue, known_types, strategy_class
from strategies.sdk.base import bybit_interval
from strategies.sdk.kernel import StrategyError, populate
from strategies.sdk.parameters import ParameterError

DATA = Path(__file__).resolve().parents[2] / "exchange" / "data"
EXAMPLES = ("ema_crossover", "donchian_breakout", "mean_reversion_htf")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


@pytest.fixture(scope="module")
def minutes() -> dict[str, pd.DataFrame]:
    return {symbol: load_minutes(str(DATA / f"{symbol}_1m.csv.gz")) for symbol in SYMBOLS}


def inputs(cls, minutes_1m: pd.DataFrame, symbol: str) -> tuple[pd.DataFrame, dict]:
    """The class's candles and the metadata the bot hands it: the pair and each informative timeframe's candles."""
    informative = {timeframe: resample(minutes_1m, bybit_interval(timeframe))
                   for timeframe in cls.informative_timeframes}
    return resample(minutes_1m, cls.interval()), {"pair": symbol, "informative": informative}


def closed_by(frame: pd.DataFrame, interval: str, moment: pd.Timestamp) -> pd.DataFrame:
    """The candles of ``frame`` that had closed at ``moment``: what the live cycle would have had then."""
    return frame[frame.index + interval_delta(interval) <= moment]


@pytest.mark.parametrize("key", EXAMPLES)
def test_each_example_is_in_the_catalogue_and_declared_well(key):
    assert key in known_types()
    cls = strategy_class(key)
    assert cls.check_class() == []
    assert catalogue().origins[key] == f"built-in {cls.__name__}"
    assert cls.summary() and cls.declared_parameters()
    assert len(cls.__module__.split(".")) == 3 and (cls.__module__.split(".")[-1] == key)  # one module each
    assert (cls.__doc__ or "").strip() and (importlib.import_module(cls.__module__).__doc__ or "").strip()


@pytest.mark.parametrize("symbol", SYMBOLS)
@pytest.mark.parametrize("key", EXAMPLES)
def test_each_example_enters_a_handful_of_times_on_the_bundled_month(minutes, key, symbol):
    cls = strategy_class(key)
    frame, metadata = inputs(cls, minutes[symbol], symbol)
    result = populate(cls(), frame, metadata)
    longs, shorts = int((result.entries == 1).sum()), int((result.entries == -1).sum())
    # A handful a week, not one on every other candle.
    assert 5 <= longs + shorts <= len(frame) // 20, (longs, shorts)
    assert longs > 0 and shorts > 0
    assert result.exit_long.any() and result.exit_short.any()
    entry_rows = np.flatnonzero(result.entries)
    assert all(result.tag(row) for row in entry_rows)


@pytest.mark.parametrize("key", EXAMPLES)
def test_each_example_is_causal(minutes, key):
    """Run on the candles known at a few moments of the month, each example decides exactly as it did on those
    rows when it was run on the whole month: no entry or exit reads a later candle (the informative frames are cut
    to the candles closed by then, as the live cycle would have them)."""
    cls = strategy_class(key)
    frame, metadata = inputs(cls, minutes["ETHUSDT"], "ETHUSDT")
    full = populate(cls(), frame, metadata)
    for cut in (cls.startup_candle_count + 10, len(frame) // 3, len(frame) - 7):
        now = frame.index[cut - 1] + interval_delta(cls.interval())
        informative = {timeframe: closed_by(candles, bybit_interval(timeframe), now)
                       for timeframe, candles in metadata["informative"].items()}
        head = populate(cls(), frame.iloc[:cut], {"pair": "ETHUSDT", "informative": informative})
        np.testing.assert_array_equal(head.entries, full.entries[:cut])
        np.testing.assert_array_equal(head.exit_long, full.exit_long[:cut])
        np.testing.assert_array_equal(head.exit_short, full.exit_short[:cut])


def test_donchian_stop_is_atr_stop_atrs_from_the_newest_closed_candle(minutes):
    cls = strategy_class("donchian_breakout")
    strategy = cls({"atr_stop": 2.5})
    frame, metadata = inputs(cls, minutes["BTCUSDT"], "BTCUSDT")
    trade = {"pair": "BTCUSDT"}
    assert strategy.custom_stoploss(trade, frame.index[500], 70000.0, 0.0) is None  # nothing populated yet
    populated = populate(strategy, frame, metadata).frame
    row = 500
    closed_at = frame.index[row] + timedelta(minutes=15)
    expected = -2.5 * populated["atr"].iat[row] / populated["close"].iat[row]
    # At the candle's close and until the next one closes, the stop is that candle's; never a later candle's.
    assert strategy.custom_stoploss(trade, closed_at.to_pydatetime(), 70000.0, 0.01) == pytest.approx(expected)
    almost_next = (closed_at + timedelta(minutes=14)).tz_convert(None).to_pydatetime()  # a naive UTC clock too
    assert strategy.custom_stoploss(trade, almost_next, 70000.0, 0.01) == pytest.approx(expected)
    assert strategy.custom_stoploss(trade, frame.index[0], 70000.0, 0.0) is None  # no candle closed yet
    assert strategy.custom_stoploss({"pair": "SOLUSDT"}, closed_at, 100.0, 0.0) is None  # another pair: unseen


def test_the_stop_a_donchian_trade_gets_does_not_depend_on_later_candles(minutes):
    cls = strategy_class("donchian_breakout")
    frame, metadata = inputs(cls, minutes["BTCUSDT"], "BTCUSDT")
    whole, cut = cls(), cls()
    populate(whole, frame, metadata)
    populate(cut, frame.iloc[:900], metadata)
    moment = frame.index[899] + timedelta(minutes=15)
    assert whole.custom_stoploss({"pair": "BTCUSDT"}, moment, 1.0, 0.0) == cut.custom_stoploss(
        {"pair": "BTCUSDT"}, moment, 1.0, 0.0)


def test_ema_crossover_refuses_a_fast_period_at_or_above_the_slow_one():
    cls = strategy_class("ema_crossover")
    with pytest.raises(ParameterError, match="fast must be below slow"):
        cls.clean_parameters({"fast": 30, "slow": 21})
    with pytest.raises(ParameterError, match="slow must be from 10 to 200"):
        cls.clean_parameters({"slow": 500})
    assert cls.clean_parameters({"fast": 5})["slow"] == 21


def test_mean_reversion_without_its_hourly_candles_is_a_strategy_error(minutes):
    cls = strategy_class("mean_reversion_htf")
    frame = resample(minutes["BTCUSDT"], "5").iloc[:300]
    with pytest.raises(StrategyError, match=r"mean_reversion_htf.populate_indicators raised KeyError.*"
                                            r"mean_reversion_htf.py:\d+"):
        populate(cls(), frame, {"pair": "BTCUSDT"})


def test_mean_reversion_reads_only_hours_that_had_closed(minutes):
    """The 1-hour values on a 5-minute row are those of the last hour closed when that row closed."""
    cls = strategy_class("mean_reversion_htf")
    frame, metadata = inputs(cls, minutes["BTCUSDT"], "BTCUSDT")
    populated = populate(cls(), frame, metadata).frame
    hourly = metadata["informative"]["1h"]
    row = frame.index.get_loc(pd.Timestamp("2026-04-01 10:50", tz="UTC"))  # closes 10:55: the 10:00 hour is open
    assert populated["close_60"].iat[row] == hourly.loc[pd.Timestamp("2026-04-01 09:00", tz="UTC"), "close"]
    assert populated["close_60"].iat[row + 1] == hourly.loc[pd.Timestamp("2026-04-01 10:00", tz="UTC"), "close"]
