"""The seven strategy endpoints under /api/strategies, and every way a body is refused."""

from decimal import Decimal

import pytest

from strategies.models import Strategy
from trades.models import Trade

pytestmark = pytest.mark.django_db

BODY = {
    "name": "BTC scalper", "type": "scalping", "symbols": ["BTCUSDT", "ETHUSDT"], "timeframe": "1",
    "confirm_timeframe": "", "risk_percentage": "1.50", "max_positions": 2, "stop_loss_percentage": "1.00",
    "take_profit_percentage": "2.00", "leverage": "3.00", "max_daily_loss_percentage": None,
    "use_ai_confirmation": True, "min_ai_confidence": 75, "indicators": {"rsi_period": 7},
}


def test_it_creates_a_strategy_and_answers_with_it(api_client):
    response = api_client.post("/api/strategies", BODY, format="json")
    assert response.status_code == 201, response.data
    strategy = Strategy.objects.get(name="BTC scalper")
    assert strategy.symbols == ["BTCUSDT", "ETHUSDT"]
    assert strategy.risk_percentage == Decimal("1.50") and strategy.leverage == Decimal("3.00")
    assert strategy.is_active is False  # a new strategy waits to be activated
    body = response.json()
    assert body["id"] == strategy.pk
    assert body["indicators"] == {"rsi_period": 7}
    assert body["indicator_config"]["rsi_period"] == 7 and body["indicator_config"]["ema_long"] == 21
    assert body["risk_percentage"] == "1.50"


def test_it_lists_paginated_and_filters_by_type_and_active_state(api_client, make_strategy):
    make_strategy(name="alpha", type="scalping", is_active=True)
    make_strategy(name="beta", type="trend_following", is_active=True)
    make_strategy(name="gamma", type="trend_following", is_active=False)
    everything = api_client.get("/api/strategies/").json()
    assert everything["count"] == 3 and [s["name"] for s in everything["results"]] == ["alpha", "beta", "gamma"]
    assert everything["next"] is None
    trend = api_client.get("/api/strategies?type=trend_following").json()["results"]
    assert [s["name"] for s in trend] == ["beta", "gamma"]
    active_trend = api_client.get("/api/strategies?type=trend_following&is_active=true").json()["results"]
    assert [s["name"] for s in active_trend] == ["beta"]
    inactive = api_client.get("/api/strategies?is_active=false").json()["results"]
    assert [s["name"] for s in inactive] == ["gamma"]


def test_it_refuses_an_unknown_type_filter(api_client):
    response = api_client.get("/api/strategies?type=martingale")
    assert response.status_code == 400
    assert "martingale" in str(response.json()["type"])


def test_it_gets_one_strategy_and_answers_404_for_a_missing_one(api_client, make_strategy):
    strategy = make_strategy(name="alpha")
    assert api_client.get(f"/api/strategies/{strategy.pk}").json()["name"] == "alpha"
    assert api_client.get(f"/api/strategies/{strategy.pk + 1000}/").status_code == 404
    assert api_client.post(f"/api/strategies/{strategy.pk + 1000}/activate").status_code == 404


def test_put_replaces_the_strategy(api_client, make_strategy):
    strategy = make_strategy(name="alpha")
    response = api_client.put(f"/api/strategies/{strategy.pk}", {**BODY, "name": "renamed", "type": "trend_following",
                                                                 "confirm_timeframe": "15"}, format="json")
    assert response.status_code == 200, response.data
    strategy.refresh_from_db()
    assert (strategy.name, strategy.type, strategy.timeframe, strategy.confirm_timeframe) == (
        "renamed", "trend_following", "1", "15")


def test_patch_changes_only_the_fields_sent(api_client, make_strategy):
    strategy = make_strategy(name="alpha", timeframe="5", max_positions=3)
    response = api_client.patch(f"/api/strategies/{strategy.pk}/", {"max_positions": 5}, format="json")
    assert response.status_code == 200
    strategy.refresh_from_db()
    assert (strategy.name, strategy.timeframe, strategy.max_positions) == ("alpha", "5", 5)


