"""The engine's fills on a short hand-made series, every figure computed by hand (and by the Decimal ledger).

Series (1-minute candles, 1 unit a trade, no slippage, 0.1% fee, SL 1% / TP 2% from the fill price):

bar  open   high   low    close   signal
0    100    100.5   99.5  100     LONG
1    100.5  101    100    100.8           long fills at 100.5; SL 99.50 (99.495 on the tick), TP 102.51
2    100.8  102.6  100.7  102     SHORT   high reaches the TP: out at 102.51
3    102    102.2  101    101.5           short fills at 102 (out inside bar 2: free from bar 3); SL 103.02, TP 99.96
4    101.5  103.5   99.5  100     LONG    both SL and TP inside the candle: the stop wins, out at 103.02
5    100    100.2   99.8  100     SHORT   long fills at 100; SL 99, TP 102
6     98.5   99.2   98    98.8    LONG    opens below the SL: out at the open, 98.5; the SHORT of bar 5 fills at 98.5
7     98.8   99     98    98.5            the LONG of bar 6 is skipped: a short is held
"""

from decimal import Decimal

import pytest

from tests.backtest.conftest import events_for, minute_frame
from trades.backtest.engine import ENTERED, HELD, simulate
from trades.backtest.ledger import replay_ledger

ROWS = [(100, 100.5, 99.5, 100), (100.5, 101, 100, 100.8), (100.8, 102.6, 100.7, 102), (102, 102.2, 101, 101.5),
        (101.5, 103.5, 99.5, 100), (100, 100.2, 99.8, 100), (98.5, 99.2, 98, 98.8), (98.8, 99, 98, 98.5)]
SIGNALS = {0: 1, 2: -1, 4: 1, 5: -1, 6: 1}


@pytest.fixture
def run(config):
    frame = minute_frame(ROWS)
    minutes, events = events_for(frame, SIGNALS)
    result = simulate(minutes, events, config)
    return result, replay_ledger(result, minutes, config)


def test_it_fills_a_signal_at_the_next_candles_open(run):
    result, ledger = run
    first = ledger.trades[0]
    assert (first.side, first.entry_time.minute, first.entry_price) == ("Buy", 1, Decimal("100.5"))
    assert first.signal_time.minute == 0
    assert (first.stop_loss, first.take_profit) == (Decimal("99.50"), Decimal("102.51"))


def test_it_takes_profit_on_the_high_and_charges_the_fee_on_both_sides(run):
    _, ledger = run
    first = ledger.trades[0]
    assert (first.exit_reason, first.exit_time.minute, first.exit_price) == ("take_profit", 2, Decimal("102.51"))
    assert (first.entry_fee, first.exit_fee) == (Decimal("0.1005"), Decimal("0.10251"))
    assert first.gross == Decimal("2.01")
    assert first.pnl == Decimal("1.80699")  # 2.01 - 0.1005 - 0.10251


def test_the_stop_wins_when_one_candle_reaches_both_stop_loss_and_take_profit(run):
    _, ledger = run
    short = ledger.trades[1]
    assert (short.side, short.entry_time.minute, short.entry_price) == ("Sell", 3, Decimal("102"))
    assert (short.stop_loss, short.take_profit) == (Decimal("103.02"), Decimal("99.96"))
    assert (short.exit_reason, short.exit_time.minute, short.exit_price) == ("stop_loss", 4, Decimal("103.02"))
    assert short.pnl == Decimal("-1.22502")  # -1.02 - 0.102 - 0.10302


def test_a_candle_that_opens_through_the_stop_fills_at_its_open_and_the_next_entry_takes_that_open(run):
    result, ledger = run
    gapped, reentry = ledger.trades[2], ledger.open_trade
    assert (gapped.exit_reason, gapped.exit_time.minute, gapped.exit_price) == ("stop_loss", 6, Decimal("98.5"))
    assert gapped.pnl == Decimal("-1.6985")  # -1.5 - 0.1 - 0.0985
    assert (reentry.side, reentry.entry_time.minute, reentry.entry_price) == ("Sell", 6, Decimal("98.5"))
    assert result.outcomes == [ENTERED, ENTERED, ENTERED, ENTERED, HELD]


def test_cash_and_equity_add_up_to_the_cent(run):
    result, ledger = run
    assert ledger.fees_paid == Decimal("0.70503")
    assert ledger.cash == Decimal("9998.78497")
    assert ledger.final_equity == Decimal("9998.78497")  # the open short is marked at 98.5, its entry
    assert result.final_equity == pytest.approx(9998.78497, abs=1e-9)
    assert result.equity[1] == pytest.approx(9999.8995 + 0.3)  # long 1 from 100.5, marked at bar 1's close 100.8
    assert result.equity[2] == pytest.approx(10001.80699)  # flat again after the take-profit
    assert list(result.exposure) == [False, True, False, True, False, True, True, True]


def test_slippage_moves_fills_against_the_taker_and_rounds_to_the_tick_against_it(config):
    from dataclasses import replace

    from market.types import InstrumentRules

    rules = InstrumentRules("TESTUSDT", tick_size=Decimal("0.1"), qty_step=Decimal("0.001"), min_qty=Decimal("0.001"),
                            max_qty=Decimal("1000000"))
    slipped = replace(config, rules=rules, slippage_bps=Decimal("2"))
    frame = minute_frame([(100, 100, 100, 100), (100, 100.2, 99.95, 100), (100, 100.1, 98.9, 99)])
    minutes, events = events_for(frame, {0: 1})
    result = simulate(minutes, events, slipped)
    trade = replay_ledger(result, minutes, slipped).trades[0]
    assert trade.entry_price == Decimal("100.1")  # 100 * 1.0002 = 100.02, up to the next tick
    assert trade.stop_loss == Decimal("99.1")  # 100.1 * 0.99 = 99.099, to the nearest tick
    assert trade.exit_price == Decimal("99.0")  # sold at 99.1 * 0.9998 = 99.08018, down to the tick
    assert result.trades[0].exit_price == pytest.approx(99.0) and result.trades[0].entry_price == pytest.approx(100.1)


def test_the_daily_loss_limit_pauses_entries_until_the_next_day(config):
    from dataclasses import replace

    import pandas as pd

    from trades.backtest.engine import PAUSED

    limited = replace(config, daily_loss_limit=Decimal("0.01"))  # 1 USDT of 10,000
    flat, falling = (100, 100.2, 99.8, 100), (100, 100.1, 98.5, 98.8)
    evening = pd.Timestamp("2026-01-01 23:55", tz="UTC")
    frame = minute_frame([flat, flat, falling, flat, flat, flat, flat], start=evening)
    minutes, events = events_for(frame, {0: 1, 2: 1, 5: 1})  # bar 5 is 00:00 the next day
    result = simulate(minutes, events, limited)
    assert result.outcomes == [ENTERED, PAUSED, ENTERED]
    assert result.trades[0].exit_reason == "stop_loss" and result.trades[0].pnl < -1
    assert "daily loss limit" in result.details[1]
    assert result.open_trade.entry_bar == 6
