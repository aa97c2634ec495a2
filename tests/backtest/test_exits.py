"""Trailing stop, time exit and partial take-profits: hand-computed fills, the same in the backtest and on paper.

Each test walks one long entry of 0.01 BTCUSDT (tick 0.1, lot 0.001) through a short hand-made minute path, twice:
through the backtest engine (and its Decimal ledger), and through the paper exchange with the live code on top of
it (``trades.execution.execute_entry`` protects the trade, the cycle's ``close_timed_out`` runs each minute,
``reconcile`` follows the exchange). The numbers in the tests are worked out by hand, fees included:

- entry: the 60000 open, 2 bps slippage -> 60012.0; fee 0.01 x 60012.0 x 0.055% = 0.330066;
- stop-loss 1% -> 59411.88 -> 59411.9 on the tick; take-profit 2% -> 61212.24 -> 61212.2;
- every close is a market sell from its trigger price, 2 bps down, rounded down to the tick.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from exchange.models import PaperClosedPnl, PaperFill
from exchange.paper import PaperExchange
from market.instruments import BUNDLED_RULES
from tests.backtest.conftest import events_for, minute_frame
from tests.exchange.market import ManualMarket
from trades.backtest.engine import EngineConfig, simulate
from trades.backtest.ledger import replay_ledger
from trades.cycle import close_timed_out
from trades.execution import execute_entry
from trades.models import Trade, TradeStatus
from trades.reconcile import reconcile
from trades.risk import RiskParams

D = Decimal
SYMBOL = "BTCUSDT"
RULES = BUNDLED_RULES[SYMBOL]
ENTRY_MINUTE = datetime(2026, 4, 1, 12, 5, tzinfo=UTC)
ENTRY_FEE = D("0.330066")


def backtest(path, strategy):
    """The engine over a signal candle (the minute before the entry) and ``path``: (kind, qty, price, fee) of every
    close, and the trade's PnL."""
    first_open = path[0][0]
    frame = minute_frame([(first_open,) * 4, *path], start=pd.Timestamp(ENTRY_MINUTE - timedelta(minutes=1)))
    minutes, events = events_for(frame, {0: 1})
    config = EngineConfig(rules=RULES, risk=RiskParams.from_strategy(strategy), initial_balance=D("10000"),
                          fee_rate=D("0.00055"), slippage_bps=D("2"), fixed_qty=D("0.01"))
    ledger = replay_ledger(simulate(minutes, events, config), minutes, config)
    [trade] = ledger.trades
    assert (trade.entry_price, trade.entry_fee) == (D("60012.0"), ENTRY_FEE)
    closes = [(part.reason, part.qty, part.price, part.fee) for part in trade.parts]
    final_qty = trade.qty - sum((part.qty for part in trade.parts), D("0"))
    closes.append((trade.exit_reason, final_qty, trade.exit_price, trade.exit_fee - sum(p.fee for p in trade.parts)))
    return closes, trade.pnl, ledger.cash


def on_paper(path, strategy, *, each_minute=lambda exchange, trade: None):
    """The same entry on the paper exchange, the live code protecting it; ``path`` is fed a candle a minute, the
    cycle's time exit and the reconciler running at half past each minute (as the Celery beat does)."""
    market = ManualMarket({SYMBOL: str(path[0][0])}, start=ENTRY_MINUTE + timedelta(seconds=30))
    account = f"exits-{strategy.pk}"
    paper = PaperExchange(market, account=account, initial_balance=D("10000"), fee_rate=D("0.00055"),
                          slippage_bps=D("2"))
    signal_time = ENTRY_MINUTE - timedelta(minutes=int(strategy.timeframe))
    trade = Trade.objects.create(strategy=strategy, symbol=SYMBOL, side="Buy", quantity=D("0.01"),
                                 order_link_id=f"tb-exits-{strategy.pk}", status=TradeStatus.PENDING,
                                 candle_time=signal_time)
    result = execute_entry(trade, exchange=paper, params=RiskParams.from_strategy(strategy), rules=RULES,
                           sleep=lambda _: None)
    assert result.outcome == "open"
    for open_, high, low, close in path:
        assert market.prices[SYMBOL] == D(str(open_))  # the minute opens where the last one closed
        close_timed_out(paper, market.now(), [strategy], sleep=lambda _: None)
        reconcile(paper, now=market.now())
        trade.refresh_from_db()
        if trade.status != TradeStatus.OPEN:
            break
        each_minute(paper, trade)
        market.candle(SYMBOL, high=high, low=low, close=close)
    reconcile(paper, now=market.now())
    trade.refresh_from_db()
    # In the order they happened (a close is stamped with its candle's start, which may precede the entry's second).
    rows = PaperFill.objects.filter(account__name=account).order_by("id")
    entry, *exits = rows
    assert (entry.price, entry.fee) == (D("60012.0"), ENTRY_FEE)
    closes = [(fill.trigger or "time_exit", fill.qty, fill.price, fill.fee) for fill in exits]
    pnl = sum((row.realized_pnl for row in PaperClosedPnl.objects.filter(account__name=account)), D("0"))
    return closes, pnl, paper.get_balance().wallet_balance, trade


