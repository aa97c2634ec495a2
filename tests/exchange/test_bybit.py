"""BybitExchange through the real pybit client against the fake Bybit v5 server: wire shapes, errors, faults."""

import threading
import time
import uuid
from decimal import Decimal

import pytest

from exchange.bybit_http import RetryPolicy
from market.errors import (
    AuthenticationError,
    InvalidOrderError,
    OrderNotFoundError,
    OrderRejectedError,
    OrderStateUnknownError,
    RateLimitedError,
    TemporaryError,
)
from market.types import OrderRequest, OrderStatus, OrderType, Side
from tests.fakes.bybit_ws import FakeBybitStream

D = Decimal


def order(side="Buy", qty="0.01", link=None, **kwargs):
    return OrderRequest(symbol=kwargs.pop("symbol", "BTCUSDT"), side=Side(side), qty=D(qty),
                        order_link_id=link or f"t-{uuid.uuid4().hex[:12]}", **kwargs)


@pytest.fixture
def bybit(fake_bybit):
    fake_bybit.set_price("BTCUSDT", "60000")
    return fake_bybit.exchange()


def test_it_reads_the_wallet_positions_and_orders_in_typed_decimals(bybit, fake_bybit):
    placed = bybit.place_order(order("Buy", "0.05", stop_loss=D("59000")))
    assert placed.status == OrderStatus.FILLED and placed.avg_price == D("60000") and placed.fee == D("1.65")
    fake_bybit.set_price("BTCUSDT", "60100")
    [position] = bybit.get_positions()
    assert (position.side, position.size, position.entry_price, position.unrealized_pnl) == (
        Side.BUY, D("0.05"), D("60000"), D("5"))
    assert position.stop_loss == D("59000") and position.take_profit is None
    balance = bybit.get_balance()
    assert balance.wallet_balance == D("9998.35") and balance.equity == D("10003.35")
    assert bybit.get_order_history()[0].order_link_id == placed.order_link_id
    assert bybit.find_order("BTCUSDT", placed.order_link_id).order_id == placed.order_id


def test_every_private_request_is_signed_and_the_order_carries_one_way_mode_and_its_order_link_id(bybit, fake_bybit):
    bybit.place_order(order(link="signed-1", order_type=OrderType.LIMIT, price=D("59000.04")))
    [body] = fake_bybit.orders_received
    assert body["orderLinkId"] == "signed-1" and body["positionIdx"] == 0 and body["category"] == "linear"
    assert body["price"] == "59000.0" and body["qty"] == "0.01" and body["timeInForce"] == "GTC"
    assert all(r.signed for r in fake_bybit.requests if r.path.startswith("/v5/order"))


def test_a_wrong_secret_is_an_authentication_error_with_bybits_message(fake_bybit):
    with pytest.raises(AuthenticationError, match="error sign") as error:
        fake_bybit.exchange(api_secret="not-the-secret").get_balance()
    assert error.value.ret_code == 10004
    assert fake_bybit.slept == []  # never retried


def test_a_stale_timestamp_is_refused_with_10002(fake_bybit):
    fake_bybit.recv_window_slack_ms = -10_000  # the server's clock runs 10 s behind the client's
    with pytest.raises(TemporaryError) as error:
        fake_bybit.exchange(retry=RetryPolicy(attempts=2)).get_balance()
    assert error.value.ret_code == 10002 and "recv_window" in error.value.message


@pytest.mark.parametrize("http_status", [None, 429, 403])
def test_a_rate_limited_read_succeeds_after_backing_off(bybit, fake_bybit, http_status):
    fake_bybit.rate_limit(times=2, http_status=http_status, path="/v5/account/wallet-balance")
    assert bybit.get_balance().equity == D("10000")
    assert len(fake_bybit.requests_to("/v5/account/wallet-balance")) == 3
    assert len(fake_bybit.slept) == 2 and fake_bybit.slept[1] > 0


def test_it_gives_up_after_the_last_attempt_and_says_it_was_rate_limited(bybit, fake_bybit):
    fake_bybit.rate_limit(times=10)
    with pytest.raises(RateLimitedError, match="Rate Limit"):
        bybit.get_positions()
    assert len(fake_bybit.requests) == 5 and len(fake_bybit.slept) == 4
    assert all(0 <= delay <= RetryPolicy().max_delay for delay in fake_bybit.slept)


def test_5xx_on_a_read_is_retried_but_an_order_is_never_sent_twice(bybit, fake_bybit):
    fake_bybit.fail(times=1, status=503, path="/v5/order/realtime")
    assert bybit.get_open_orders() == []
    fake_bybit.fail(times=1, status=502, path="/v5/order/create")
    with pytest.raises(OrderStateUnknownError) as unknown:
        bybit.place_order(order(link="gw-1"))
    assert unknown.value.order_link_id == "gw-1"
    assert len(fake_bybit.requests_to("/v5/order/create")) == 1  # looked up, never re-sent
    assert len(fake_bybit.requests_to("/v5/order/realtime")) > 1


@pytest.mark.parametrize("how", ["disconnect", "timeout"])
def test_an_order_whose_answer_is_lost_is_found_by_its_order_link_id_and_placed_once(fake_bybit, how):
    fake_bybit.set_price("BTCUSDT", "60000")
    bybit = fake_bybit.exchange(timeout=0.5)
    fake_bybit.lose_next_order_response(how)
    found = bybit.place_order(order(link=f"lost-{how}"))
    assert found.order_link_id == f"lost-{how}" and found.status == OrderStatus.FILLED
    assert len(fake_bybit.orders_received) == 1 and len(fake_bybit.requests_to("/v5/order/create")) == 1
    assert bybit.get_positions()[0].size == D("0.01")


