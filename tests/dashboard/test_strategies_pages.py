"""Strategy pages: list with the last decision per symbol and its reasons, create / edit validated exactly
like the API, activate / deactivate with htmx."""

import html
from decimal import Decimal

import pytest
from django.utils import timezone

from strategies.models import Strategy
from trades.models import Decision

VALID = {"name": "Scalper", "type": "scalping", "symbols": "btcusdt, ETHUSDT", "timeframe": "5",
         "confirm_timeframe": "", "risk_percentage": "1", "max_positions": "2", "stop_loss_percentage": "1",
         "take_profit_percentage": "2", "leverage": "1", "max_daily_loss_percentage": "",
         "min_ai_confidence": "70"}


def api_body(form: dict) -> dict:
    """The same strategy as the API takes it."""
    body = {key: value for key, value in form.items() if value != "" or key == "confirm_timeframe"}
    body["symbols"] = [symbol.strip().upper() for symbol in form["symbols"].split(",") if symbol.strip()]
    body["use_ai_confirmation"] = "use_ai_confirmation" in form
    body["indicators"] = {key[4:]: int(float(value)) if float(value).is_integer() else float(value)
                          for key, value in form.items() if key.startswith("ind_") and value}
    return body


def field_errors(page: str, field: str) -> list[str]:
    marker = f'<p class="field-error" id="id_{field}-error">'
    return [html.unescape(chunk.split("</p>", 1)[0]) for chunk in page.split(marker)[1:]]


def test_the_pages_need_a_login(client, db):
    for path in ("/strategies/", "/strategies/new"):
        assert client.get(path).status_code == 302, path


def test_creating_a_strategy_stores_what_was_typed(logged_in_client):
    response = logged_in_client.post("/strategies/new", {**VALID, "ind_ema_short": "7", "ind_bb_std": "2.5"})
    assert response.status_code == 302 and response["Location"] == "/strategies/"
    strategy = Strategy.objects.get(name="Scalper")
    assert strategy.symbols == ["BTCUSDT", "ETHUSDT"] and strategy.is_active is False
    assert strategy.indicators == {"ema_short": 7, "bb_std": 2.5}  # the rest keeps following the defaults
    assert "activate it to trade" in logged_in_client.get("/strategies/").content.decode()


@pytest.mark.parametrize("changes, field", [
    ({"symbols": "btc, ETHUSDT, ETHUSDT"}, "symbols"),
    ({"risk_percentage": "0"}, "risk_percentage"),
    ({"stop_loss_percentage": "100"}, "stop_loss_percentage"),
    ({"leverage": "101"}, "leverage"),
    ({"leverage": "100", "stop_loss_percentage": "1"}, "stop_loss_percentage"),  # liquidated before the stop
    ({"confirm_timeframe": "1"}, "confirm_timeframe"),
    ({"timeframe": "7"}, "timeframe"),
])
def test_a_bad_field_gets_the_message_the_api_gives_next_to_it(logged_in_client, api_client, changes, field):
    form = {**VALID, **changes}
    page = logged_in_client.post("/strategies/new", form).content.decode()
    api = api_client.post("/api/strategies", api_body(form), format="json")

    assert api.status_code == 400 and not Strategy.objects.exists()
    page_messages = field_errors(page, field)
    api_messages = api.json()[field]
    if field == "timeframe":  # a choice the form's select cannot even offer: Django's and DRF's wording differ
        assert page_messages and "7" in page_messages[0] and "7" in api_messages[0]
    else:
        assert page_messages == api_messages


def test_indicator_problems_are_shown_next_to_the_setting_they_name(logged_in_client, api_client):
    form = {**VALID, "ind_ema_short": "30", "ind_rsi_period": "14.5", "ind_bb_std": "11"}
    page = logged_in_client.post("/strategies/new", form).content.decode()
    api = api_client.post("/api/strategies", api_body(form), format="json").json()

    assert field_errors(page, "ind_rsi_period") == ["rsi_period must be a whole number of candles, got 14.5."]
    assert field_errors(page, "ind_bb_std") == ["bb_std must be at most 10, got 11."]
    assert sorted(field_errors(page, "ind_rsi_period") + field_errors(page, "ind_bb_std")) == sorted(api["indicators"])

    crossed = logged_in_client.post("/strategies/new", {**VALID, "ind_ema_short": "30"}).content.decode()
    assert field_errors(crossed, "ind_ema_short") == ["ema_short (30) must be shorter than ema_long (21)."]