@pytest.fixture
def strategy(make_strategy):
    def make(**exits):
        return make_strategy(timeframe="1", stop_loss_percentage=D("1"), take_profit_percentage=D("2"), **exits)

    return make


def test_a_trailing_stop_follows_the_best_price_once_activated_and_closes_where_it_trailed_to(strategy):
    # Trailing 0.5% of 60012.0 = 300.06 -> 300.1; activation at +0.5%: 60312.06 -> 60312.1.
    chosen = strategy(trailing_stop_percentage=D("0.5"), trailing_activation_percentage=D("0.5"))
    path = [(60000, 60200, 59900, 60100),  # below the activation: the stop stays at 59411.9
            (60100, 60500, 60050, 60400),  # 60500 activates it: 60500 - 300.1 = 60199.9
            (60400, 60900, 60300, 60800),  # 60900 - 300.1 = 60599.9 (the low 60300 stays above the old stop)
            (60800, 60850, 60500, 60550)]  # the low 60500 reaches 60599.9: a trailing stop there
    # 60599.9 x (1 - 0.0002) = 60587.78 -> 60587.7; fee 0.01 x 60587.7 x 0.055% = 0.33323235
    expected = [("trailing_stop", D("0.01"), D("60587.7"), D("0.33323235"))]
    pnl = (D("60587.7") - D("60012.0")) * D("0.01") - ENTRY_FEE - D("0.33323235")
    assert pnl == D("5.09370165")

    stops = []
    closes, engine_pnl, engine_cash = backtest(path, chosen)
    paper_closes, paper_pnl, paper_cash, trade = on_paper(
        path, chosen, each_minute=lambda exchange, trade: stops.append(trade.stop_loss))
    assert closes == paper_closes == expected
    assert engine_pnl == paper_pnl == trade.realized_pnl == pnl
    assert engine_cash == paper_cash == D("10000") + pnl
    # What the trade said its stop was at each minute's cycle (the reconciler follows the exchange's trail).
    assert stops == [D("59411.9"), D("59411.9"), D("60199.9"), D("60599.9")]


def test_a_trailing_stop_without_activation_trails_from_the_entry(strategy):
    chosen = strategy(trailing_stop_percentage=D("0.5"))
    # Armed at the 60000 open: 60000 - 300.1 = 59699.9, above the 59411.9 stop-loss.
    path = [(60000, 60100, 59800, 60050),  # the low 59800 holds; 60100 - 300.1 = 59799.9
            (60050, 60060, 59700, 59750)]  # the low 59700 reaches 59799.9
    # 59799.9 x 0.9998 = 59787.94 -> 59787.9; fee 0.01 x 59787.9 x 0.055% = 0.32883345
    expected = [("trailing_stop", D("0.01"), D("59787.9"), D("0.32883345"))]
    pnl = (D("59787.9") - D("60012.0")) * D("0.01") - ENTRY_FEE - D("0.32883345")
    closes, engine_pnl, _ = backtest(path, chosen)
    paper_closes, paper_pnl, _, _ = on_paper(path, chosen)
    assert closes == paper_closes == expected
    assert engine_pnl == paper_pnl == pnl == D("-2.89989945")


