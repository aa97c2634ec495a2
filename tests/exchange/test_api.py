"""The 13 /api/bybit endpoints, against the paper exchange and against BybitExchange on the fake Bybit server."""

from decimal import Decimal

import pytest

from exchange.factory import reset_exchange
from exchange.models import MarketSubscription

D = Decimal


@pytest.fixture(params=["paper", "bybit"])
def venue(request, settings, db):
    """Point the app's exchange at the paper exchange (bundled replay) or at the fake Bybit server."""
    if request.param == "paper":
        settings.EXCHANGE_MODE, settings.MARKET_DATA = "paper", "replay"
    else:
        fake = request.getfixturevalue("fake_bybit")
        settings.EXCHANGE_MODE, settings.BYBIT_BASE_URL = "testnet", fake.url
        settings.BYBIT_API_KEY, settings.BYBIT_API_SECRET = fake.api_key, fake.api_secret
    reset_exchange()
    yield request.param
    reset_exchange()


def test_every_endpoint_answers(api_client, venue):
    balance = api_client.get("/api/bybit/balance")
    assert balance.status_code == 200 and D(balance.json()["equity"]) > 0
    price = D(api_client.get("/api/bybit/price/BTCUSDT/").json()["last_price"])
    kline = api_client.get("/api/bybit/kline/BTCUSDT", {"interval": "15", "limit": 20}).json()
    assert len(kline["candles"]) == 20 and kline["interval"] == "15"
    assert all(candle["closed"] for candle in kline["candles"][:-1])

    assert api_client.post("/api/bybit/leverage", {"symbol": "BTCUSDT", "leverage": "3"}, format="json").json() == {
        "symbol": "BTCUSDT", "leverage": "3.00"}
    placed = api_client.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01"}, format="json")
    assert placed.status_code == 201, placed.json()
    order = placed.json()
    assert order["status"] == "Filled"
    assert order["order_link_id"].startswith("man-") and len(order["order_link_id"]) == 36
    [position] = api_client.get("/api/bybit/positions", {"symbol": "BTCUSDT"}).json()
    assert position["side"] == "Buy" and D(position["size"]) == D("0.01")

    stop = str((price * D("0.9")).quantize(D("1")))
    assert api_client.post("/api/bybit/stop-loss", {"symbol": "BTCUSDT", "stop_loss": stop},
                           format="json").status_code == 200
    assert D(api_client.get("/api/bybit/positions").json()[0]["stop_loss"]) == D(stop)
    history = api_client.get("/api/bybit/history", {"limit": 10}).json()
    assert order["order_id"] in [row["order_id"] for row in history]

    # One live trade per symbol: the resting limit orders go on ETH, where the bot holds nothing.
    far = str((D(api_client.get("/api/bybit/price/ETHUSDT").json()["last_price"]) * D("0.5")).quantize(D("1")))
    resting = api_client.post("/api/bybit/order", {"symbol": "ETHUSDT", "side": "Buy", "qty": "0.1",
                                                   "order_type": "Limit", "price": far,
                                                   "order_link_id": "api-limit-1"}, format="json").json()
    assert resting["status"] == "New" and resting["order_link_id"] == "api-limit-1"
    assert [row["order_id"] for row in api_client.get("/api/bybit/orders").json()] == [resting["order_id"]]
    cancelled = api_client.delete(f"/api/bybit/order/{resting['order_id']}")
    assert cancelled.status_code == 200 and cancelled.json()["cancelled"] is True
    second = api_client.post("/api/bybit/order", {"symbol": "ETHUSDT", "side": "Buy", "qty": "0.1",
                                                  "order_type": "Limit", "price": far}, format="json")
    assert second.status_code == 201, second.json()  # the cancelled order's pending trade no longer blocks ETH
    assert api_client.delete("/api/bybit/orders", QUERY_STRING="symbol=ETHUSDT").json() == {"cancelled": 1}
    assert api_client.get("/api/bybit/orders").json() == []

    closed = api_client.post("/api/bybit/close-position", {"symbol": "BTCUSDT"}, format="json")
    assert closed.status_code == 200 and closed.json()["reduce_only"] is True and closed.json()["side"] == "Sell"
    again = api_client.post("/api/bybit/close-position", {"symbol": "BTCUSDT"}, format="json")
    assert again.status_code == 409 and "no open position" in again.json()["detail"]

    subscribed = api_client.post("/api/bybit/subscribe", {"symbols": ["ETHUSDT", "BTCUSDT"]}, format="json")
    assert subscribed.status_code == 200 and subscribed.json()["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert MarketSubscription.objects.count() == 2


BAD_REQUESTS = [
    ("post", "/api/bybit/order", {"symbol": "btcusdt", "side": "Buy", "qty": "0.01"}, "symbol", "in capitals"),
    ("post", "/api/bybit/order", {"symbol": "BTCUSDT", "side": "Up", "qty": "0.01"}, "side", "Buy or Sell"),
    ("post", "/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "-1"}, "qty", "greater than 0"),
    ("post", "/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "lots"}, "qty", "valid number"),
    ("post", "/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01", "order_type": "Limit"},
     "price", "needs a price"),
    ("post", "/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "1000"}, "qty", "MAX_ORDER_NOTIONAL"),
    ("post", "/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01", "order_link_id": "x" * 37},
     "order_link_id", "1-36 characters"),
    ("post", "/api/bybit/leverage", {"symbol": "BTCUSDT", "leverage": "101"}, "leverage", "between 1 and 100"),
    ("post", "/api/bybit/stop-loss", {"symbol": "BTCUSDT"}, "stop_loss", "stop_loss, a take_profit"),
    ("post", "/api/bybit/close-position", {"symbol": "BTC/USDT"}, "symbol", "in capitals"),
    ("post", "/api/bybit/subscribe", {"symbols": []}, "symbols", ""),
    ("get", "/api/bybit/kline/BTCUSDT", {"interval": "7"}, "interval", "must be one of"),
    ("get", "/api/bybit/kline/BTCUSDT", {"limit": "1001"}, "limit", "1000"),
    ("get", "/api/bybit/price/eth", {}, "symbol", "in capitals"),
    ("get", "/api/bybit/history", {"limit": "0"}, "limit", "greater than or equal to 1"),
    ("get", "/api/bybit/positions", {"symbol": "BTC"}, "symbol", "in capitals"),
]


@pytest.mark.parametrize(("method", "path", "data", "field", "reason"), BAD_REQUESTS,
                         ids=[f"{row[1].split('/')[3]}-{row[3]}-{i}" for i, row in enumerate(BAD_REQUESTS)])
def test_bad_input_answers_400_naming_the_field_and_the_reason(api_client, venue, method, path, data, field, reason):
    kwargs = {"format": "json"} if method == "post" else {}
    response = getattr(api_client, method)(path, data, **kwargs)
    assert response.status_code == 400, response.content
    assert reason in " ".join(map(str, response.json()[field]))


def test_a_symbol_the_exchange_does_not_list_is_refused_on_the_symbol_field(api_client, venue):
    response = api_client.post("/api/bybit/order", {"symbol": "DOGEUSDT", "side": "Buy", "qty": "100"}, format="json")
    assert response.status_code == 400
    expected = "not in the bundled replay data" if venue == "paper" else "not listed on Bybit"
    assert expected in response.json()["symbol"][0]


def test_an_order_below_the_minimum_size_answers_400_with_the_rule(api_client, venue):
    response = api_client.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.0001"}, format="json")
    assert response.status_code == 400 and "below the minimum order size 0.001" in response.json()["detail"]


def test_an_order_the_exchange_refuses_answers_502_with_the_exchanges_message(api_client, venue, request):
    if venue == "bybit":
        request.getfixturevalue("fake_bybit").reject_next_order(110007, "ab not enough for new order")
        qty = "0.01"
    else:
        qty = "0.5"  # about 40,000 USDT at 1x: more than the paper account's 10,000
    response = api_client.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": qty}, format="json")
    assert response.status_code == 502
    assert "ab not enough for new order" in response.json()["detail"] and response.json()["ret_code"] == 110007


def test_cancelling_an_order_that_is_not_open_answers_404(api_client, venue):
    assert api_client.delete("/api/bybit/order/no-such-order").status_code == 404
    response = api_client.delete("/api/bybit/order/no-such-order", QUERY_STRING="symbol=BTCUSDT")
    assert response.status_code == 404 and "order not exists" in response.json()["detail"]


def test_the_endpoints_require_a_login(anonymous_api_client, db):
    assert anonymous_api_client.get("/api/bybit/balance").status_code in (401, 403)
    assert anonymous_api_client.post("/api/bybit/order", {}, format="json").status_code in (401, 403)
