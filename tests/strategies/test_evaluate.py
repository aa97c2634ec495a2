"""``evaluate`` on real candles: the live cycle's view, its agreement with ``signal_series``, the
higher-timeframe confirmation, and how often the strategies fire on the bundled market data."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from market.candles import resample
from strategies.indicators import settled_candles
from strategies.signals import Action, StrategyError, confirm_series, evaluate, higher_trend, signal_series

DATA = Path(__file__).resolve().parents[2] / "exchange" / "data" / "BTCUSDT_1m.csv.gz"
TYPES = ("scalping", "trend_following")
VALUE = {1: Action.LONG, -1: Action.SHORT, 0: Action.HOLD}


@pytest.fixture(scope="module")
def btc_1m():
    raw = pd.read_csv(DATA)
    index = pd.DatetimeIndex(pd.to_datetime(raw["timestamp_ms"], unit="ms", utc=True), name="start")
    return pd.DataFrame(raw[["open", "high", "low", "close", "volume"]].to_numpy("float64"), index=index,
                        columns=["open", "high", "low", "close", "volume"])


@pytest.fixture(scope="module")
def series_1m(btc_1m):
    return {kind: signal_series(kind, btc_1m, {}) for kind in TYPES}


def trending(closes_from: float, step: float, count: int, minutes: int = 15) -> pd.DataFrame:
    closes = closes_from + step * np.arange(count, dtype="float64")
    index = pd.date_range("2026-03-20", periods=count, freq=f"{minutes}min", tz="UTC", name="start")
    return pd.DataFrame({"open": closes, "high": closes + 1, "low": closes - 1, "close": closes,
                         "volume": np.ones(count)}, index=index)


def window_ending_on_a(series, action: int, btc_1m, size: int = 200) -> pd.DataFrame:
    row = int(np.flatnonzero(series == action)[5])
    return btc_1m.iloc[row - size + 1:row + 1]


@pytest.mark.parametrize("kind", TYPES)
def test_evaluate_agrees_with_the_last_value_of_signal_series(kind, btc_1m, series_1m):
    """One source of truth: 200-candle windows (as the live cycle sees them) ending on fired and quiet rows."""
    rng = np.random.default_rng(42)
    fired = np.flatnonzero(series_1m[kind])
    ends = [*rng.choice(fired[fired > 300], 15, replace=False), *rng.integers(300, len(btc_1m), 15)]
    seen = set()
    for end in ends:
        window = btc_1m.iloc[end - 199:end + 1]
        signal = evaluate(kind, window, {})
        expected = signal_series(kind, window, {})[-1]
        assert signal.action == VALUE[int(expected)]
        seen.add(signal.action)
    assert {Action.LONG, Action.SHORT} & seen and Action.HOLD in seen


def test_a_signal_carries_its_candle_price_reasons_and_a_json_safe_snapshot(btc_1m, series_1m):
    window = window_ending_on_a(series_1m["scalping"], 1, btc_1m)
    signal = evaluate("scalping", window, {})
    assert signal.action == Action.LONG
    assert signal.candle_time == window.index[-1].to_pydatetime()
    assert signal.candle_time.tzinfo is not None
    assert signal.price == Decimal(repr(float(window["close"].iloc[-1])))
    assert [reason.split(" (")[0] for reason in signal.reasons] == [
        "RSI <= 30 at or below the lower Bollinger band on one of the last 3 candles", "MACD histogram rising",
        "Stochastic %K above %D"]
    assert set(signal.indicators) == {"rsi", "ema_short", "ema_long", "macd", "macd_signal", "macd_hist", "bb_upper",
                                      "bb_middle", "bb_lower", "stoch_k", "stoch_d", "atr"}
    assert all(isinstance(value, float) for value in signal.indicators.values())
    pd.io.json.ujson_dumps(signal.indicators)  # plain floats, no NaN


def test_it_holds_with_a_clear_reason_when_there_are_too_few_candles(btc_1m):
    needed = settled_candles({})  # 4 x (MACD 26 + 9): the built-ins' warm-up, checked by check_strategy
    signal = evaluate("trend_following", btc_1m.iloc[:needed - 1], {})
    assert signal.action == Action.HOLD
    assert signal.reasons == (f"Not enough candles: these indicator periods need {needed} closed candles, "
                              f"got {needed - 1}.",)
    assert evaluate("scalping", btc_1m.iloc[:30], {}).indicators["macd_signal"] is None  # warming up: None, not NaN
    longer = evaluate("trend_following", btc_1m.iloc[:200], {"ema_long": 300, "macd_slow": 400})
    assert longer.action == Action.HOLD and "need 1636 closed candles, got 200" in longer.reasons[0]


def test_the_higher_timeframe_confirms_a_signal_in_its_direction(btc_1m, series_1m):
    window = window_ending_on_a(series_1m["trend_following"], 1, btc_1m)
    confirmed = evaluate("trend_following", window, {}, higher_frame=trending(70000, 10, 40))
    assert confirmed.action == Action.LONG
    assert confirmed.reasons[-1].startswith("Higher timeframe trend is up (EMA 9 ")
    assert confirmed.reasons[-1].endswith("LONG confirmed.")


def test_the_higher_timeframe_vetoes_a_signal_against_its_trend(btc_1m, series_1m):
    window = window_ending_on_a(series_1m["trend_following"], 1, btc_1m)
    vetoed = evaluate("trend_following", window, {}, higher_frame=trending(70000, -10, 40))
    assert vetoed.action == Action.HOLD
    assert vetoed.reasons[-1].startswith("Higher timeframe trend is down")
    assert vetoed.reasons[-1].endswith("LONG not confirmed, holding.")
    short = window_ending_on_a(series_1m["trend_following"], -1, btc_1m)
    assert evaluate("trend_following", short, {}, higher_frame=trending(70000, -10, 40)).action == Action.SHORT


def test_a_higher_timeframe_too_short_for_its_trend_holds(btc_1m, series_1m):
    window = window_ending_on_a(series_1m["scalping"], -1, btc_1m)
    signal = evaluate("scalping", window, {}, higher_frame=trending(70000, -10, 20))
    assert signal.action == Action.HOLD
    assert signal.reasons[-1] == "Higher timeframe cannot confirm: its EMA 21 needs 21 closed candles, got 20."


def test_a_hold_is_not_touched_by_the_higher_timeframe(btc_1m, series_1m):
    quiet = int(np.flatnonzero(series_1m["scalping"] == 0)[500])
    signal = evaluate("scalping", btc_1m.iloc[quiet - 199:quiet + 1], {}, higher_frame=trending(70000, 10, 5))
    assert signal.action == Action.HOLD
    assert not any("Higher timeframe" in reason for reason in signal.reasons)


def test_confirm_series_uses_only_higher_candles_that_had_closed():
    start = datetime(2026, 3, 20, tzinfo=UTC)
    lower = pd.DataFrame({"close": np.ones(12)}, index=pd.date_range(start, periods=12, freq="5min", tz="UTC"))
    # Higher (15-minute) candles: 30 rising ones before the lower frame starts, then a steep fall.
    closes = np.concatenate([np.arange(30.0), 29 - np.arange(1.0, 30.0) * 20])
    higher = pd.DataFrame({"close": closes}, index=pd.date_range(start - timedelta(minutes=15 * 30),
                                                                 periods=len(closes), freq="15min", tz="UTC"))
    trend = higher_trend(higher, {})
    longs = confirm_series(np.ones(12, dtype=np.int8), lower, "5", higher, "15", {})
    shorts = confirm_series(-np.ones(12, dtype=np.int8), lower, "5", higher, "15", {})
    # A 5-minute candle closing at t sees only the 15-minute candles closed by t.
    for row, opened in enumerate(lower.index):
        known = np.count_nonzero(higher.index + timedelta(minutes=15) <= opened + timedelta(minutes=5))
        assert longs[row] == (1 if trend[known - 1] == 1 else 0)
        assert shorts[row] == (-1 if trend[known - 1] == -1 else 0)
    assert longs[:3].tolist() == [1, 1, 1]  # the first falling candle closes at start + 15 min
    assert shorts[-1] == -1


def test_evaluate_turns_any_failure_into_a_strategy_error(btc_1m):
    with pytest.raises(StrategyError, match="unknown strategy type"):
        evaluate("grid", btc_1m.iloc[:100], {})
    with pytest.raises(StrategyError, match="empty"):
        evaluate("scalping", btc_1m.iloc[:0], {})
    with pytest.raises(StrategyError, match="lacks column"):
        evaluate("scalping", btc_1m.iloc[:200].drop(columns=["low"]), {})  # past the warm-up: the hooks run
    with pytest.raises(StrategyError, match="Unknown indicator setting 'rsi_perod'"):
        evaluate("scalping", btc_1m.iloc[:100], {"rsi_perod": 3})


@pytest.mark.parametrize(("interval", "kind", "at_least", "at_most"), [
    ("1", "scalping", 5, 60), ("1", "trend_following", 5, 80),
    ("5", "scalping", 1, 20), ("5", "trend_following", 1, 20),
])
def test_both_strategies_fire_a_few_times_a_day_on_the_bundled_data(interval, kind, at_least, at_most, btc_1m):
    """The embedded demo replays this data: with default settings, trades must come within minutes."""
    frame = resample(btc_1m, interval)
    series = signal_series(kind, frame, {})
    days = len(btc_1m) / 1440
    for direction in (1, -1):
        per_day = np.count_nonzero(series == direction) / days
        assert at_least <= per_day <= at_most, f"{kind} on {interval}m: {per_day:.1f} per day"