def test_a_time_exit_closes_at_the_open_of_the_nth_candle_after_the_entry(make_strategy):
    # 5-minute candles, 2 of them: entered in the 12:05 candle, so closed at 12:15's open, not 12:14's or 12:16's.
    chosen = make_strategy(timeframe="5", stop_loss_percentage=D("1"), take_profit_percentage=D("2"),
                           exit_after_candles=2)
    path = [(60000 + 30 * k, 60000 + 30 * (k + 1) + 20, 60000 + 30 * k - 20, 60000 + 30 * (k + 1)) for k in range(10)]
    path += [(60300, 60320, 60280, 60300), (60300, 60310, 60290, 60300)]  # 12:15 and 12:16
    # 60300 x 0.9998 = 60287.94 -> 60287.9; fee 0.01 x 60287.9 x 0.055% = 0.33158345
    expected = [("time_exit", D("0.01"), D("60287.9"), D("0.33158345"))]
    pnl = (D("60287.9") - D("60012.0")) * D("0.01") - ENTRY_FEE - D("0.33158345")
    closes, engine_pnl, engine_cash = backtest(path, chosen)
    paper_closes, paper_pnl, paper_cash, trade = on_paper(path, chosen)
    assert closes == paper_closes == expected
    assert engine_pnl == paper_pnl == trade.realized_pnl == pnl == D("2.09735055")
    assert engine_cash == paper_cash
    assert trade.status_reason == "time exit after 2 candles"
    assert PaperFill.objects.filter(order__order_link_id=trade.exit_order_link_id).get().market_time == \
        datetime(2026, 4, 1, 12, 15, 30, tzinfo=UTC)


def test_partial_take_profits_fill_their_shares_at_their_prices_and_the_stop_takes_the_rest(strategy):
    # 0.5% -> 60312.06 -> 60312.1 for 0.005; 1% -> 60612.12 -> 60612.1 for 0.003; 0.002 left on the stop.
    chosen = strategy(take_profit_targets=[{"percent": "0.5", "share": "0.5"}, {"percent": "1", "share": "0.3"}])
    path = [(60000, 60350, 59950, 60300),  # the first target
            (60300, 60700, 60250, 60650),  # the second
            (60650, 60660, 59300, 59400)]  # the stop-loss, 59411.9, for the rest (no take-profit: targets replace it)
    expected = [("partial_take_profit", D("0.005"), D("60300.0"), D("0.165825")),  # 60312.1 x 0.9998 -> 60300.0
                ("partial_take_profit", D("0.003"), D("60599.9"), D("0.09998984")),  # 60612.1 x 0.9998 -> 60599.9
                ("stop_loss", D("0.002"), D("59400.0"), D("0.06534"))]  # 59411.9 x 0.9998 -> 59400.0
    # Each part net of its share of the opening fee: 0.165033, then 0.0990198, then 0.0660132.
    parts = [D("1.44") - D("0.165033") - D("0.165825"), D("1.7637") - D("0.0990198") - D("0.09998984"),
             D("-1.224") - D("0.0660132") - D("0.06534")]
    closes, engine_pnl, engine_cash = backtest(path, chosen)
    paper_closes, paper_pnl, paper_cash, trade = on_paper(path, chosen)
    assert closes == paper_closes == expected
    assert engine_pnl == paper_pnl == trade.realized_pnl == sum(parts) == D("1.31847916")
    assert engine_cash == paper_cash == D("10000") + sum(parts)
    assert trade.status == TradeStatus.CLOSED


def test_a_stored_run_keeps_its_exit_settings(make_strategy):
    from trades.backtest.inputs import StrategySpec

    chosen = make_strategy(timeframe="15", trailing_stop_percentage=D("0.5"), trailing_activation_percentage=D("0"),
                           exit_after_candles=4, take_profit_targets=[{"percent": 1, "share": 0.5}])
    spec = StrategySpec.from_strategy(chosen)
    again = StrategySpec.from_parameters(spec.as_parameters())
    exit_fields = ("trailing_stop_percentage", "trailing_activation_percentage", "exit_after_candles",
                   "candle_minutes", "take_profit_targets")
    assert [getattr(again.risk, name) for name in exit_fields] == [getattr(spec.risk, name) for name in exit_fields]
    assert (again.risk.candle_minutes, again.risk.exit_after_candles) == (15, 4)
    assert again.risk.take_profit_targets == ((D("1"), D("0.5")),)
