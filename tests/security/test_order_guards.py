"""Order endpoints: the per-user live trading switch (off by default, not needed on paper), the per-user max
order notional under the global one, and the per-user order rate limit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from core.models import OperatorSettings
from trades.models import Trade, TradeStatus

pytestmark = pytest.mark.django_db

# Every endpoint that places, changes, closes or cancels something on the exchange: (method, path, body).
ORDER_WRITES = [
    ("post", "/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01"}),
    ("post", "/api/bybit/leverage", {"symbol": "BTCUSDT", "leverage": "3"}),
    ("post", "/api/bybit/stop-loss", {"symbol": "BTCUSDT", "stop_loss": "50000"}),
    ("post", "/api/bybit/close-position", {"symbol": "BTCUSDT"}),
    ("delete", "/api/bybit/order/some-order-id", None),
    ("delete", "/api/bybit/orders", None),
    ("post", "/api/trades/{trade}/close", None),
    ("delete", "/api/trades/{trade}/cancel", None),
]


@pytest.fixture
def testnet(app_on_fake_bybit):
    """The app's exchange is Bybit testnet (the fake server): real money rules apply."""
    return app_on_fake_bybit


@pytest.fixture
def operator(django_user_model):
    """A logged-in API user in the "trader" group (allowed to trade) with no operator settings stored: the
    defaults (tests/security/test_permissions.py covers users without the group)."""
    person = django_user_model.objects.create_user("operator", password=None)
    person.groups.add(Group.objects.get(name="trader"))
    client = APIClient()
    client.force_authenticate(person)
    client.person = person
    return client


def send(client, method, path, body, trade=None):
    path = path.format(trade=trade.pk if trade else 0)
    return getattr(client, method)(path, body, format="json") if body else getattr(client, method)(path)


def writes_reaching(fake) -> list[str]:
    return [request.path for request in fake.requests if request.method == "POST"]


def open_trade() -> Trade:
    return Trade.objects.create(symbol="BTCUSDT", side="Buy", quantity=Decimal("0.01"), price=Decimal("65000"),
                                status=TradeStatus.OPEN, order_link_id="guard-open-1")


@pytest.mark.parametrize(("method", "path", "body"), ORDER_WRITES, ids=[f"{m} {p}" for m, p, _ in ORDER_WRITES])
def test_on_a_real_exchange_an_order_write_needs_the_users_live_trading_switch(testnet, operator, method, path,
                                                                              body):
    response = send(operator, method, path, body, trade=open_trade())

    assert response.status_code == 403
    detail = response.json()["detail"]
    assert detail.startswith("Live trading is switched off for operator: orders on the testnet exchange need it.")
    assert "Bot \u203a Operator settings" in detail
    assert writes_reaching(testnet) == []


def test_reads_never_need_the_switch(testnet, operator):
    for path in ("/api/bybit/balance", "/api/bybit/orders", "/api/bybit/positions", "/api/trades"):
        assert operator.get(path).status_code == 200, path


def test_once_switched_on_the_same_order_reaches_the_exchange(testnet, operator):
    OperatorSettings.objects.create(user=operator.person, live_trading_enabled=True)

    response = operator.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01"}, format="json")

    assert response.status_code == 201, response.json()
    assert [order["orderLinkId"] for order in testnet.orders_received] == [response.json()["order_link_id"]]


def test_paper_trading_works_out_of_the_box_without_the_switch(paper, operator):
    response = operator.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01"}, format="json")
    assert response.status_code == 201, response.json()
    assert not OperatorSettings.objects.exists()  # reading the defaults stored nothing


def test_the_dashboards_close_button_obeys_the_switch_too(testnet, django_user_model):
    person = django_user_model.objects.create_user("clicker", password=None)
    person.groups.add(Group.objects.get(name="trader"))
    page = Client()
    page.force_login(person)
    trade = open_trade()

    response = page.post(f"/trades/{trade.pk}/close", follow=True)

    assert "Live trading is switched off for clicker" in response.content.decode()
    trade.refresh_from_db()
    assert trade.status == TradeStatus.OPEN and writes_reaching(testnet) == []


def test_an_order_above_the_users_own_notional_limit_is_refused_with_how_to_raise_it(paper, operator):
    OperatorSettings.objects.create(user=operator.person, max_order_notional=Decimal("100"))

    big = operator.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01"}, format="json")
    small = operator.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.001"}, format="json")

    assert big.status_code == 403
    detail = big.json()["detail"]
    assert "above operator's max order notional of 100.00 USDT" in detail
    assert "raise it in the admin, under Bot \u203a Operator settings, up to MAX_ORDER_NOTIONAL" in detail
    assert small.status_code == 201, small.json()


def test_a_users_limit_never_lifts_the_global_one(paper, operator, settings):
    settings.MAX_ORDER_NOTIONAL = Decimal("500")
    OperatorSettings.objects.create(user=operator.person, max_order_notional=Decimal("1000000"))  # past clean()

    response = operator.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01"}, format="json")

    assert response.status_code == 400
    assert "above the limit of 500 USDT (MAX_ORDER_NOTIONAL)" in response.json()["qty"][0]


def test_order_writes_are_rate_limited_per_user_with_a_clear_429(paper, operator, settings, django_user_model):
    settings.ORDER_RATE_LIMIT = "3/min"
    answers = [operator.post("/api/bybit/leverage", {"symbol": "BTCUSDT", "leverage": "2"}, format="json").status_code
               for _ in range(3)]
    refused = operator.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.001"}, format="json")

    assert answers == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many order requests: at most 3/min per user (ORDER_RATE_LIMIT). "
                                               "Expected available in ")
    assert 0 < int(refused["Retry-After"]) <= 60
    assert operator.get("/api/bybit/orders").status_code == 200  # reads are not counted
    other = APIClient()
    someone_else = django_user_model.objects.create_user("someone-else", password=None)
    someone_else.groups.add(Group.objects.get(name="trader"))
    other.force_authenticate(someone_else)
    assert other.post("/api/bybit/leverage", {"symbol": "BTCUSDT", "leverage": "2"}, format="json").status_code == 200


def test_the_admin_shows_the_switch_per_user(logged_in_client, user):
    listing = logged_in_client.get("/admin/tradebot/operatorsettings/").content.decode()
    user_page = logged_in_client.get(f"/admin/auth/user/{user.pk}/change/").content.decode()

    assert "Live trading enabled" in listing and "trader" in listing
    assert 'name="operator_settings-0-live_trading_enabled"' in user_page


def test_the_admin_refuses_a_user_limit_above_the_global_one(logged_in_client, settings, django_user_model):
    settings.MAX_ORDER_NOTIONAL = Decimal("1000")
    person = django_user_model.objects.create_user("capped", password=None)

    response = logged_in_client.post("/admin/tradebot/operatorsettings/add/", {
        "user": person.pk, "live_trading_enabled": "on", "max_order_notional": "5000"})

    assert response.status_code == 200
    assert "At most MAX_ORDER_NOTIONAL (1000 USDT)" in response.content.decode()
    assert not OperatorSettings.objects.filter(user=person).exists()
