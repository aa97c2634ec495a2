"""The paper exchange: fills, fees, stops, margin and state that survives a restart."""

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from exchange.models import PaperAccount, PaperFill
from exchange.paper import PaperExchange
from market.errors import InvalidOrderError, OrderNotFoundError, OrderRejectedError
from market.types import OrderRequest, OrderStatus, OrderType, Side

D = Decimal


def market_order(side="Buy", qty="0.01", link=None, **kwargs):
    return OrderRequest(symbol=kwargs.pop("symbol", "BTCUSDT"), side=Side(side), qty=D(qty),
                        order_link_id=link or f"t-{uuid.uuid4().hex[:12]}", **kwargs)


def test_it_fills_a_market_buy_at_the_slipped_price_and_charges_the_taker_fee_once(paper):
    order = paper.place_order(market_order("Buy", "0.01"))
    assert order.status == OrderStatus.FILLED
    assert order.avg_price == D("60012.0")  # 60000 + 2 bps
    assert order.fee == D("0.33006600")  # 0.01 * 60012 * 0.055%
    balance = paper.get_balance()
    assert balance.wallet_balance == D("10000") - D("0.330066")
    assert balance.unrealized_pnl == D("-0.12")  # marked at 60000
    assert balance.equity == balance.wallet_balance + balance.unrealized_pnl
    assert balance.used_margin == D("600.12")  # 1x leverage
    assert PaperFill.objects.filter(order__order_link_id=order.order_link_id).count() == 1


def test_it_rounds_the_quantity_down_to_the_lot_step_and_refuses_one_below_the_minimum(paper, market):
    assert paper.place_order(market_order(qty="0.0109")).qty == D("0.010")
    with pytest.raises(InvalidOrderError, match="below the minimum order size 0.001"):
        paper.place_order(market_order(qty="0.0004"))
    market.prices["SOLUSDT"] = D("20")
    with pytest.raises(InvalidOrderError, match="order value 4.00 USDT is below the minimum 5"):
        paper.place_order(market_order(symbol="SOLUSDT", qty="0.2"))


def test_it_refuses_symbols_the_market_does_not_have(paper):
    with pytest.raises(InvalidOrderError, match="DOGEUSDT is not in the test market"):
        paper.place_order(market_order(symbol="DOGEUSDT"))


def test_a_second_order_with_the_same_order_link_id_returns_the_first_and_fills_nothing_more(paper):
    first = paper.place_order(market_order(link="dup-1"))
    again = paper.place_order(market_order(qty="0.5", link="dup-1"))
    assert again.order_id == first.order_id and again.qty == D("0.01")
    assert paper.get_positions()[0].size == D("0.01")
    assert paper.find_order("BTCUSDT", "dup-1").order_id == first.order_id
    assert paper.find_order("BTCUSDT", "missing") is None


def test_it_refuses_an_order_whose_margin_the_account_cannot_cover(paper):
    with pytest.raises(OrderRejectedError, match="ab not enough for new order") as refused:
        paper.place_order(market_order(qty="0.2"))  # 12,000 USDT at 1x
    assert refused.value.ret_code == 110007
    paper.set_leverage("BTCUSDT", D("5"))
    assert paper.place_order(market_order(qty="0.2")).status == OrderStatus.FILLED
    assert paper.get_positions()[0].leverage == D("5")


def test_a_close_realizes_pnl_net_of_both_fees_and_leaves_no_position(paper, market):
    opened = paper.place_order(market_order("Buy", "0.1"))
    market.prices["BTCUSDT"] = D("61000")
    closed = paper.close_position("BTCUSDT", "close-1")
    assert closed.reduce_only and closed.avg_price == D("60987.8")
    assert paper.get_positions() == []
    [pnl] = paper.get_closed_pnl()
    gross = (D("60987.8") - D("60012.0")) * D("0.1")
    assert pnl.realized_pnl == gross - opened.fee - closed.fee
    assert paper.get_balance().wallet_balance == D("10000") + pnl.realized_pnl
    assert paper.close_position("BTCUSDT", "close-2") is None


def test_a_reduce_only_order_shrinks_to_the_position_and_is_refused_without_one(paper):
    with pytest.raises(OrderRejectedError, match="reduce-only"):
        paper.place_order(market_order("Sell", reduce_only=True))
    paper.place_order(market_order("Buy", "0.01"))
    order = paper.place_order(market_order("Sell", "0.05", reduce_only=True))
    assert order.qty == D("0.01") and paper.get_positions() == []


