"""The chart data behind the dashboard, as API endpoints: candles, indicator series, trade markers,
the equity curve, realized PnL per day and the bot's status."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.fakes.scenarios import serve, signal_window
from trades.models import CycleRun


@pytest.fixture
def window(bybit):
    """120 real 5-minute BTCUSDT candles, the newest closed a moment ago, served by the fake Bybit."""
    candles, _ = signal_window(action="LONG", strategy_type="trend_following", symbol="BTCUSDT", interval="5",
                               length=120)
    serve(bybit, "BTCUSDT", "5", candles)
    return candles


def test_it_gives_candles_with_every_indicator_series(api_client, window):
    data = api_client.get("/api/chart/BTCUSDT", {"interval": "5", "limit": 100}).json()

    assert (data["symbol"], data["interval"], data["source"]) == ("BTCUSDT", "5", "Bybit testnet")
    assert len(data["candles"]) == 100
    first, last = data["candles"][0], data["candles"][-1]
    assert first["time"] == int(window[-100].start.timestamp()) and Decimal(last["close"]) == window[-1].close
    assert all(isinstance(candle["open"], str) for candle in data["candles"])  # money stays exact
    assert set(data["series"]) == {"ema_short", "ema_long", "bb_upper", "bb_middle", "bb_lower", "rsi", "macd",
                                   "macd_signal", "macd_hist"}
    assert len(data["series"]["ema_short"]) == 100 - 8  # warm-up rows have no value: EMA 9 needs 9 candles
    assert len(data["series"]["bb_upper"]) == 100 - 19  # and Bollinger 20
    rsi = [point["value"] for point in data["series"]["rsi"]]
    assert rsi and all(0 <= value <= 100 for value in rsi)
    assert data["indicators"]["ema_short"] == 9 and data["markers"] == []


def test_it_uses_the_indicator_periods_of_a_strategy(api_client, window, make_strategy):
    strategy = make_strategy(indicators={"ema_short": 5, "ema_long": 50, "bb_period": 30})
    data = api_client.get("/api/chart/BTCUSDT", {"interval": "5", "limit": 100, "strategy": strategy.pk}).json()
    assert (data["indicators"]["ema_short"], data["indicators"]["ema_long"]) == (5, 50)
    assert len(data["series"]["bb_upper"]) == 100 - 29


def test_a_strategy_of_another_class_charts_the_default_indicators(api_client, window, make_strategy):
    """Its parameters are not indicator periods: the chart shows the built-ins' defaults rather than a 500."""
    strategy = make_strategy(type="ema_crossover", indicators={"fast": 5, "slow": 30})
    response = api_client.get("/api/chart/BTCUSDT", {"interval": "5", "limit": 100, "strategy": strategy.pk})
    assert response.status_code == 200, response.content
    assert response.json()["indicators"]["ema_short"] == 9


def test_entries_and_exits_are_marked_on_the_candles_they_happened_in(api_client, window, make_trade):
    entry_candle, exit_candle = window[-30], window[-10]
    trade = make_trade(status="closed", side="Sell", executed_at=entry_candle.start + timedelta(seconds=70),
                       closed_at=exit_candle.start + timedelta(minutes=4), realized_pnl=Decimal("-3.456"))
    make_trade(symbol="BTCUSDT", status="failed", executed_at=None)  # never filled: no marker
    make_trade(status="closed", executed_at=window[0].start - timedelta(days=2),
               closed_at=window[0].start - timedelta(days=1))  # before the candles shown

    markers = api_client.get("/api/chart/BTCUSDT", {"interval": "5", "limit": 100}).json()["markers"]

    assert markers == [
        {"time": int(entry_candle.start.timestamp()), "trade": trade.pk, "kind": "entry", "side": "Sell",
         "price": "65000.50000000", "pnl": None, "text": "Sell 0.012"},
        {"time": int(exit_candle.start.timestamp()), "trade": trade.pk, "kind": "exit", "side": "Sell",
         "price": "66300.00000000", "pnl": "-3.45600000", "text": "Exit -3.46"},
    ]


def test_a_trade_made_now_is_marked_on_the_candle_the_paper_replay_shows_now(api_client, paper, make_trade):
    make_trade(status="open", executed_at=datetime.now(UTC))
    data = api_client.get("/api/chart/BTCUSDT", {"interval": "1", "limit": 60}).json()
    [marker] = data["markers"]
    assert marker["time"] == data["candles"][-1]["time"]  # the replay runs on 2026 data, not on wall time
    assert data["source"] == "Binance spot replay"


