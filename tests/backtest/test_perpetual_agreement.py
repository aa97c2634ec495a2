"""Paper and backtest charge the same funding and liquidate at the same price, for the same trade."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.conf import settings

from exchange.models import PaperFill, PaperFunding
from exchange.paper import PaperExchange
from exchange.replay import ReplayMarketData
from market.instruments import BUNDLED_RULES
from market.types import OrderRequest, Side
from tests.backtest.conftest import minute_frame
from tests.exchange.market import ManualMarket
from tests.helpers import SetClock
from trades.backtest.data import load_candles
from trades.backtest.engine import EngineConfig, Minutes, simulate
from trades.backtest.inputs import signal_events
from trades.backtest.ledger import replay_ledger
from trades.backtest.perpetual import FundingSchedule
from trades.risk import RiskParams

D = Decimal
DATA_START = datetime(2026, 3, 23, 12, 9, tzinfo=UTC)  # the bundled month's first candle
ENTRY = datetime(2026, 3, 24, 15, 55, tzinfo=UTC)
FUNDING_TIME = datetime(2026, 3, 24, 16, 0, tzinfo=UTC)


def engine_config(symbol: str, qty: str, leverage: str, stop: str, **changes) -> EngineConfig:
    return EngineConfig(rules=BUNDLED_RULES[symbol], risk=RiskParams(D("1"), D(stop), D("50"), leverage=D(leverage)),
                        initial_balance=D("10000"), fee_rate=D("0.00055"), slippage_bps=D("2"), fixed_qty=D(qty),
                        **changes)


def backtest(frame: pd.DataFrame, signal_row: int, config: EngineConfig, rates: dict):
    minutes = Minutes.from_frame(frame)
    actions = np.zeros(len(frame), dtype=np.int8)
    actions[signal_row] = 1
    config = replace(config, funding=FundingSchedule.build(minutes.start, rates))
    result = simulate(minutes, signal_events(frame, actions, "1", minutes.start), config)
    return replay_ledger(result, minutes, config)


def test_a_long_over_a_funding_time_on_the_bundled_replay_pays_the_same_in_paper_and_backtest(db):
    clock = SetClock(datetime(2026, 6, 1, tzinfo=UTC))
    replay = ReplayMarketData(settings.CANDLE_DATA_DIR, anchor=clock.now, warmup=ENTRY - DATA_START, now=clock)
    paper = PaperExchange(replay, account=f"funding-{uuid.uuid4().hex[:8]}", initial_balance=D("10000"),
                          fee_rate=D("0.00055"), slippage_bps=D("2"), funding_rates=lambda symbol: {})
    paper.set_leverage("ETHUSDT", D("5"))
    paper.place_order(OrderRequest(symbol="ETHUSDT", side=Side.BUY, qty=D("0.5"), order_link_id="funding-agreement"))
    clock.now += timedelta(minutes=10)  # 16:05 on the replay
    paper.get_balance()
    (booked,) = PaperFunding.objects.filter(account__name=paper.account_name)

    data = load_candles("ETHUSDT", ENTRY - timedelta(minutes=5), ENTRY + timedelta(minutes=10))
    ledger = backtest(data.frame, 4, engine_config("ETHUSDT", "0.5", "5", "0.5", protective_stops=False), {})
    mark = D(repr(float(data.frame.loc[pd.Timestamp(FUNDING_TIME - timedelta(minutes=1)), "close"])))
    assert ledger.open_trade.entry_time == ENTRY and booked.funding_time == FUNDING_TIME
    assert booked.mark_price == mark and booked.assumed
    assert booked.amount == ledger.open_trade.funding == ledger.funding == (-D("0.5") * mark * D("0.0001")).quantize(
        D("0.00000001"))


def test_a_liquidation_at_50x_is_the_same_fill_and_closed_pnl_in_paper_and_backtest(db):
    market = ManualMarket()
    paper = PaperExchange(market, account=f"liq-{uuid.uuid4().hex[:8]}", initial_balance=D("10000"),
                          fee_rate=D("0.00055"), slippage_bps=D("2"), funding_rates=lambda symbol: {})
    paper.set_leverage("BTCUSDT", D("50"))
    paper.place_order(OrderRequest(symbol="BTCUSDT", side=Side.BUY, qty=D("0.01"), order_link_id="liq-agreement"))
    paper.set_trading_stop("BTCUSDT", stop_loss=D("58000"))
    market.candle("BTCUSDT", low=59000, close=59500)  # 12:00
    paper.get_positions()
    fill = PaperFill.objects.get(account__name=paper.account_name, trigger="liquidation")
    (closed,) = paper.get_closed_pnl("BTCUSDT")

    frame = minute_frame([(60000, 60000, 60000, 60000), (60000, 60000, 59000, 59500), (59500, 59500, 59500, 59500)],
                         pd.Timestamp("2026-04-01 11:59", tz="UTC"))
    ledger = backtest(frame, 0, engine_config("BTCUSDT", "0.01", "50", "3.3"), {})
    (trade,) = ledger.trades
    assert (trade.exit_reason, trade.exit_price, trade.exit_time) == ("liquidation", fill.price, fill.market_time)
    assert fill.price == D("59111.9")  # 60,012.0 x 0.985 = 59,111.82, up to the tick
    assert trade.pnl == closed.realized_pnl == D("-9.65618145")