def test_the_stop_loss_fires_on_a_candle_low_and_the_stop_wins_over_the_take_profit(paper, market):
    paper.place_order(market_order("Buy", "0.01", stop_loss=D("59000"), take_profit=D("61000")))
    assert paper.get_positions()[0].stop_loss == D("59000")
    market.candle("BTCUSDT", high="60500", low="59500", close="60100")  # neither
    assert paper.get_positions()[0].size == D("0.01")
    market.candle("BTCUSDT", high="61500", low="58500", close="60000")  # both: the stop wins
    assert paper.get_positions() == []
    [exit_order] = [o for o in paper.get_order_history() if o.reduce_only]
    assert exit_order.avg_price == D("58988.2")  # 59000 - 2 bps, rounded down to the tick
    assert PaperFill.objects.get(order__order_id=exit_order.order_id).trigger == "stop_loss"


def test_the_take_profit_fires_on_a_candle_high_of_a_long(paper, market):
    paper.place_order(market_order("Buy", "0.01"))
    paper.set_trading_stop("BTCUSDT", take_profit=D("60500"))
    market.candle("BTCUSDT", high="60600", low="59900", close="60200")
    assert paper.get_positions() == []
    assert paper.get_closed_pnl()[0].exit_price == D("60487.9")


def test_a_stop_on_the_wrong_side_of_the_price_is_refused_like_bybit_does(paper):
    with pytest.raises(OrderRejectedError, match="zero position"):
        paper.set_trading_stop("BTCUSDT", stop_loss=D("59000"))
    paper.place_order(market_order("Buy", "0.01"))
    with pytest.raises(OrderRejectedError, match="should be lower"):
        paper.set_trading_stop("BTCUSDT", stop_loss=D("61000"))
    paper.set_trading_stop("BTCUSDT", stop_loss=D("59000"))
    paper.set_trading_stop("BTCUSDT", stop_loss=D("0"))  # 0 cancels
    assert paper.get_positions()[0].stop_loss is None


def test_a_limit_order_rests_reserves_margin_and_fills_at_its_price_when_a_candle_trades_through_it(paper, market):
    order = paper.place_order(market_order("Buy", "0.01", order_type=OrderType.LIMIT, price=D("59500")))
    assert order.status == OrderStatus.NEW
    assert [o.order_id for o in paper.get_open_orders()] == [order.order_id]
    assert paper.get_balance().used_margin == D("595")
    market.candle("BTCUSDT", high="60100", low="59600", close="59700")
    assert paper.get_open_orders("BTCUSDT")[0].status == OrderStatus.NEW
    market.candle("BTCUSDT", high="59800", low="59400", close="59600")
    filled = paper.find_order("BTCUSDT", order.order_link_id)
    assert filled.status == OrderStatus.FILLED and filled.avg_price == D("59500")
    assert paper.get_positions()[0].entry_price == D("59500")


def test_orders_are_cancelled_one_by_one_or_all_at_once(paper):
    first = paper.place_order(market_order("Buy", order_type=OrderType.LIMIT, price=D("50000")))
    paper.place_order(market_order("Buy", order_type=OrderType.LIMIT, price=D("51000")))
    paper.place_order(market_order("Sell", symbol="ETHUSDT", qty="0.1", order_type=OrderType.LIMIT, price=D("3500")))
    paper.cancel_order("BTCUSDT", order_id=first.order_id)
    with pytest.raises(OrderNotFoundError):
        paper.cancel_order("BTCUSDT", order_id=first.order_id)
    assert paper.cancel_all_orders("BTCUSDT") == 1
    assert paper.cancel_all_orders() == 1
    assert paper.get_open_orders() == []


def test_the_state_survives_a_restart(paper, market):
    paper.place_order(market_order("Buy", "0.02"))
    restarted = PaperExchange(market, account=paper.account_name, initial_balance=D("123"))
    assert restarted.get_positions()[0].size == D("0.02")
    assert restarted.get_balance().wallet_balance == paper.get_balance().wallet_balance


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_from_several_workers_are_each_charged_once(market):
    account = f"race-{uuid.uuid4().hex[:6]}"
    PaperExchange(market, account=account).get_balance()  # create the account row first

    def trade(n):
        try:
            PaperExchange(market, account=account).place_order(market_order("Buy", "0.001", link=f"race-{n % 4}"))
        finally:
            connection.close()

    threads = [threading.Thread(target=trade, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    exchange = PaperExchange(market, account=account)
    assert exchange.get_positions()[0].size == D("0.004")  # 4 distinct orderLinkIds, each filled once
    row = PaperAccount.objects.get(name=account)
    fees = sum(fill.fee for fill in PaperFill.objects.filter(account=row))
    assert PaperFill.objects.filter(account=row).count() == 4
    assert row.fees_paid == fees and row.cash == D("10000") - fees
