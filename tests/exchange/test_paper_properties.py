"""Property tests of the paper exchange's accounting: any orders, any price moves, the books reconcile."""

import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.models import PaperAccount, PaperClosedPnl, PaperFill, PaperOrder
from exchange.paper import PaperExchange
from market import fills
from market.errors import ExchangeError
from market.types import OrderRequest, OrderType, Side
from tests.exchange.market import ManualMarket

D = Decimal
FEE = D("0.00055")

orders = st.tuples(st.just("order"), st.sampled_from(["BTCUSDT", "ETHUSDT"]), st.sampled_from(["Buy", "Sell"]),
                   st.integers(min_value=1, max_value=40), st.booleans(), st.sampled_from(["Market", "Limit"]),
                   st.integers(min_value=-300, max_value=300))
moves = st.tuples(st.just("move"), st.sampled_from(["BTCUSDT", "ETHUSDT"]),
                  st.integers(min_value=-400, max_value=400), st.integers(min_value=0, max_value=300))
stops = st.tuples(st.just("stops"), st.sampled_from(["BTCUSDT", "ETHUSDT"]), st.integers(min_value=20, max_value=300),
                  st.integers(min_value=20, max_value=300))
leverages = st.tuples(st.just("leverage"), st.sampled_from(["BTCUSDT", "ETHUSDT"]), st.integers(1, 20))
steps = st.lists(st.one_of(orders, moves, stops, leverages), min_size=1, max_size=12)
STEP_QTY = {"BTCUSDT": D("0.005"), "ETHUSDT": D("0.05")}
BPS = {"BTCUSDT": D("60000"), "ETHUSDT": D("3000")}


def run(exchange: PaperExchange, market: ManualMarket, step) -> None:
    kind, symbol, *args = step
    unit = BPS[symbol] / 10000  # one basis point of the starting price
    if kind == "order":
        side, lots, reduce_only, order_type, offset_bps = args
        price = market.prices[symbol] + unit * offset_bps if order_type == "Limit" else None
        exchange.place_order(OrderRequest(symbol=symbol, side=Side(side), qty=STEP_QTY[symbol] * lots,
                                          order_link_id=uuid.uuid4().hex, order_type=OrderType(order_type),
                                          price=price, reduce_only=reduce_only))
    elif kind == "move":
        change_bps, wick_bps = args
        close = market.prices[symbol] + unit * change_bps
        market.candle(symbol, close=close, high=max(close, market.prices[symbol]) + unit * wick_bps,
                      low=min(close, market.prices[symbol]) - unit * wick_bps)
    elif kind == "stops":
        below, above = (market.prices[symbol] - unit * args[0], market.prices[symbol] + unit * args[1])
        position = exchange.get_positions(symbol)
        if position:
            long = position[0].side == Side.BUY
            exchange.set_trading_stop(symbol, stop_loss=below if long else above, take_profit=above if long else below)
    else:
        exchange.set_leverage(symbol, D(args[0]))


def check_books(exchange: PaperExchange, market: ManualMarket) -> None:
    balance = exchange.get_balance()  # settles first: read the rows after it
    positions = exchange.get_positions()
    account = PaperAccount.objects.get(name=exchange.account_name)
    unrealized = sum((fills.unrealized_pnl(p.side, p.size, p.entry_price, market.prices[p.symbol]) for p in positions),
                     D("0"))
    # equity is always cash + unrealized PnL, the unrealized PnL being recomputed here from the positions
    assert balance.unrealized_pnl == unrealized
    assert balance.equity == balance.wallet_balance + unrealized
    # every fee was charged exactly once, by exactly one fill, at the fee rate of that fill
    fills_rows = list(PaperFill.objects.filter(account=account))
    assert all(row.fee == fills.fee(row.qty, row.price, FEE) for row in fills_rows)
    assert account.fees_paid == sum((row.fee for row in fills_rows), D("0"))
    assert sum((o.fee for o in PaperOrder.objects.filter(account=account)), D("0")) == account.fees_paid
    # cash is what was deposited, plus price PnL of closes, minus fees: nothing else moves it
    assert balance.wallet_balance == account.initial_balance + account.realized_pnl - account.fees_paid
    # no position is ever negative, and a flat one has no side
    assert all(p.size > 0 and p.side in (Side.BUY, Side.SELL) for p in positions)
    assert not account.positions.filter(size__lt=0).exists()


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_after_any_orders_and_price_moves_the_books_reconcile(steps):
    market = ManualMarket()
    exchange = PaperExchange(market, account=uuid.uuid4().hex[:20], initial_balance=D("10000"), fee_rate=FEE,
                             slippage_bps=D("2"))
    exchange.get_balance()  # opens the account
    for step in steps:
        try:
            run(exchange, market, step)
        except ExchangeError:
            pass  # refused (no margin, nothing to reduce, stop on the wrong side): refusals must change nothing
        check_books(exchange, market)
    # once everything is closed, the net closed PnL explains the whole change in cash, fee for fee
    exchange.cancel_all_orders()
    for position in exchange.get_positions():
        exchange.close_position(position.symbol, uuid.uuid4().hex)
    account = PaperAccount.objects.get(name=exchange.account_name)
    closed = sum((row.realized_pnl for row in PaperClosedPnl.objects.filter(account=account)), D("0"))
    assert exchange.get_positions() == []
    assert account.cash - account.initial_balance == closed