def test_editing_keeps_untouched_settings_and_shows_typed_ones(logged_in_client, make_strategy):
    strategy = make_strategy(name="Edit me", indicators={"rsi_period": 10})
    page = logged_in_client.get(f"/strategies/{strategy.pk}/edit").content.decode()
    assert 'name="ind_rsi_period"' in page and 'value="10"' in page and 'placeholder="21"' in page

    form = {**VALID, "name": "Edited", "ind_rsi_period": "10", "take_profit_percentage": "3.5"}
    assert logged_in_client.post(f"/strategies/{strategy.pk}/edit", form).status_code == 302
    strategy.refresh_from_db()
    assert (strategy.name, strategy.take_profit_percentage, strategy.indicators) == ("Edited", Decimal("3.5"),
                                                                                     {"rsi_period": 10})
    assert strategy.is_active is True  # editing never switches a strategy on or off


def test_the_list_shows_the_last_decision_per_symbol_with_its_reasons(logged_in_client, make_strategy, make_trade):
    strategy = make_strategy(name="Trend", symbols=["BTCUSDT", "ETHUSDT"])
    trade = make_trade(status="open", strategy=strategy)
    candle = timezone.now().replace(second=0, microsecond=0)
    Decision.objects.create(strategy=strategy, symbol="BTCUSDT", timeframe="5", candle_time=candle, action="LONG",
                            outcome="entered", reasons=["LONG met: EMA 9 crossed above EMA 21"],
                            detail="opened: Buy 0.012 @ 65000.5", price=Decimal("65000.5"), trade=trade)
    Decision.objects.create(strategy=strategy, symbol="ETHUSDT", timeframe="5", candle_time=candle, action="HOLD",
                            outcome="hold", reasons=["LONG not met: MACD above its signal line"])
    page = logged_in_client.get("/strategies/").content.decode()

    assert "LONG met: EMA 9 crossed above EMA 21" in page and "opened: Buy 0.012 @ 65000.5" in page
    assert f"trade {trade.pk}" in page
    assert '<li class="unmet">LONG not met: MACD above its signal line</li>' in page
    assert "Entered" in page and "Hold" in page


def test_a_strategy_that_needs_ai_says_it_cannot_trade_without_a_key(logged_in_client, make_strategy, settings):
    settings.OPENAI_API_KEY = ""
    make_strategy(name="Careful", use_ai_confirmation=True)
    page = logged_in_client.get("/strategies/").content.decode()
    assert "Does not trade: AI confirmation is off: OPENAI_API_KEY is not set" in page

    settings.OPENAI_API_KEY = "sk-test"
    assert "Does not trade" not in logged_in_client.get("/strategies/").content.decode()


def test_activate_and_deactivate_swap_the_card_in_place(logged_in_client, make_strategy):
    strategy = make_strategy(name="Switch", is_active=False)
    on = logged_in_client.post(f"/strategies/{strategy.pk}/activate", HTTP_HX_REQUEST="true").content.decode()
    strategy.refresh_from_db()
    assert strategy.is_active and on.startswith(f'<section id="strategy-{strategy.pk}"') and ">Deactivate<" in on

    off = logged_in_client.post(f"/strategies/{strategy.pk}/deactivate")
    strategy.refresh_from_db()
    assert not strategy.is_active and off.status_code == 302
    assert logged_in_client.get(f"/strategies/{strategy.pk}/activate").status_code == 405


def test_the_decisions_of_a_strategy_refresh_alone(logged_in_client, make_strategy):
    strategy = make_strategy()
    body = logged_in_client.get(f"/strategies/{strategy.pk}/decisions").content.decode()
    assert body.startswith(f'<div id="decisions-{strategy.pk}"') and 'hx-trigger="refresh, every 30s"' in body
    assert "No decision yet: the next cycle decides." in body
