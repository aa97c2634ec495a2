"""What the exchange did is what the database says (issue 17, defects 1-5), at the wire: the real pybit client
against the fake Bybit, through the API a person or a script calls.

After each path (partial fill, rejection, stop-loss change, close-position, lost close) ``assert_in_sync`` holds:
per symbol, the open trades' quantities add up to the exchange's position and their stop-loss is the exchange's.
"""

from decimal import Decimal

import pytest

from exchange.factory import get_exchange
from trades.execution import execute_entry
from trades.models import Trade, TradeStatus
from trades.reconcile import reconcile
from trades.risk import RiskParams

SYMBOL = "BTCUSDT"


@pytest.fixture
def api(app_on_fake_bybit, api_client, transactional_db):
    return api_client


def assert_in_sync(fake_bybit):
    with fake_bybit.state.lock:
        positions = {symbol: (p.size, p.stop_loss, p.take_profit)
                     for symbol, p in fake_bybit.state.positions.items() if p.size}
    trades = Trade.objects.filter(status=TradeStatus.OPEN)
    held = {}
    for trade in trades:
        size, stop, target = held.get(trade.symbol, (Decimal("0"), trade.stop_loss, trade.take_profit))
        held[trade.symbol] = (size + trade.quantity, stop, target)
    assert held == positions, f"database {held} != exchange {positions}"
    assert not Trade.objects.filter(status=TradeStatus.PENDING).exists()


def price(fake_bybit) -> Decimal:
    return fake_bybit.state.price(SYMBOL)


def open_manual(api, fake_bybit, qty="0.010") -> Trade:
    stop = (price(fake_bybit) * Decimal("0.98")).quantize(Decimal("0.1"))
    response = api.post("/api/bybit/order", {"symbol": SYMBOL, "side": "Buy", "qty": qty, "stop_loss": str(stop)},
                        format="json")
    assert response.status_code == 201, response.json()
    return Trade.objects.get(status=TradeStatus.OPEN, symbol=SYMBOL)


# Defect 1 and 5: a partial fill is an open trade of what filled, protected, and the answer is not a success

def test_a_partly_filled_manual_order_opens_a_trade_of_the_filled_quantity_with_its_stop(api, fake_bybit):
    fake_bybit.partially_fill_next_order("0.005")
    stop = (price(fake_bybit) * Decimal("0.98")).quantize(Decimal("0.1"))
    response = api.post("/api/bybit/order", {"symbol": SYMBOL, "side": "Buy", "qty": "0.010", "stop_loss": str(stop)},
                        format="json")
    assert response.status_code == 502, response.json()
    body = response.json()
    assert "0.005 of 0.01 BTCUSDT" in body["detail"] and body["order"]["status"] == "PartiallyFilledCanceled"
    trade = Trade.objects.get(pk=body["trade"])
    assert (trade.status, trade.quantity, trade.stop_loss) == (TradeStatus.OPEN, Decimal("0.005"), stop)
    assert "the rest (0.005) was cancelled" in trade.status_reason
    assert fake_bybit.state.positions[SYMBOL].stop_loss == stop
    assert_in_sync(fake_bybit)


def test_a_partly_filled_strategy_entry_is_an_open_protected_trade(app_on_fake_bybit, make_strategy):
    fake_bybit = app_on_fake_bybit
    strategy = make_strategy(symbols=[SYMBOL])
    trade = Trade.objects.create(strategy=strategy, symbol=SYMBOL, side="Buy", quantity=Decimal("0.010"),
                                 order_link_id="tb-test-partial", status=TradeStatus.PENDING)
    fake_bybit.partially_fill_next_order("0.004")
    exchange = get_exchange()
    result = execute_entry(trade, exchange=exchange, params=RiskParams.from_strategy(strategy),
                           rules=exchange.get_instrument(SYMBOL), sleep=lambda _: None)
    trade.refresh_from_db()
    assert (result.outcome, trade.status, trade.quantity) == ("open", TradeStatus.OPEN, Decimal("0.004"))
    assert trade.stop_loss is not None and "partly filled" in trade.status_reason
    assert_in_sync(fake_bybit)


def test_a_fill_that_arrives_later_updates_the_same_trade_once(api, fake_bybit):
    fake_bybit.partially_fill_next_order("0.005")
    trade_id = api.post("/api/bybit/order", {"symbol": SYMBOL, "side": "Buy", "qty": "0.010"},
                        format="json").json()["trade"]
    with fake_bybit.state.lock:  # the exchange's late word: 0.008 of the order had filled
        order = next(o for o in fake_bybit.state.orders.values() if o["orderLinkId"] == Trade.objects.get(
            pk=trade_id).order_link_id)
        order["cumExecQty"] = "0.008"
        fake_bybit.state.positions[SYMBOL].size = Decimal("0.008")
    for _ in range(2):  # two polls, one update
        report = reconcile(get_exchange(), sleep=lambda _: None)
        assert not report.mismatches and not report.unknown_positions
    assert Trade.objects.get(pk=trade_id).quantity == Decimal("0.008")
    assert Trade.objects.count() == 1
    assert_in_sync(fake_bybit)


