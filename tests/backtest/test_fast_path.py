"""The engine's vectorized resolution (``trades.backtest.fast_path``) against its loop, and when it steps aside.

The loop is reached through ``simulate``'s own door: an AI filter that says "go ahead" to every signal changes no
decision (it skips nothing) but is a per-event hook, so ``simulate`` never resolves such a run in numpy. Which way a
run went shows in its trades: the fast path hands them over as ``LazyTrades`` (columns, built on first read), the
loop as a plain list.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from market.candles import resample
from market.types import InstrumentRules
from tests.backtest.conftest import START
from trades.backtest.engine import ENTERED, HELD, MARGIN, EngineConfig, LazyTrades, Minutes, simulate
from trades.backtest.inputs import CandleCloses, signal_events
from trades.backtest.ledger import replay_ledger
from trades.backtest.perpetual import FundingSchedule
from trades.risk import RiskParams


def go_ahead(event: int) -> str:
    return ""


def market(rng: np.random.Generator, count: int, start_price: float, volatility: float = 0.002) -> pd.DataFrame:
    close = start_price * np.exp(np.cumsum(rng.normal(0, volatility, count)))
    open_ = np.concatenate([[start_price], close[:-1]]) * (1 + rng.normal(0, volatility / 4, count))
    wick = np.abs(rng.normal(0, volatility * 0.7, (2, count)))
    values = np.column_stack([open_, np.maximum(open_, close) * (1 + wick[0]), np.minimum(open_, close) * (1 - wick[1]),
                              close, np.ones(count)])
    index = pd.date_range(START, periods=count, freq="1min", name="start")
    return pd.DataFrame(np.round(values, 4), index=index, columns=["open", "high", "low", "close", "volume"])


def random_run(seed: int):
    """A random market, random signals (repeats of a side included) on 1- or 5-minute candles, random costs."""
    rng = np.random.default_rng(seed)
    frame = market(rng, int(rng.integers(200, 1500)), float(rng.choice([0.5, 30.0, 27_000.0])))
    interval = str(rng.choice(["1", "5"]))
    signal_frame = frame if interval == "1" else resample(frame, interval)
    actions = rng.choice(np.array([-1, 0, 1], dtype=np.int8), len(signal_frame), p=[0.2, 0.6, 0.2])
    minutes = Minutes.from_frame(frame)
    trade_from = int(rng.integers(0, 40))
    events = signal_events(signal_frame, actions, interval, minutes.start, trade_from)
    tick = Decimal(str(rng.choice(["0.01", "0.5", "0.0001", "0.001"])))
    rules = InstrumentRules("TESTUSDT", tick_size=tick, qty_step=Decimal("0.001"), min_qty=Decimal("0.001"),
                            max_qty=Decimal("1000000"))
    config = EngineConfig(rules=rules, risk=RiskParams(Decimal("1"), Decimal("1"), Decimal("2"),
                                                       leverage=Decimal(int(rng.integers(1, 4)))),
                          initial_balance=Decimal("1000000000"), fee_rate=Decimal(str(rng.choice(["0", "0.00055",
                                                                                                    "0.001"]))),
                          slippage_bps=Decimal(str(rng.choice(["0", "3", "12.5"]))),
                          max_notional=Decimal("1e12"), fixed_qty=Decimal(str(rng.choice(["1", "0.37", "5"]))),
                          protective_stops=False, reverse=bool(rng.integers(0, 2)))
    return minutes, events, config, trade_from


def assert_same(fast, loop) -> None:
    assert list(fast.trades) == loop.trades
    assert fast.open_trade == loop.open_trade
    assert np.array_equal(fast.equity, loop.equity)
    assert np.array_equal(fast.exposure, loop.exposure)
    assert fast.outcomes == loop.outcomes
    assert fast.details == loop.details
    assert fast.final_equity == loop.final_equity
    assert fast.fees_paid == loop.fees_paid
    assert fast.trade_from == loop.trade_from


@pytest.mark.parametrize("seed", range(60))
def test_the_fast_path_gives_the_loops_result_exactly(seed):
    minutes, events, config, trade_from = random_run(seed)
    fast = simulate(minutes, events, config, trade_from=trade_from)
    loop = simulate(minutes, events, config, trade_from=trade_from, ai_filter=go_ahead)
    assert isinstance(loop.trades, list)
    # The loop's own record says whether a trade had to be watched for liquidation (its liq_price) or an entry was
    # refused: exactly then, and only then, the run is the loop's.
    watched = any(trade.liq_price is not None for trade in [*loop.trades, loop.open_trade] if trade is not None)
    assert isinstance(fast.trades, list if watched or MARGIN in loop.outcomes else LazyTrades)
    assert_same(fast, loop)


def test_the_random_runs_cover_both_rules_both_sides_and_held_signals():
    seen = set()
    for seed in range(60):
        minutes, events, config, trade_from = random_run(seed)
        result = simulate(minutes, events, config, trade_from=trade_from)
        seen.add(("vectorized", isinstance(result.trades, LazyTrades)))
        seen.add(("reverse", config.reverse))
        seen.update(("side", trade.side) for trade in result.trades)
        seen.update(("outcome", outcome) for outcome in result.outcomes)
    assert {("vectorized", True), ("vectorized", False), ("reverse", True), ("reverse", False), ("side", "Buy"),
            ("side", "Sell"), ("outcome", ENTERED), ("outcome", HELD)} <= seen


def test_a_margin_refusal_hands_the_run_to_the_loop():
    """A balance that pays for the first entries but not after the losses: the loop decides what follows a refusal
    (flat, the next signal of either side enters)."""
    rng = np.random.default_rng(7)
    frame = market(rng, 1200, 100.0, volatility=0.004)
    minutes = Minutes.from_frame(frame)
    actions = rng.choice(np.array([-1, 0, 1], dtype=np.int8), len(frame), p=[0.1, 0.8, 0.1])
    events = signal_events(frame, actions, "1", minutes.start)
    config = EngineConfig(rules=RULES_CENT, risk=RiskParams(Decimal("1"), Decimal("1"), Decimal("2")),
                          initial_balance=Decimal("101"), fee_rate=Decimal("0.001"), slippage_bps=Decimal("0"),
                          fixed_qty=Decimal("1"), protective_stops=False, reverse=True)
    result = simulate(minutes, events, config)
    assert MARGIN in result.outcomes and isinstance(result.trades, list)
    assert_same(result, simulate(minutes, events, config, ai_filter=go_ahead))
    # With room to spare, the same run is vectorized and still the loop's.
    roomy = replace(config, initial_balance=Decimal("1000"))
    fast = simulate(minutes, events, roomy)
    assert isinstance(fast.trades, LazyTrades) and MARGIN not in fast.outcomes
    assert_same(fast, simulate(minutes, events, roomy, ai_filter=go_ahead))


def test_a_reachable_liquidation_hands_the_run_to_the_loop():
    rng = np.random.default_rng(11)
    frame = market(rng, 1500, 100.0, volatility=0.004)
    minutes = Minutes.from_frame(frame)
    actions = rng.choice(np.array([-1, 0, 1], dtype=np.int8), len(frame), p=[0.01, 0.98, 0.01])
    events = signal_events(frame, actions, "1", minutes.start)
    config = EngineConfig(rules=RULES_CENT, risk=RiskParams(Decimal("1"), Decimal("1"), Decimal("2"),
                                                            leverage=Decimal("50")),
                          initial_balance=Decimal("100000"), fee_rate=Decimal("0.001"), slippage_bps=Decimal("0"),
                          fixed_qty=Decimal("1"), protective_stops=False, reverse=True)
    result = simulate(minutes, events, config)
    assert isinstance(result.trades, list)
    assert "liquidation" in {trade.exit_reason for trade in result.trades}
    assert_same(result, simulate(minutes, events, config, ai_filter=go_ahead))
    # Without liquidation simulated, nothing is left to decide per trade.
    unwatched = replace(config, liquidation=False)
    fast = simulate(minutes, events, unwatched)
    assert isinstance(fast.trades, LazyTrades)
    assert_same(fast, simulate(minutes, events, unwatched, ai_filter=go_ahead))


RULES_CENT = InstrumentRules("TESTUSDT", tick_size=Decimal("0.01"), qty_step=Decimal("0.001"),
                             min_qty=Decimal("0.001"), max_qty=Decimal("1000000"))


def eligible_run():
    rng = np.random.default_rng(3)
    frame = market(rng, 600, 100.0)
    minutes = Minutes.from_frame(frame)
    actions = rng.choice(np.array([-1, 0, 1], dtype=np.int8), len(frame), p=[0.05, 0.9, 0.05])
    events = signal_events(frame, actions, "1", minutes.start)
    config = EngineConfig(rules=RULES_CENT, risk=RiskParams(Decimal("1"), Decimal("1"), Decimal("2")),
                          initial_balance=Decimal("100000"), fee_rate=Decimal("0.001"), slippage_bps=Decimal("0"),
                          fixed_qty=Decimal("1"), protective_stops=False, reverse=True)
    return frame, minutes, events, config


def test_an_eligible_run_is_vectorized():
    _, minutes, events, config = eligible_run()
    assert isinstance(simulate(minutes, events, config).trades, LazyTrades)


@pytest.mark.parametrize("change", ["stops", "sized by risk", "daily loss limit", "funding", "time exit",
                                    "ai filter", "exit signals"])
def test_each_precondition_that_fails_hands_the_run_to_the_loop(change):
    frame, minutes, events, config = eligible_run()
    hooks = {}
    if change == "stops":
        config = replace(config, protective_stops=True)
    elif change == "sized by risk":
        config = replace(config, fixed_qty=None)
    elif change == "daily loss limit":
        config = replace(config, daily_loss_limit=Decimal("3"))
    elif change == "funding":
        config = replace(config, funding=FundingSchedule.build(minutes.start, {}))
    elif change == "time exit":
        config = replace(config, risk=replace(config.risk, exit_after_candles=30))
    elif change == "ai filter":
        hooks["ai_filter"] = go_ahead
    else:
        rows = len(frame)
        flags = np.zeros(rows, dtype=bool)
        flags[::50] = True
        hooks["closes"] = CandleCloses(
            minute=np.arange(1, rows + 1, dtype=np.int64), close_time=minutes.start + 60_000_000_000,
            close=frame["close"].to_numpy(), exit_long=flags, exit_short=flags, tags=np.full(rows, "", dtype=object),
            strategy=None)
    result = simulate(minutes, events, config, **hooks)
    assert isinstance(result.trades, list)
    assert result.trades or result.open_trade is not None


def test_lazy_trades_are_built_once_on_first_read_and_behave_like_a_list():
    _, minutes, events, config = eligible_run()
    result = simulate(minutes, events, config)
    trades = result.trades
    count = len(trades)
    assert count > 3
    first = trades[0]
    assert trades[0] is first, "built once: the same objects on every read"
    assert list(trades) == trades + [] == [] + trades
    assert trades[-1].exit_bar == trades.materialized()[-1].exit_bar and len(trades) == count
    assert trades == simulate(minutes, events, config, ai_filter=go_ahead).trades


def test_the_stored_reports_decimal_ledger_is_the_same_either_way():
    _, minutes, events, config = eligible_run()
    config = replace(config, slippage_bps=Decimal("2"))
    fast = replay_ledger(simulate(minutes, events, config), minutes, config)
    loop = replay_ledger(simulate(minutes, events, config, ai_filter=go_ahead), minutes, config)
    assert len(fast.trades) > 3
    assert (fast.trades, fast.open_trade, fast.final_equity, fast.fees_paid) == (
        loop.trades, loop.open_trade, loop.final_equity, loop.fees_paid)


def test_lazy_trades_pickle_as_the_list_they_build():
    _, minutes, events, config = eligible_run()
    trades = simulate(minutes, events, config).trades
    assert pickle.loads(pickle.dumps(trades)) == list(trades)
