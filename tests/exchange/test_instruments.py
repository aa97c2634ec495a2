"""Conforming orders to Bybit's instrument rules before they are sent."""

from decimal import Decimal

import pytest

from market.errors import InvalidOrderError
from market.instruments import BUNDLED_RULES, RulesCache, conform
from market.types import OrderRequest, OrderType, Side

D = Decimal
BTC = BUNDLED_RULES["BTCUSDT"]


def request(qty="0.01", **kwargs):
    return OrderRequest(symbol="BTCUSDT", side=Side.BUY, qty=D(qty), order_link_id=kwargs.pop("link", "x-1"), **kwargs)


def test_it_rounds_quantity_down_and_prices_to_the_tick():
    conformed = conform(request("0.0129", order_type=OrderType.LIMIT, price=D("60000.06"),
                                stop_loss=D("59000.04"), take_profit=D("61000.05")), BTC)
    assert (conformed.qty, conformed.price, conformed.stop_loss, conformed.take_profit) == (
        D("0.012"), D("60000.1"), D("59000.0"), D("61000.1"))


def test_it_refuses_below_the_minimum_size_above_the_maximum_and_below_the_minimum_value():
    with pytest.raises(InvalidOrderError, match="below the minimum order size 0.001"):
        conform(request("0.0009"), BTC)
    with pytest.raises(InvalidOrderError, match="above the maximum order size 119"):
        conform(request("120"), BTC)  # market orders have their own, lower cap
    assert conform(request("120", order_type=OrderType.LIMIT, price=D("1")), BTC).qty == D("120")
    with pytest.raises(InvalidOrderError, match="below the minimum 5"):
        conform(request("0.001"), BTC, reference_price=D("4000"))


def test_a_reduce_only_order_may_be_worth_less_than_the_minimum_value():
    assert conform(request("0.001", reduce_only=True), BTC, reference_price=D("4000")).qty == D("0.001")


def test_it_refuses_an_order_link_id_bybit_would_refuse():
    with pytest.raises(InvalidOrderError, match="orderLinkId"):
        conform(request(link="has spaces"), BTC)
    with pytest.raises(InvalidOrderError, match="limit order needs a price"):
        conform(request(order_type=OrderType.LIMIT), BTC)


def test_the_rules_cache_fetches_again_only_after_its_ttl():
    calls, now = [], [0.0]
    cache = RulesCache(lambda symbol: calls.append(symbol) or BTC, ttl=3600, clock=lambda: now[0])
    cache.get("BTCUSDT")
    cache.get("BTCUSDT")
    now[0] = 3601
    cache.get("BTCUSDT")
    assert calls == ["BTCUSDT", "BTCUSDT"]