def test_patch_checks_rules_that_span_fields_against_the_stored_values(api_client, make_strategy):
    strategy = make_strategy(timeframe="15")
    response = api_client.patch(f"/api/strategies/{strategy.pk}", {"confirm_timeframe": "5"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"confirm_timeframe": [
        "The confirmation timeframe must be longer than the strategy's timeframe."]}
    assert Strategy.objects.get(pk=strategy.pk).confirm_timeframe == ""


def test_patch_refuses_a_leverage_that_would_liquidate_before_the_stored_stop_loss(api_client, make_strategy):
    strategy = make_strategy(stop_loss_percentage=Decimal("2"), leverage=Decimal("5"))
    response = api_client.patch(f"/api/strategies/{strategy.pk}", {"leverage": "50"}, format="json")
    assert response.status_code == 400
    assert "liquidated about 1.50% from its entry, before a 2% stop-loss" in response.json()["stop_loss_percentage"][0]
    assert Strategy.objects.get(pk=strategy.pk).leverage == Decimal("5")
    response = api_client.patch(f"/api/strategies/{strategy.pk}", {"leverage": "40"}, format="json")
    assert response.status_code == 400  # 1/40 - 0.5% = 2%: liquidated at the stop itself, which is no protection
    response = api_client.patch(f"/api/strategies/{strategy.pk}", {"leverage": "30"}, format="json")
    assert response.status_code == 200  # 1/30 - 0.5% = 2.83%: the 2% stop fires first
    assert Strategy.objects.get(pk=strategy.pk).leverage == Decimal("30")


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"risk_percentage": "150"}, "risk_percentage", "Ensure this value is less than or equal to 100."),
    ({"risk_percentage": "0"}, "risk_percentage", "Ensure this value is greater than or equal to 0.01."),
    ({"max_positions": 0}, "max_positions", "Ensure this value is greater than or equal to 1."),
    ({"stop_loss_percentage": "100"}, "stop_loss_percentage", "Ensure this value is less than or equal to 99.99."),
    ({"take_profit_percentage": "0"}, "take_profit_percentage", "Ensure this value is greater than or equal to 0.01."),
    ({"leverage": "0.5"}, "leverage", "Ensure this value is greater than or equal to 1."),
    ({"leverage": "100", "stop_loss_percentage": "1"}, "stop_loss_percentage",
     "At 100x leverage a position is liquidated about 0.50% from its entry, before a 1% stop-loss could close it. "
     "Use a stop-loss below 0.50% or a leverage below 66.66x."),
    ({"min_ai_confidence": 101}, "min_ai_confidence", "Ensure this value is less than or equal to 100."),
    ({"max_daily_loss_percentage": "0"}, "max_daily_loss_percentage",
     "Ensure this value is greater than or equal to 0.01."),
    ({"indicators": {"rsi_perod": 7}}, "indicators", "Unknown indicator setting 'rsi_perod'; known settings: "),
    ({"indicators": {"ema_short": 30}}, "indicators", "ema_short (30) must be shorter than ema_long (21)."),
    ({"indicators": {"bb_period": 0}}, "indicators", "bb_period must be greater than 0, got 0."),
    ({"indicators": [14]}, "indicators", "Indicators must be a JSON object"),
    ({"symbols": ["btcusdt"]}, "symbols", "'btcusdt': a symbol is a USDT perpetual in capitals, such as BTCUSDT."),
    ({"symbols": ["BTC/USDT", "ETHUSDT"]}, "symbols", "'BTC/USDT': a symbol is a USDT perpetual"),
    ({"symbols": []}, "symbols", "Symbols must be a non-empty list"),
    ({"symbols": ["BTCUSDT", "BTCUSDT"]}, "symbols", "Each symbol may appear only once."),
    ({"symbols": "BTCUSDT"}, "symbols", "Symbols must be a non-empty list"),
    ({"type": "martingale"}, "type", '"martingale" is not a strategy type; use one of '),
    ({"timeframe": "7"}, "timeframe", '"7" is not a Bybit kline interval; use one of 1, 3, 5, 15,'),
    ({"confirm_timeframe": "2"}, "confirm_timeframe", '"2" is not a Bybit kline interval'),
    ({"confirm_timeframe": "1"}, "confirm_timeframe", "must be longer than the strategy's timeframe"),
    ({"name": ""}, "name", "This field may not be blank."),
])
def test_it_refuses_a_bad_body_with_400_naming_the_field_and_the_reason(api_client, change, field, message):
    response = api_client.post("/api/strategies", {**BODY, **change}, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert not Strategy.objects.exists()


def test_it_refuses_a_duplicate_name_and_a_missing_required_field(api_client, make_strategy):
    make_strategy(name="BTC scalper")
    response = api_client.post("/api/strategies", BODY, format="json")
    assert response.status_code == 400
    assert response.json() == {"name": ["strategy with this name already exists."]}
    response = api_client.post("/api/strategies", {"name": "x"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"type", "symbols"}


def test_read_only_fields_are_ignored_on_write(api_client, make_strategy):
    strategy = make_strategy(name="alpha")
    api_client.patch(f"/api/strategies/{strategy.pk}", {"pause_reason": "x", "paused_until": "2030-01-01T00:00:00Z",
                                                        "id": 999}, format="json")
    strategy.refresh_from_db()
    assert (strategy.pk, strategy.pause_reason, strategy.paused_until) != (999, "x", None)
    assert strategy.pause_reason == "" and strategy.paused_until is None


def test_activate_and_deactivate_switch_the_strategy(api_client, make_strategy):
    strategy = make_strategy(name="alpha", is_active=False)
    response = api_client.post(f"/api/strategies/{strategy.pk}/activate")
    assert response.status_code == 200 and response.json()["is_active"] is True
    assert Strategy.objects.get(pk=strategy.pk).is_active is True
    assert api_client.post(f"/api/strategies/{strategy.pk}/activate/").json()["is_active"] is True  # idempotent
    response = api_client.post(f"/api/strategies/{strategy.pk}/deactivate")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert Strategy.objects.get(pk=strategy.pk).is_active is False


def test_it_deletes_a_strategy_without_trades(api_client, make_strategy):
    strategy = make_strategy(name="alpha")
    assert api_client.delete(f"/api/strategies/{strategy.pk}").status_code == 204
    assert not Strategy.objects.filter(pk=strategy.pk).exists()


def test_it_refuses_to_delete_a_strategy_with_trades_with_409(api_client, make_strategy):
    strategy = make_strategy(name="alpha")
    for number, symbol in enumerate(["BTCUSDT", "ETHUSDT"]):
        Trade.objects.create(strategy=strategy, symbol=symbol, side="Buy", quantity=Decimal("0.01"),
                             order_link_id=f"test-{number}", status="closed")
    response = api_client.delete(f"/api/strategies/{strategy.pk}/")
    assert response.status_code == 409
    assert response.json() == {"detail": 'Strategy "alpha" has 2 trades; deactivate it instead.'}
    assert Strategy.objects.filter(pk=strategy.pk).exists()


def test_every_endpoint_needs_a_login(anonymous_api_client, make_strategy):
    strategy = make_strategy(name="alpha")
    for method, path in [("get", "/api/strategies"), ("post", "/api/strategies"),
                         ("get", f"/api/strategies/{strategy.pk}"), ("put", f"/api/strategies/{strategy.pk}"),
                         ("patch", f"/api/strategies/{strategy.pk}"), ("delete", f"/api/strategies/{strategy.pk}"),
                         ("post", f"/api/strategies/{strategy.pk}/activate"),
                         ("post", f"/api/strategies/{strategy.pk}/deactivate")]:
        response = getattr(anonymous_api_client, method)(path, format="json")
        assert response.status_code in (401, 403), (method, path)
    assert Strategy.objects.get(pk=strategy.pk).name == "alpha"


def test_a_symbol_the_replay_cannot_serve_is_refused_with_the_ones_it_can(api_client, settings, client, user):
    """Issue 18, defect 6: a DOGEUSDT strategy was accepted on replay data that has no DOGEUSDT, then failed every
    cycle. It is refused where it is saved (API, form, admin: the model's validator), saying what replay has."""
    settings.EXCHANGE_MODE, settings.MARKET_DATA = "paper", "replay"

    response = api_client.post("/api/strategies", {**BODY, "symbols": ["BTCUSDT", "DOGEUSDT"]}, format="json")

    assert response.status_code == 400
    [message] = response.json()["symbols"]
    assert message.startswith("DOGEUSDT: not in the bundled replay data, which has BTCUSDT, ETHUSDT, SOLUSDT.")
    assert "MARKET_DATA=bybit" in message
    client.force_login(user)
    page = client.post("/strategies/new", {"name": "doge", "type": "scalping", "symbols": "DOGEUSDT",
                                           "timeframe": "5", "risk_percentage": "1", "max_positions": "1",
                                           "stop_loss_percentage": "1", "take_profit_percentage": "2",
                                           "leverage": "1", "min_ai_confidence": "70"})
    assert "not in the bundled replay data" in page.content.decode()
    assert not Strategy.objects.exists()

    settings.MARKET_DATA = "bybit"  # Bybit's prices serve any listed perpetual
    assert api_client.post("/api/strategies", {**BODY, "symbols": ["DOGEUSDT"]}, format="json").status_code == 201
