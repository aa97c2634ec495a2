"""Close and cancel through the API, against the fake Bybit server (the exchange the API is configured with)."""

from decimal import Decimal

import pytest
from django.test import override_settings

from exchange.factory import reset_exchange
from trades.models import Trade, TradeStatus


@pytest.fixture
def api_on_fake_bybit(fake_bybit, api_client):
    with override_settings(EXCHANGE_MODE="testnet", BYBIT_API_KEY=fake_bybit.api_key,
                           BYBIT_API_SECRET=fake_bybit.api_secret, BYBIT_BASE_URL=fake_bybit.url):
        reset_exchange()
        yield api_client
    reset_exchange()


def test_closing_an_open_trade_closes_the_position_once(long_signal, make_cycle, fake_bybit, api_on_fake_bybit):
    strategy, _ = long_signal
    make_cycle().run([strategy])
    trade = Trade.objects.get()

    response = api_on_fake_bybit.post(f"/api/trades/{trade.pk}/close")
    again = api_on_fake_bybit.post(f"/api/trades/{trade.pk}/close")

    assert response.status_code == 200, response.json()
    trade.refresh_from_db()
    assert trade.status == TradeStatus.CLOSED and trade.exit_order_link_id == f"tb-x-{trade.pk}"
    assert response.json()["status"] == "closed"
    assert again.status_code == 409
    assert [o["side"] for o in fake_bybit.orders_received] == ["Buy", "Sell"]
    assert trade.realized_pnl == -trade.fees  # closed at the entry price: both fees lost
    assert not fake_bybit.state.positions["BTCUSDT"].size


def test_cancelling_a_pending_trade_whose_order_never_arrived(fake_bybit, api_on_fake_bybit, transactional_db):
    trade = Trade.objects.create(symbol="ETHUSDT", side="Buy", quantity=Decimal("0.1"), order_link_id="tb-lost-1")
    response = api_on_fake_bybit.delete(f"/api/trades/{trade.pk}/cancel")
    assert response.status_code == 200
    trade.refresh_from_db()
    assert (trade.status, trade.status_reason) == (TradeStatus.CANCELLED, "cancelled by the operator")


def test_a_pending_trade_whose_order_filled_cannot_be_cancelled(fake_bybit, bybit, api_on_fake_bybit,
                                                                transactional_db):
    from market.types import OrderRequest, Side

    bybit.place_order(OrderRequest(symbol="ETHUSDT", side=Side.BUY, qty=Decimal("0.1"), order_link_id="tb-filled-1"))
    trade = Trade.objects.create(symbol="ETHUSDT", side="Buy", quantity=Decimal("0.1"), order_link_id="tb-filled-1")
    response = api_on_fake_bybit.delete(f"/api/trades/{trade.pk}/cancel")
    assert response.status_code == 409
    assert "already filled" in response.json()["detail"]
    trade.refresh_from_db()
    assert trade.status == TradeStatus.PENDING
