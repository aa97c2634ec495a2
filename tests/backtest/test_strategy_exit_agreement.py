"""A strategy's own exits agree live and in the backtest: exit signals, ``custom_exit`` and ``custom_stoploss``.

The live side is the real cycle against the paper exchange on the bundled replay, once a replayed minute, with
reconciliation before each cycle as the Celery task does; the backtest then runs the same class over the same
minutes. Every entry and every exit (minute, price, and why) must be the same. The classes are files in a
strategies folder, as a trader's would be.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from exchange.models import PaperFill
from exchange.paper import PaperExchange
from exchange.replay import ReplayMarketData
from strategies import catalogue
from tests.helpers import SetClock
from trades.backtest.inputs import StrategySpec
from trades.backtest.runner import RunSettings, execute
from trades.cycle import TradingCycle
from trades.models import Decision, Trade, TradeStatus
from trades.reconcile import reconcile

REPLAY_START = datetime(2026, 4, 1, 12, 9, tzinfo=UTC)  # the bundled data's start plus the replay's warm-up
CYCLES = 90

FLIPPER = '''
from strategies.sdk import IStrategy
from strategies.sdk.indicators import crossed_above, crossed_below, ema


class Flipper(IStrategy):
    """Long when the close crosses above its 5-minute EMA; out when it crosses back below."""

    timeframe = "1"
    startup_candle_count = 30
    can_short = False
    stoploss = -0.05
    take_profit = None

    def populate_indicators(self, frame, metadata):
        frame["average"] = ema(frame["close"], 5)
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame.loc[crossed_above(frame["close"], frame["average"]), ["enter_long", "enter_tag"]] = (True, "above")
        return frame

    def populate_exit_trend(self, frame, metadata):
        frame.loc[crossed_below(frame["close"], frame["average"]), ["exit_long", "exit_tag"]] = (True, "back below")
        return frame
'''

TIGHTENER = '''
from strategies.sdk import IStrategy
from strategies.sdk.indicators import crossed_above, ema


class Tightener(IStrategy):
    """Long on the EMA cross; the stop follows 0.05 % under each close; out once 0.1 % up."""

    timeframe = "1"
    startup_candle_count = 30
    can_short = False
    stoploss = -0.05
    take_profit = None

    def populate_indicators(self, frame, metadata):
        frame["average"] = ema(frame["close"], 5)
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame.loc[crossed_above(frame["close"], frame["average"]), "enter_long"] = True
        return frame

    def custom_stoploss(self, trade, current_time, current_rate, current_profit, **kwargs):
        return -0.0005

    def custom_exit(self, trade, current_time, current_rate, current_profit, **kwargs):
        assert trade["pair"] == "ETHUSDT" and not trade["is_short"] and current_time.tzinfo is not None
        return "banked 0.1 %" if current_profit >= 0.001 else None
'''

RAISER = TIGHTENER.replace("class Tightener", "class Raiser").replace(
    'return "banked 0.1 %" if current_profit >= 0.001 else None', 'return trade["no such fact"]')


@pytest.fixture
def folder(tmp_path, settings):
    settings.STRATEGY_DIRS = [tmp_path]
    (tmp_path / "flipper.py").write_text(FLIPPER)
    (tmp_path / "tightener.py").write_text(TIGHTENER)
    (tmp_path / "raiser.py").write_text(RAISER)
    catalogue.refresh()
    yield
    catalogue.refresh()


def run_live(make_strategy, key: str, account: str):
    clock = SetClock()
    anchor = clock.now
    exchange = PaperExchange(ReplayMarketData(settings.CANDLE_DATA_DIR, anchor=anchor, now=clock), account=account,
                             initial_balance=Decimal("10000"), fee_rate=Decimal("0.00055"), slippage_bps=Decimal("2"))
    strategy = make_strategy(name=account, type=key, symbols=["ETHUSDT"], timeframe="1", risk_percentage=Decimal("1"),
                             stop_loss_percentage=Decimal("5"), take_profit_percentage=Decimal("10"), max_positions=1)
    cycle = TradingCycle(exchange=exchange, sleep=lambda seconds: None, max_notional=settings.MAX_ORDER_NOTIONAL,
                         max_workers=2)
    for minute in range(2, CYCLES + 2):  # half a minute into each replayed minute
        clock.now = anchor + timedelta(minutes=minute, seconds=30)
        reconcile(exchange)
        cycle.run([strategy])
    return strategy, backtest(strategy) if key != "Raiser" else None


def backtest(strategy):
    first_fill = REPLAY_START + timedelta(minutes=2)
    return execute(StrategySpec.from_strategy(strategy),
                   RunSettings("ETHUSDT", first_fill, first_fill + timedelta(minutes=CYCLES)))


def closed_live(strategy):
    return list(Trade.objects.filter(strategy=strategy, status=TradeStatus.CLOSED).order_by("candle_time"))


def closed_at_minute(trade) -> datetime:
    """The replayed minute the cycle closed ``trade`` in: the close of the candle whose decision says so."""
    decision = Decision.objects.get(strategy=trade.strategy, detail__startswith=f"closed trade {trade.pk} ")
    return decision.candle_time + timedelta(minutes=1)


def test_exit_signals_close_at_the_same_minute_and_price_live_and_in_the_backtest(folder, transactional_db,
                                                                                  make_strategy):
    strategy, outcome = run_live(make_strategy, "Flipper", "flipper-live")
    live = closed_live(strategy)
    ledger = outcome.ledger
    assert len(live) >= 3, "the window should hold several round trips"
    assert [(t.candle_time, t.quantity, t.price, closed_at_minute(t), t.exit_price) for t in live] == \
        [(b.signal_time, b.qty, b.entry_price, b.exit_time, b.exit_price) for b in ledger.trades]
    assert {b.exit_reason for b in ledger.trades} == {"exit_signal"}
    assert {b.exit_tag for b in ledger.trades} == {"back below"}
    assert all(t.status_reason == "exit signal: back below" for t in live)
    closing = Decision.objects.filter(strategy=strategy, detail__contains="closed trade")
    assert closing.count() == len(live)


def test_custom_stoploss_and_custom_exit_act_the_same_live_and_in_the_backtest(folder, transactional_db,
                                                                                make_strategy):
    strategy, outcome = run_live(make_strategy, "Tightener", "tightener-live")
    live = closed_live(strategy)
    ledger = outcome.ledger
    assert len(live) >= 2
    assert [(t.candle_time, t.price, t.exit_price) for t in live] == \
        [(b.signal_time, b.entry_price, b.exit_price) for b in ledger.trades]
    assert {b.exit_reason for b in ledger.trades} == {"custom_exit", "stop_loss"}, "both hooks should close a trade"
    # Closed by custom_exit: by the cycle, at the minute the backtest closes it, with its reason.
    by_hook = [(closed_at_minute(t), t.status_reason) for t in live if t.status_reason.startswith("custom exit")]
    assert by_hook == [(b.exit_time, "custom exit: banked 0.1 %") for b in ledger.trades
                       if b.exit_reason == "custom_exit"]
    # Closed by the stop custom_stoploss moved: by the paper exchange, at the backtest's minute and price.
    stopped = [(f.market_time, f.price) for f in PaperFill.objects.filter(account__name="tightener-live",
                                                                          trigger="stop_loss").order_by("market_time")]
    assert stopped == [(b.exit_time, b.exit_price) for b in ledger.trades if b.exit_reason == "stop_loss"]
    # The stop the exchange holds and the trade's row agree while it was moved (the last moved stop is recorded).
    moved = [t for t in live if t.stop_loss is not None and t.stop_loss > t.price * Decimal("0.99")]
    assert moved, "custom_stoploss should have moved a stop up from the 5 % default"


def test_a_custom_exit_that_raises_holds_the_pair_with_the_error_and_the_trade_keeps_its_stop(
        folder, transactional_db, make_strategy):
    strategy, _ = run_live(make_strategy, "Raiser", "raiser-live")
    trade = Trade.objects.get(strategy=strategy)  # entered once, then held: nothing closes it, no second entry
    assert trade.status == TradeStatus.OPEN and trade.stop_loss == trade.price * Decimal("0.95")
    failed = Decision.objects.filter(strategy=strategy, outcome="failed")
    assert failed.exists()
    assert all("Raiser.custom_exit raised KeyError: 'no such fact' (raiser.py:" in d.detail for d in failed)
    with pytest.raises(ValidationError, match="Raiser.custom_exit raised KeyError"):
        backtest(strategy)
