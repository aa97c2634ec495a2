"""A new Strategy starts from its class's exit settings (freqtrade's attributes) where its creator says nothing;
the API and the admin read and write every exit field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from strategies.catalogue import exit_defaults
from strategies.models import Strategy

pytestmark = pytest.mark.django_db


def test_the_donchian_example_maps_its_attributes_to_strategy_fields():
    # stoploss -0.03, no fixed target, half banked at +3 %.
    assert exit_defaults("donchian_breakout") == {
        "stop_loss_percentage": Decimal("3.00"), "trailing_stop_percentage": None,
        "trailing_activation_percentage": None, "exit_after_candles": None,
        "take_profit_targets": [{"percent": "3.00", "share": "0.5"}]}
    assert exit_defaults("no such class") == {}


def test_an_api_create_takes_the_class_exits_it_does_not_name(api_client):
    response = api_client.post("/api/strategies", {
        "name": "breakouts", "type": "donchian_breakout", "symbols": ["BTCUSDT"], "timeframe": "15",
        "stop_loss_percentage": "2.5"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stop_loss_percentage"] == "2.50"  # said: kept
    assert body["take_profit_targets"] == [{"percent": "3.00", "share": "0.5"}]  # not said: the class's
    strategy = Strategy.objects.get(name="breakouts")
    assert strategy.take_profit_targets == [{"percent": "3.00", "share": "0.5"}]


def test_the_api_changes_the_exit_fields_and_refuses_bad_ones(api_client, make_strategy):
    strategy = make_strategy(name="trailer", is_active=False)
    response = api_client.patch(f"/api/strategies/{strategy.pk}", {
        "trailing_stop_percentage": "0.8", "exit_after_candles": 12}, format="json")
    assert response.status_code == 200, response.content
    strategy.refresh_from_db()
    assert (strategy.trailing_stop_percentage, strategy.exit_after_candles) == (Decimal("0.80"), 12)
    refused = api_client.patch(f"/api/strategies/{strategy.pk}", {
        "take_profit_targets": [{"percent": 1, "share": 0.7}, {"percent": 2, "share": 0.7}]}, format="json")
    assert refused.status_code == 400 and "take_profit_targets" in refused.json()
    strategy.refresh_from_db()
    assert strategy.take_profit_targets == []


def test_the_admin_add_page_starts_from_the_chosen_class_and_shows_every_exit_field(logged_in_client):
    page = logged_in_client.get("/admin/strategies/strategy/add/?type=donchian_breakout").content.decode()
    assert 'name="stop_loss_percentage" value="3.00"' in page
    for field in ("trailing_stop_percentage", "trailing_activation_percentage", "exit_after_candles",
                  "take_profit_targets"):
        assert f'name="{field}"' in page
