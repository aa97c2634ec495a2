"""The dashboard's order form (issue 18, defect 10): a manual order from the page, through the API's own
validation, guards and service."""

from trades.models import Trade, TradeStatus


def test_an_order_from_the_dashboard_opens_a_manual_trade(logged_in_client, paper):
    page = logged_in_client.get("/").content.decode()
    assert 'id="order-card"' in page and 'hx-post="/orders/new"' in page
    response = logged_in_client.post("/orders/new", {"symbol": "btcusdt", "side": "Buy", "qty": "0.01",
                                                     "order_type": "Market"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    trade = Trade.objects.get()
    assert (trade.symbol, trade.status, trade.strategy) == ("BTCUSDT", TradeStatus.OPEN, None)
    assert "Buy 0.01" in response.content.decode() and "BTCUSDT: Filled" in response.content.decode()


def test_a_bad_order_is_refused_field_by_field_and_nothing_is_sent(logged_in_client, paper):
    response = logged_in_client.post("/orders/new", {"symbol": "BTCUSDT", "side": "Buy", "qty": "-1",
                                                     "order_type": "Limit"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    body = response.content.decode()
    assert '<div class="field invalid"><label for="order-qty">' in body and "must be a number greater than 0" in body
    assert not Trade.objects.exists()


def test_with_the_live_switch_off_the_form_reaches_no_exchange(client, django_user_model, app_on_fake_bybit):
    user = django_user_model.objects.create_superuser("nolive", "n@example.com", "pw")  # switch off by default
    client.force_login(user)
    response = client.post("/orders/new", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01"})
    assert response.status_code == 403 and "Live trading is switched off" in response.content.decode()
    assert app_on_fake_bybit.orders_received == [] and not Trade.objects.exists()