def test_a_duplicate_order_link_id_returns_the_order_already_placed(bybit, fake_bybit):
    first = bybit.place_order(order(link="dup-7"))
    again = bybit.place_order(order(qty="0.5", link="dup-7"))
    assert again.order_id == first.order_id and again.qty == D("0.01")
    assert len(fake_bybit.orders_received) == 1


def test_a_rejected_order_raises_with_the_exchanges_code_and_message(bybit, fake_bybit):
    fake_bybit.reject_next_order(110007, "ab not enough for new order")
    with pytest.raises(OrderRejectedError, match="ab not enough for new order") as rejected:
        bybit.place_order(order())
    assert rejected.value.ret_code == 110007 and fake_bybit.slept == []


def test_a_rate_limited_order_is_refused_not_retried(bybit, fake_bybit):
    bybit.get_instrument("BTCUSDT")
    fake_bybit.rate_limit(times=1, path="/v5/order/create")
    with pytest.raises(RateLimitedError):
        bybit.place_order(order())
    assert len(fake_bybit.requests_to("/v5/order/create")) == 1 and fake_bybit.orders_received == []


def test_quantities_are_rounded_to_the_lot_step_and_refused_below_the_minimum_before_sending(bybit, fake_bybit):
    assert bybit.place_order(order(qty="0.0129")).qty == D("0.012")
    with pytest.raises(InvalidOrderError, match="below the minimum order size 0.001"):
        bybit.place_order(order(qty="0.0009"))
    assert len(fake_bybit.orders_received) == 1


def test_instrument_rules_are_fetched_once_per_process_and_cached(bybit, fake_bybit):
    for _ in range(3):
        bybit.place_order(order())
    assert len(fake_bybit.requests_to("/v5/market/instruments-info")) == 1
    with pytest.raises(InvalidOrderError, match="not listed"):
        bybit.get_instrument("NOPEUSDT")


def test_leverage_trading_stop_and_close_position(bybit, fake_bybit):
    bybit.set_leverage("BTCUSDT", D("5"))
    bybit.set_leverage("BTCUSDT", D("5"))  # 110043 "not modified" is success
    bybit.place_order(order("Sell", "0.02"))
    bybit.set_trading_stop("BTCUSDT", stop_loss=D("61000.04"), take_profit=D("58000"))
    [body] = [r.body for r in fake_bybit.requests_to("/v5/position/trading-stop")]
    assert body == {"category": "linear", "symbol": "BTCUSDT", "tpslMode": "Full", "positionIdx": 0,
                    "stopLoss": "61000.0", "takeProfit": "58000"}
    assert bybit.get_positions()[0].leverage == D("5")
    closed = bybit.close_position("BTCUSDT", "close-9")
    assert closed.side == Side.BUY and closed.reduce_only and closed.qty == D("0.02")
    assert bybit.get_positions() == [] and bybit.close_position("BTCUSDT", "close-10") is None
    [pnl] = bybit.get_closed_pnl("BTCUSDT")
    assert pnl.qty == D("0.02") and pnl.order_id == closed.order_id


def test_cancel_one_and_cancel_all(bybit, fake_bybit):
    first = bybit.place_order(order(order_type=OrderType.LIMIT, price=D("50000")))
    bybit.place_order(order(order_type=OrderType.LIMIT, price=D("51000")))
    bybit.cancel_order("BTCUSDT", order_id=first.order_id)
    with pytest.raises(OrderNotFoundError):
        bybit.cancel_order("BTCUSDT", order_id="no-such-order")
    assert [o.status for o in bybit.get_open_orders()] == [OrderStatus.NEW]
    assert bybit.cancel_all_orders() == 1 and bybit.get_open_orders() == []


def test_a_cancel_whose_first_answer_was_lost_is_not_reported_as_a_failure(bybit, fake_bybit):
    placed = bybit.place_order(order(order_type=OrderType.LIMIT, price=D("50000")))
    fake_bybit.state.cancel_order({"symbol": "BTCUSDT", "orderId": placed.order_id})  # it went through before
    bybit.cancel_order("BTCUSDT", order_id=placed.order_id)  # ... so "order not exists" means done
    assert bybit.find_order("BTCUSDT", placed.order_link_id).status == OrderStatus.CANCELLED


def test_klines_arrive_oldest_first_from_bybits_newest_first_list(bybit, fake_bybit):
    candles = bybit.get_klines("BTCUSDT", "15", 50)
    assert len(candles) == 50
    assert all(a.start < b.start for a, b in zip(candles, candles[1:], strict=False))
    assert fake_bybit.requests_to("/v5/market/kline")[0].params["limit"] == "50"
    ticker = bybit.get_ticker("BTCUSDT")
    assert ticker.last_price == D("60000") and ticker.change_24h_pct == D("1.25")
    assert bybit.server_time().year >= 2026


def test_live_tickers_stream_from_bybits_public_websocket_through_pybit(fake_bybit):
    stream = FakeBybitStream({"BTCUSDT": "60000"})
    seen, moved = [], threading.Event()

    def on_ticker(ticker):
        seen.append(ticker)
        if ticker.last_price == D("60100"):
            moved.set()

    subscription = fake_bybit.exchange(ws_url=stream.url).subscribe(["BTCUSDT"], on_ticker)
    try:
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:  # the snapshot first, then a delta
            moved.wait(0.02)
        stream.push("BTCUSDT", "60100")
        assert moved.wait(5)
    finally:
        subscription.close()
        stream.close()
    assert seen[0].last_price == D("60000") and seen[0].change_24h_pct == D("1.00")
    assert seen[-1].mark_price == D("60000")  # pybit merged the delta into the snapshot
    assert {"op": "subscribe", "args": ["tickers.BTCUSDT"]}.items() <= stream.received[0].items()
