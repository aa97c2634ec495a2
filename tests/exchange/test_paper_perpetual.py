"""The paper exchange as a perpetual: funding every 8 hours and isolated-margin liquidation, by hand."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from exchange.models import PaperAccount, PaperFill, PaperFunding
from exchange.paper import PaperExchange
from market.types import OrderRequest, Side
from tests.exchange.market import ManualMarket

D = Decimal
EIGHT = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)


def exchange(market, rates=None):
    return PaperExchange(market, account=f"perp-{uuid.uuid4().hex[:8]}", initial_balance=D("10000"),
                         fee_rate=D("0.00055"), slippage_bps=D("2"), funding_rates=lambda symbol: rates or {})


def buy(paper, qty="0.01", side="Buy"):
    return paper.place_order(OrderRequest(symbol="BTCUSDT", side=Side(side), qty=D(qty),
                                          order_link_id=f"t-{uuid.uuid4().hex[:12]}"))


def test_a_long_held_over_8_utc_pays_size_x_the_0759_close_x_the_rate_once(db):
    market = ManualMarket(start=datetime(2026, 4, 2, 7, 58, 30, tzinfo=UTC))
    paper = exchange(market, {int(EIGHT.timestamp() * 1000): D("0.0003")})
    buy(paper)  # 0.01 at 60,000 + 2 bps = 60,012.0, fee 0.330066
    market.candle("BTCUSDT", close=60500)  # 07:58
    market.candle("BTCUSDT", close=61000)  # 07:59: the mark at 08:00
    paper.get_balance()  # 08:00:30
    market.candle("BTCUSDT", close=61200)
    balance = paper.get_balance()  # 08:01:30: nothing more is due
    (row,) = PaperFunding.objects.filter(account__name=paper.account_name)
    # 0.01 x 61,000 x 0.03 % = 0.183, paid by the long.
    assert (row.funding_time, row.size, row.mark_price, row.rate, row.assumed, row.amount) == (
        EIGHT, D("0.01"), D("61000"), D("0.0003"), False, D("-0.183"))
    account = PaperAccount.objects.get(name=paper.account_name)
    assert account.funding == D("-0.183")
    assert balance.wallet_balance == D("10000") - D("0.330066") - D("0.183")


def test_a_short_receives_the_assumed_rate_when_there_is_no_history(db):
    market = ManualMarket(start=datetime(2026, 4, 2, 7, 59, 30, tzinfo=UTC))
    paper = exchange(market)
    buy(paper, side="Sell")
    market.candle("BTCUSDT", close=61000)  # 07:59
    paper.get_positions()
    (row,) = PaperFunding.objects.filter(account__name=paper.account_name)
    assert (row.rate, row.assumed, row.amount) == (D("0.0001"), True, D("0.061"))  # 0.01 x 61,000 x 0.01 %


def test_a_position_opened_after_the_funding_time_pays_nothing_for_it(db):
    market = ManualMarket(start=datetime(2026, 4, 2, 8, 0, 0, tzinfo=UTC))  # the 08:00 open itself
    paper = exchange(market)
    buy(paper)
    market.candle("BTCUSDT", close=61000)
    paper.get_balance()
    assert not PaperFunding.objects.filter(account__name=paper.account_name).exists()


def test_at_50x_a_candle_through_the_liquidation_price_closes_the_position_there_before_a_further_stop(db):
    market = ManualMarket()
    paper = exchange(market)
    paper.set_leverage("BTCUSDT", D("50"))
    buy(paper)  # 60,012.0: liquidation 60,012 x (1 - 1/50 + 0.005) = 59,111.82, up to the 0.1 tick: 59,111.9
    (position,) = paper.get_positions()
    assert position.liquidation_price == D("59111.9")
    paper.set_trading_stop("BTCUSDT", stop_loss=D("58000"))
    market.candle("BTCUSDT", low=59000, close=59500)
    assert paper.get_positions() == []
    fill = PaperFill.objects.get(account__name=paper.account_name, trigger="liquidation")
    assert (fill.price, fill.fee) == (D("59111.9"), D("0.32511545"))  # no slippage; the taker fee
    (closed,) = paper.get_closed_pnl("BTCUSDT")
    assert closed.realized_pnl == D("-9.001") - D("0.330066") - D("0.32511545")


def test_a_stop_nearer_than_the_liquidation_price_fires_instead(db):
    market = ManualMarket()
    paper = exchange(market)
    paper.set_leverage("BTCUSDT", D("50"))
    buy(paper)
    paper.set_trading_stop("BTCUSDT", stop_loss=D("59500"))
    market.candle("BTCUSDT", low=59000, close=59500)
    assert paper.get_positions() == []
    assert PaperFill.objects.filter(account__name=paper.account_name, trigger="stop_loss").exists()
    assert not PaperFill.objects.filter(account__name=paper.account_name, trigger="liquidation").exists()
