"""No look-ahead, as a property: whatever happens after minute t, nothing the backtest did up to t changes.

For random markets, strategies and cut points t, the candles after t are replaced by another random
market; the signals of every candle closed by the end of minute t, every fill at or before t (entries,
stops, targets: time, side, size, price), every decision taken by then and the equity of every minute
up to t must all stay exactly the same.
"""

from decimal import Decimal

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.intervals import INTERVAL_MINUTES
from tests.backtest.conftest import RULES, START
from trades.backtest.engine import EngineConfig, Minutes, simulate
from trades.backtest.inputs import StrategySpec, signal_events, strategy_signals
from trades.risk import RiskParams

MINUTES = 420
FAST = {"ema_short": 3, "ema_long": 8, "rsi_period": 5, "macd_fast": 4, "macd_slow": 9, "macd_signal": 3,
        "bb_period": 8, "stoch_k": 5, "atr_period": 5, "rsi_oversold": 40, "rsi_overbought": 60}
SPECS = {
    "trend 1m": StrategySpec(type="trend_following", indicators=FAST, timeframe="1"),
    "scalping 1m": StrategySpec(type="scalping", indicators=FAST, timeframe="1"),
    "trend 5m + 15m": StrategySpec(type="trend_following", indicators=FAST, timeframe="5", confirm_timeframe="15"),
    "scalping 3m": StrategySpec(type="scalping", indicators=FAST, timeframe="3"),
}


def market(seed: int, count: int, start_price: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    close = start_price * np.exp(np.cumsum(rng.normal(0, 0.002, count)))
    open_ = np.concatenate([[start_price], close[:-1]]) * (1 + rng.normal(0, 0.0005, count))
    wick = np.abs(rng.normal(0, 0.0015, (2, count)))
    return np.round(np.column_stack([open_, np.maximum(open_, close) * (1 + wick[0]),
                                     np.minimum(open_, close) * (1 - wick[1]), close, np.ones(count)]), 2)


def run(values: np.ndarray, spec: StrategySpec, config: EngineConfig):
    index = pd.date_range(START, periods=len(values), freq="1min", name="start")
    frame = pd.DataFrame(values, index=index, columns=["open", "high", "low", "close", "volume"])
    signals = strategy_signals(spec, frame)
    minutes = Minutes.from_frame(frame)
    events = signal_events(signals.frame, signals.actions, spec.timeframe, minutes.start)
    return signals, events, simulate(minutes, events, config)


def fills_until(result, cut: int) -> list[tuple]:
    trades = result.trades + ([result.open_trade] if result.open_trade else [])
    fills = [("entry", t.entry_bar, t.side, t.qty, t.entry_price, t.stop_loss, t.take_profit)
             for t in trades if t.entry_bar <= cut]
    fills += [("exit", t.exit_bar, t.side, t.qty, t.exit_price, t.exit_reason)
              for t in trades if 0 <= t.exit_bar <= cut]
    return sorted(fills, key=repr)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), other=st.integers(0, 2**31), cut=st.integers(40, MINUTES - 2),
       name=st.sampled_from(sorted(SPECS)), stop=st.sampled_from(["0.2", "0.5", "1"]))
def test_changing_any_candle_after_t_changes_no_signal_fill_decision_or_equity_up_to_t(seed, other, cut, name, stop):
    spec = SPECS[name]
    config = EngineConfig(rules=RULES, risk=RiskParams(Decimal("2"), Decimal(stop), Decimal(stop) * 2),
                          initial_balance=Decimal("10000"), fee_rate=Decimal("0.00055"), slippage_bps=Decimal("2"))
    original = market(seed, MINUTES, 100.0)
    changed = original.copy()
    changed[cut + 1:] = market(other, MINUTES - cut - 1, float(original[cut, 3]) * 1.05)
    signals_a, events_a, result_a = run(original, spec, config)
    signals_b, events_b, result_b = run(changed, spec, config)

    # Signals of every candle closed by the end of minute t.
    known_by = START + pd.Timedelta(minutes=cut + 1)
    closes = signals_a.frame.index + pd.Timedelta(minutes=INTERVAL_MINUTES[spec.timeframe])
    closed = int(np.searchsorted(closes, known_by, side="right"))
    assert np.array_equal(signals_a.actions[:closed], signals_b.actions[:closed])
    # Every fill at or before t, and every decision whose window ended by t.
    assert fills_until(result_a, cut) == fills_until(result_b, cut)
    decided = [i for i in range(len(events_a)) if events_a.end[i] - 1 <= cut]
    assert [result_a.outcomes[i] for i in decided] == [result_b.outcomes[i] for i in decided]
    # The equity of every minute up to t, to the last bit.
    assert np.array_equal(result_a.equity[:cut + 1], result_b.equity[:cut + 1])


def test_the_property_is_not_vacuous_the_markets_trade_and_the_future_changes_the_rest():
    spec = SPECS["trend 1m"]
    config = EngineConfig(rules=RULES, risk=RiskParams(Decimal("2"), Decimal("0.5"), Decimal("1")))
    original = market(7, MINUTES, 100.0)
    changed = original.copy()
    changed[200:] = market(8, MINUTES - 200, float(original[199, 3]) * 1.05)
    _, _, result_a = run(original, spec, config)
    _, _, result_b = run(changed, spec, config)
    assert len(result_a.trades) >= 5
    assert not np.array_equal(result_a.equity, result_b.equity)
    assert np.array_equal(result_a.equity[:200], result_b.equity[:200])
