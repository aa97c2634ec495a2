"""Live and backtest agree: replaying the candles a live paper cycle saw gives the decisions it made.

The live side is the real thing: ``trades.cycle.TradingCycle`` against the paper exchange on the bundled
replay, run once a replayed minute for 75 minutes, with reconciliation before each cycle as the Celery
task does. The backtest then runs the same strategy over the same minutes. Every candle's signal, every
entry (candle, side, size, fill price, stop-loss, take-profit), every skip ("already held"), and every
exit the paper exchange filled (minute, trigger, price) must be the same.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from django.conf import settings

from exchange.models import PaperFill
from exchange.paper import PaperExchange
from exchange.replay import ReplayMarketData
from tests.helpers import SetClock
from trades.backtest.inputs import StrategySpec
from trades.backtest.runner import RunSettings, execute
from trades.cycle import TradingCycle
from trades.models import Decision, DecisionOutcome, Trade
from trades.reconcile import reconcile

REPLAY_START = datetime(2026, 4, 1, 12, 9, tzinfo=UTC)  # the bundled data's start plus the replay's warm-up
CYCLES = 75


@pytest.fixture
def live_run(transactional_db, make_strategy):
    clock = SetClock()
    anchor = clock.now
    exchange = PaperExchange(ReplayMarketData(settings.CANDLE_DATA_DIR, anchor=anchor, now=clock),
                             account="live-vs-backtest", initial_balance=Decimal("10000"),
                             fee_rate=Decimal("0.00055"), slippage_bps=Decimal("2"))
    strategy = make_strategy(name="live-vs-backtest", type="trend_following", symbols=["ETHUSDT"], timeframe="1",
                             risk_percentage=Decimal("1"), stop_loss_percentage=Decimal("0.2"),
                             take_profit_percentage=Decimal("0.2"), max_positions=1)
    cycle = TradingCycle(exchange=exchange, sleep=lambda seconds: None, max_notional=settings.MAX_ORDER_NOTIONAL,
                         max_workers=2)
    for minute in range(2, CYCLES + 2):  # replay 12:11:30, 12:12:30, ...: half a minute into each minute
        clock.now = anchor + timedelta(minutes=minute, seconds=30)
        reconcile(exchange)
        cycle.run([strategy])
    return strategy


def test_replaying_the_candles_the_live_cycle_saw_gives_the_same_decisions_and_fills(live_run):
    strategy = live_run
    first_fill = REPLAY_START + timedelta(minutes=2)
    outcome = execute(StrategySpec.from_strategy(strategy),
                      RunSettings("ETHUSDT", first_fill, first_fill + timedelta(minutes=CYCLES)))

    # Every candle the cycle looked at: the same signal; entries and skips where the backtest has them.
    decisions = {d.candle_time: d for d in Decision.objects.filter(strategy=strategy)}
    assert len(decisions) == CYCLES
    signals = outcome.prepared.signals
    actions = dict(zip(signals.frame.index, signals.actions.tolist(), strict=True))
    events = outcome.prepared.events
    event_outcomes = dict(zip(pd.to_datetime(events.candle_time, utc=True), outcome.result.outcomes, strict=True))
    expected = {DecisionOutcome.ENTERED: "entered", DecisionOutcome.SKIPPED: "held", DecisionOutcome.HOLD: None}
    for candle_time, decision in decisions.items():
        assert decision.action == {1: "LONG", -1: "SHORT", 0: "HOLD"}[actions[pd.Timestamp(candle_time)]], candle_time
        assert event_outcomes.get(pd.Timestamp(candle_time)) == expected[decision.outcome], decision.detail

    # Every entry: the same candle, side, size, fill price and protective prices.
    live_entries = [(t.candle_time, t.side, t.quantity, t.price, t.stop_loss, t.take_profit)
                    for t in Trade.objects.filter(strategy=strategy).order_by("candle_time")]
    ledger = outcome.ledger
    backtest_trades = ledger.trades + ([ledger.open_trade] if ledger.open_trade else [])
    assert live_entries == [(t.signal_time, t.side, t.qty, t.entry_price, t.stop_loss, t.take_profit)
                            for t in backtest_trades]
    assert len(live_entries) == 4 and ledger.open_trade is not None
    assert "held" in outcome.result.outcomes

    # Every exit the paper exchange triggered: the same minute, trigger and price.
    live_exits = [(f.market_time, f.trigger, f.price) for f in
                  PaperFill.objects.filter(account__name="live-vs-backtest").exclude(trigger="").order_by("market_time")]
    assert live_exits == [(t.exit_time, t.exit_reason, t.exit_price) for t in ledger.trades]
    assert {reason for _, reason, _ in live_exits} == {"stop_loss", "take_profit"}
