"""An order from the API is recorded as a manual trade before it is sent, like the cycle's."""

import pytest
from django.test import override_settings

from exchange.factory import reset_exchange
from trades.models import Trade, TradeStatus


@pytest.fixture
def api(fake_bybit, api_client, transactional_db):
    with override_settings(EXCHANGE_MODE="testnet", BYBIT_API_KEY=fake_bybit.api_key,
                           BYBIT_API_SECRET=fake_bybit.api_secret, BYBIT_BASE_URL=fake_bybit.url):
        reset_exchange()
        yield api_client
    reset_exchange()


def test_an_opening_order_becomes_a_manual_trade(api, fake_bybit):
    response = api.post("/api/bybit/order", {"symbol": "ETHUSDT", "side": "Buy", "qty": "0.5"}, format="json")
    assert response.status_code == 201, response.json()
    trade = Trade.objects.get()
    [sent] = fake_bybit.orders_received
    assert (trade.strategy, trade.status, trade.order_link_id) == (None, TradeStatus.OPEN, sent["orderLinkId"])
    assert response.json()["order_link_id"] == trade.order_link_id


def test_a_second_opening_order_on_a_held_symbol_is_refused_before_sending(api, fake_bybit):
    api.post("/api/bybit/order", {"symbol": "ETHUSDT", "side": "Buy", "qty": "0.5"}, format="json")
    response = api.post("/api/bybit/order", {"symbol": "ETHUSDT", "side": "Buy", "qty": "0.5"}, format="json")
    assert response.status_code == 409
    assert "already has a pending or open trade" in response.json()["detail"]
    assert len(fake_bybit.orders_received) == 1


def test_a_reduce_only_order_records_no_new_trade(api, fake_bybit):
    api.post("/api/bybit/order", {"symbol": "ETHUSDT", "side": "Buy", "qty": "0.5"}, format="json")
    response = api.post("/api/bybit/order", {"symbol": "ETHUSDT", "side": "Sell", "qty": "0.2", "reduce_only": True},
                        format="json")
    assert response.status_code == 201
    assert Trade.objects.count() == 1 and len(fake_bybit.orders_received) == 2


def test_a_refused_order_leaves_a_failed_trade_with_the_exchange_message(api, fake_bybit):
    fake_bybit.reject_next_order(110007, "ab not enough for new order")
    response = api.post("/api/bybit/order", {"symbol": "ETHUSDT", "side": "Buy", "qty": "0.5"}, format="json")
    assert response.status_code == 502
    assert "ab not enough for new order" in response.json()["detail"]
    trade = Trade.objects.get()
    assert trade.status == TradeStatus.FAILED and "ab not enough" in trade.status_reason


def test_cancelling_a_resting_order_cancels_its_pending_trade(api, fake_bybit):
    placed = api.post("/api/bybit/order", {"symbol": "ETHUSDT", "side": "Buy", "qty": "0.5", "order_type": "Limit",
                                           "price": "100"}, format="json").json()
    trade = Trade.objects.get()
    assert trade.status == TradeStatus.PENDING
    assert api.delete(f"/api/bybit/order/{placed['order_id']}").status_code == 200
    trade.refresh_from_db()
    assert (trade.status, trade.status_reason) == (TradeStatus.CANCELLED, "order cancelled through the exchange API")
