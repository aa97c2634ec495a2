"""The Django admin is the strategy CRUD screen."""

import pytest

from strategies.models import Strategy

pytestmark = pytest.mark.django_db

FORM = {
    "name": "BTC scalper", "type": "scalping", "symbols": "BTCUSDT, ethusdt", "timeframe": "5",
    "confirm_timeframe": "", "risk_percentage": "1", "max_positions": "2", "stop_loss_percentage": "1",
    "take_profit_percentage": "2", "leverage": "1", "max_daily_loss_percentage": "", "min_ai_confidence": "70",
    "indicators": "{}", "pause_reason": "",
}


def test_it_creates_a_strategy_from_the_form(logged_in_client):
    response = logged_in_client.post("/admin/strategies/strategy/add/", FORM)
    assert response.status_code == 302
    strategy = Strategy.objects.get(name="BTC scalper")
    assert strategy.symbols == ["BTCUSDT", "ETHUSDT"]
    assert strategy.indicators == {}


def test_it_shows_why_a_risk_of_150_percent_is_refused(logged_in_client):
    response = logged_in_client.post("/admin/strategies/strategy/add/", {**FORM, "risk_percentage": "150",
                                                                          "max_positions": "0"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ensure this value is less than or equal to 100." in body
    assert "Ensure this value is greater than or equal to 1." in body
    assert not Strategy.objects.exists()


def test_it_shows_why_an_indicator_config_is_refused(logged_in_client):
    response = logged_in_client.post("/admin/strategies/strategy/add/", {**FORM, "indicators": '{"ema_short": 50}'})
    assert "ema_short (50) must be shorter than ema_long (21)" in response.content.decode()
    assert not Strategy.objects.exists()


def test_it_lists_filters_and_bulk_activates(logged_in_client, make_strategy):
    first = make_strategy(name="alpha", is_active=False)
    second = make_strategy(name="beta", is_active=False, type="trend_following")
    listing = logged_in_client.get("/admin/strategies/strategy/?type__exact=trend_following")
    assert "beta" in listing.content.decode() and "alpha" not in listing.content.decode()
    response = logged_in_client.post("/admin/strategies/strategy/", {
        "action": "activate", "_selected_action": [first.pk, second.pk]}, follow=True)
    assert "2 strategies activated" in response.content.decode()
    assert Strategy.objects.filter(is_active=True).count() == 2