def test_an_order_rejected_after_it_was_accepted_answers_an_error_with_the_reason(api, fake_bybit):
    fake_bybit.reject_next_order_after_accepting("EC_InsufficientMargin")
    response = api.post("/api/bybit/order", {"symbol": SYMBOL, "side": "Buy", "qty": "0.010"}, format="json")
    assert response.status_code == 502
    body = response.json()
    assert "EC_InsufficientMargin" in body["detail"] and body["exchange_reason"] == "EC_InsufficientMargin"
    assert "Nothing was done" in body["detail"]
    assert Trade.objects.get().status == TradeStatus.FAILED
    assert_in_sync(fake_bybit)


def test_an_order_cancelled_with_nothing_filled_answers_an_error(api, fake_bybit):
    fake_bybit.partially_fill_next_order(0)
    response = api.post("/api/bybit/order", {"symbol": SYMBOL, "side": "Buy", "qty": "0.010"}, format="json")
    assert response.status_code == 502
    assert "PartiallyFilledCanceled" in response.json()["detail"]
    trade = Trade.objects.get()
    assert trade.status == TradeStatus.FAILED and "nothing filled" in trade.status_reason
    assert_in_sync(fake_bybit)


# Defect 2: the stop-loss endpoint changes the trade too

def test_changing_the_stop_loss_through_the_api_changes_the_trade(api, fake_bybit):
    trade = open_manual(api, fake_bybit)
    new_stop = (price(fake_bybit) * Decimal("0.97")).quantize(Decimal("0.1")) + Decimal("0.04")  # off the tick
    target = (price(fake_bybit) * Decimal("1.05")).quantize(Decimal("0.1"))
    response = api.post("/api/bybit/stop-loss", {"symbol": SYMBOL, "stop_loss": str(new_stop),
                                                 "take_profit": str(target)}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["trade"] == trade.pk
    trade.refresh_from_db()
    assert (trade.stop_loss, trade.take_profit) == (new_stop - Decimal("0.04"), target)
    assert_in_sync(fake_bybit)
    api.post("/api/bybit/stop-loss", {"symbol": SYMBOL, "take_profit": "0"}, format="json")
    trade.refresh_from_db()
    assert trade.take_profit is None and trade.stop_loss == new_stop - Decimal("0.04")
    assert_in_sync(fake_bybit)


# Defect 3: close-position closes the trade at once

def test_close_position_closes_the_trade_at_once_and_frees_the_symbol(api, fake_bybit):
    trade = open_manual(api, fake_bybit)
    response = api.post("/api/bybit/close-position", {"symbol": SYMBOL}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["trade"] == trade.pk
    trade.refresh_from_db()
    assert (trade.status, trade.status_reason) == (TradeStatus.CLOSED, "closed by the operator")
    assert trade.realized_pnl is not None
    assert_in_sync(fake_bybit)
    again = api.post("/api/bybit/order", {"symbol": SYMBOL, "side": "Buy", "qty": "0.010"}, format="json")
    assert again.status_code == 201, again.json()


# Defect 4: a close that never reached the exchange is sent again, or the user is told it was not closed

def test_a_close_that_never_reached_the_exchange_is_sent_again_under_a_new_id(api, fake_bybit):
    trade = open_manual(api, fake_bybit)
    fake_bybit.fail(times=1, status=502, path="/v5/order/create")  # refused before the exchange took it
    response = api.post(f"/api/trades/{trade.pk}/close")
    assert response.status_code == 200, response.json()
    trade.refresh_from_db()
    assert trade.status == TradeStatus.CLOSED and trade.exit_order_link_id == f"tb-x-{trade.pk}-r1"
    links = [body["orderLinkId"] for body in fake_bybit.orders_received]
    assert links == [trade.order_link_id, f"tb-x-{trade.pk}-r1"]
    assert_in_sync(fake_bybit)


def test_a_close_lost_twice_is_reported_as_not_closed(api, fake_bybit):
    trade = open_manual(api, fake_bybit)
    fake_bybit.fail(times=2, status=502, path="/v5/order/create")
    response = api.post("/api/bybit/close-position", {"symbol": SYMBOL}, format="json")
    assert response.status_code == 503
    assert "was NOT closed" in response.json()["detail"] and "still open" in response.json()["detail"]
    trade.refresh_from_db()
    assert trade.status == TradeStatus.OPEN
    assert fake_bybit.state.positions[SYMBOL].size == Decimal("0.010")
    assert_in_sync(fake_bybit)