@pytest.mark.parametrize("query, field, reason", [
    ({"interval": "7"}, "interval", "interval must be one of 1, 3, 5"),
    ({"limit": "5000"}, "limit", "less than or equal to 1000"),
    ({"strategy": "999"}, "strategy", "no strategy with id 999"),
])
def test_bad_parameters_answer_400_naming_the_field(api_client, paper, query, field, reason):
    response = api_client.get("/api/chart/BTCUSDT", query)
    assert response.status_code == 400
    assert reason in response.json()[field][0]


def test_a_symbol_the_exchange_does_not_list_is_refused_with_its_reason(api_client, paper):
    response = api_client.get("/api/chart/DOGEUSDT")
    assert response.status_code == 400 and "not in the bundled replay data" in response.json()["symbol"][0]
    assert api_client.get("/api/chart/btc").status_code == 400


def test_the_chart_data_needs_a_login(anonymous_api_client, db):
    for path in ("/api/chart/BTCUSDT", "/api/chart/equity", "/api/bot/status"):
        assert anonymous_api_client.get(path).status_code in (401, 403), path


def test_the_equity_curve_starts_flat_and_steps_with_each_closed_trade(api_client, paper, make_trade):
    opened = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
    make_trade(status="closed", executed_at=opened, closed_at=opened + timedelta(hours=1),
               realized_pnl=Decimal("25"))
    make_trade(symbol="ETHUSDT", status="closed", executed_at=opened + timedelta(hours=2),
               closed_at=opened + timedelta(hours=3), realized_pnl=Decimal("-10"))
    make_trade(symbol="SOLUSDT", status="open")

    data = api_client.get("/api/chart/equity").json()

    assert data["starting_equity"] == "10000"
    assert [(p["time"], Decimal(p["cumulative_pnl"]), Decimal(p["equity"])) for p in data["points"]] == [
        (int(opened.timestamp()), 0, 10000),
        (int(opened.timestamp()) + 3600, 25, 10025),
        (int(opened.timestamp()) + 3 * 3600, 15, 10015)]


def test_daily_pnl_is_counted_in_the_bot_time_zone(api_client, paper, make_trade, settings):
    settings.BOT_TIMEZONE = "Europe/Berlin"  # UTC+2 in April
    late = datetime(2026, 4, 1, 21, 30, tzinfo=UTC)  # 23:30 in Berlin, April 1
    make_trade(status="closed", executed_at=late - timedelta(hours=1), closed_at=late, realized_pnl=Decimal("5"))
    make_trade(symbol="ETHUSDT", status="closed", executed_at=late, closed_at=late + timedelta(hours=1),
               realized_pnl=Decimal("7"))  # 00:30 in Berlin, April 2
    make_trade(symbol="SOLUSDT", status="closed", executed_at=late, closed_at=late + timedelta(hours=2),
               realized_pnl=Decimal("-2"))

    data = api_client.get("/api/chart/equity").json()
    assert data["timezone"] == "Europe/Berlin"
    assert [(d["day"], Decimal(d["pnl"]), d["trades"]) for d in data["daily"]] == [
        ("2026-04-01", 5, 1), ("2026-04-02", 5, 2)]


def test_the_equity_curve_of_a_real_account_is_cumulative_pnl_only(api_client, bybit, make_trade):
    make_trade(status="closed", realized_pnl=Decimal("3"))
    data = api_client.get("/api/chart/equity").json()
    assert data["starting_equity"] is None
    assert all("equity" not in point for point in data["points"])


def test_the_bot_status_api_says_what_the_status_line_shows(api_client, logged_in_client, paper, make_strategy):
    make_strategy()
    CycleRun.objects.create(trigger="beat", status="failed", error="klines: timeout")
    status = api_client.get("/api/bot/status").json()
    line = logged_in_client.get("/cards/status").content.decode()

    assert status["state"] == "running" and "running" in line
    assert status["active_strategies"] == 1 and "1 active strategy" in line
    assert status["last_error"] == "klines: timeout" and "last error: klines: timeout" in line
    assert status["cycle_overdue"] is False and status["price_source"] == "Binance spot replay"
