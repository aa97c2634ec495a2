"""The cycle on the paper exchange over the bundled real candles (the embedded default)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from exchange.paper import PaperExchange
from exchange.replay import ReplayMarketData
from tests.helpers import SetClock
from trades.models import Decision, Trade, TradeStatus
from trades.reconcile import reconcile


@pytest.fixture
def replay(transactional_db):
    """Replay starts at 2026-04-01 12:09 (the bundled data's start plus nine days of warm-up)."""
    clock = SetClock()
    anchor = clock.now
    market = ReplayMarketData(settings.CANDLE_DATA_DIR, anchor=anchor, now=clock)
    exchange = PaperExchange(market, initial_balance=Decimal("10000"))
    clock.set_replay = lambda minutes: setattr(clock, "now", anchor + timedelta(minutes=minutes))
    return exchange, clock


def test_signals_use_the_last_closed_candle_never_the_forming_one(replay, make_cycle, make_strategy):
    exchange, clock = replay
    clock.set_replay(2.5)  # replay 12:11:30: the 12:11 candle is still forming
    strategy = make_strategy(type="scalping", symbols=["BTCUSDT", "ETHUSDT"], timeframe="1")
    make_cycle(exchange).run([strategy])

    decisions = Decision.objects.filter(strategy=strategy)
    assert decisions.count() == 2
    assert {d.candle_time.strftime("%m-%d %H:%M") for d in decisions} == {"04-01 12:10"}
    assert all(d.reasons for d in decisions)


def test_a_trend_entry_on_replayed_sol_opens_then_its_exit_is_recorded(replay, make_cycle, make_strategy):
    exchange, clock = replay
    clock.set_replay(2.5)  # SOL's 12:10 candle closes with an EMA 9/21 cross up (a LONG for trend following)
    strategy = make_strategy(type="trend_following", symbols=["SOLUSDT"], timeframe="1",
                             stop_loss_percentage=Decimal("0.3"), take_profit_percentage=Decimal("0.3"))
    report = make_cycle(exchange).run([strategy])

    trade = Trade.objects.get()
    assert report.orders == 1 and trade.status == TradeStatus.OPEN
    assert trade.candle_time.strftime("%H:%M") == "12:10"
    position = exchange.get_positions("SOLUSDT")[0]
    assert (position.size, position.stop_loss, position.take_profit) == (trade.quantity, trade.stop_loss,
                                                                         trade.take_profit)
    balance = exchange.get_balance()
    assert balance.equity == balance.wallet_balance + balance.unrealized_pnl

    for minutes in range(3, 24 * 60):  # let replayed time run until the stop or the target is hit
        clock.set_replay(minutes + 0.5)
        if reconcile(exchange).closed:
            break
    trade.refresh_from_db()
    assert trade.status == TradeStatus.CLOSED
    assert trade.status_reason in ("stop-loss hit", "take-profit hit")
    level = trade.stop_loss if trade.status_reason == "stop-loss hit" else trade.take_profit
    assert abs(trade.exit_price - level) <= level * Decimal("0.002")  # at the level, give or take slippage
    direction = 1 if trade.side == "Buy" else -1
    gross = direction * (trade.exit_price - trade.price) * trade.quantity
    assert abs(trade.realized_pnl - (gross - trade.fees)) < Decimal("0.01")
    assert exchange.get_balance().wallet_balance == Decimal("10000") + trade.realized_pnl

