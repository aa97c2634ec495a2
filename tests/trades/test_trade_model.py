from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from trades.models import Trade

pytestmark = pytest.mark.django_db


def make_trade(**overrides):
    values = {"symbol": "BTCUSDT", "side": "Buy", "quantity": Decimal("0.010"), "order_link_id": "tb-test-1"}
    values.update(overrides)
    return Trade.objects.create(**values)


@pytest.mark.parametrize(("field", "value"), [("side", "Long"), ("status", "lost"), ("quantity", Decimal("0")),
                                              ("confidence", 250)])
def test_it_is_refused_by_the_database_constraint(field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_trade(**{field: value})


def test_it_keeps_order_link_ids_unique():
    make_trade(status="closed")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_trade(status="closed", symbol="ETHUSDT")


def test_it_allows_one_live_trade_per_symbol_only():
    make_trade(order_link_id="a", status="open")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_trade(order_link_id="b", status="pending")
    make_trade(order_link_id="c", status="closed")
    make_trade(order_link_id="d", status="pending", symbol="ETHUSDT")
    assert Trade.objects.count() == 3


def test_it_stores_exact_decimals():
    trade = make_trade(price=Decimal("70070.53000001"), realized_pnl=Decimal("-12.34567891"))
    trade.refresh_from_db()
    assert trade.price == Decimal("70070.53000001")
    assert trade.realized_pnl == Decimal("-12.34567891")


def test_it_is_read_only_in_the_admin(logged_in_client):
    trade = make_trade()
    assert logged_in_client.get(f"/admin/trades/trade/{trade.pk}/change/").status_code == 200
    assert logged_in_client.get("/admin/trades/trade/add/").status_code == 403
    logged_in_client.post(f"/admin/trades/trade/{trade.pk}/change/", {"symbol": "ETHUSDT"})
    trade.refresh_from_db()
    assert trade.symbol == "BTCUSDT"
