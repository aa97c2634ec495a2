"""The seed's five trade endpoints (and the decision log), on the paper exchange's numbers."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from trades.models import Decision, Trade, TradeStatus

pytestmark = pytest.mark.django_db


def closed(strategy, symbol, pnl, *, minutes_ago=0, link=None):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    trade = Trade.objects.create(strategy=strategy, symbol=symbol, side="Buy", quantity=Decimal("0.01"),
                                price=Decimal("70000"), order_link_id=link or f"t-{symbol}-{pnl}-{minutes_ago}",
                                status=TradeStatus.CLOSED, realized_pnl=Decimal(pnl), fees=Decimal("0.5"),
                                exit_price=Decimal("70100"), executed_at=at, closed_at=at)
    Trade.objects.filter(pk=trade.pk).update(created_at=at)  # created_at is set on insert; back-date it
    return trade


@pytest.fixture
def history(make_strategy):
    alpha, beta = make_strategy(name="alpha"), make_strategy(name="beta")
    closed(alpha, "BTCUSDT", "100", minutes_ago=50)
    closed(alpha, "ETHUSDT", "-50", minutes_ago=40)
    closed(beta, "BTCUSDT", "30", minutes_ago=30)
    closed(beta, "SOLUSDT", "-80", minutes_ago=20)
    Trade.objects.create(strategy=alpha, symbol="SOLUSDT", side="Sell", quantity=Decimal("1"), order_link_id="open-1",
                         status=TradeStatus.OPEN, price=Decimal("90"), fees=Decimal("0.05"))
    return alpha, beta


def test_it_lists_trades_newest_first_with_filters_and_pages(api_client, history):
    alpha, _ = history
    body = api_client.get("/api/trades").json()
    assert body["count"] == 5 and body["results"][0]["order_link_id"] == "open-1"
    assert [t["order_link_id"] for t in body["results"][1:3]] == ["t-SOLUSDT--80-20", "t-BTCUSDT-30-30"]
    assert {t["symbol"] for t in api_client.get("/api/trades?symbol=BTCUSDT").json()["results"]} == {"BTCUSDT"}
    assert api_client.get("/api/trades?status=open").json()["count"] == 1
    assert api_client.get(f"/api/trades/?strategy={alpha.pk}").json()["count"] == 3
    since = (timezone.now() - timedelta(minutes=35)).isoformat()
    assert api_client.get("/api/trades", {"since": since}).json()["count"] == 3  # two closed, one open
    assert api_client.get("/api/trades?page=2").status_code == 404  # one page of 50


def test_it_refuses_bad_filters_with_the_reason(api_client, history):
    response = api_client.get("/api/trades?status=won&symbol=btc&since=yesterday")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"status", "symbol", "since"}
    assert "Use a USDT perpetual in capitals" in body["symbol"][0]


@pytest.mark.parametrize("query, field", [
    ("strategy=1.5", "strategy"), ("strategy=99999999999999999999", "strategy"), ("strategy=0", "strategy"),
    ("since=0001-01-01T00:00%2B01:00", "since"), ("until=2026-04-01T00:00&since=2026-04-01T00:00", "until"),
])
def test_every_filter_endpoint_refuses_a_bad_value_with_400_never_500(api_client, query, field):
    for path in ("/api/trades", "/api/trades/stats", "/api/trades/symbol/BTCUSDT"):
        response = api_client.get(f"{path}?{query}")
        assert response.status_code == 400 and set(response.json()) == {field}, path


def test_an_offset_the_database_would_refuse_is_read_in_utc(api_client, history):
    assert api_client.get("/api/trades?since=2026-01-01T00:00:00-20:20").status_code == 200


def test_it_computes_the_statistics(api_client, history):
    stats = api_client.get("/api/trades/stats").json()
    assert stats["total_trades"] == 4 and stats["wins"] == 2 and stats["losses"] == 2
    assert Decimal(stats["win_rate"]) == Decimal("50")
    assert Decimal(stats["total_pnl"]) == Decimal("0")
    assert Decimal(stats["profit_factor"]) == Decimal("1")  # 130 / 130
    assert Decimal(stats["max_drawdown"]) == Decimal("100")  # +100 peak, then -50, +30, -80
    assert stats["open_trades"] == 1 and Decimal(stats["fees_paid"]) == Decimal("2.05")
    by_symbol = {row["key"]: row for row in stats["by_symbol"]}
    assert Decimal(by_symbol["BTCUSDT"]["total_pnl"]) == Decimal("130")
    assert {row["key"] for row in stats["by_strategy"]} == {"alpha", "beta"}


def test_it_lists_the_trades_of_one_symbol(api_client, history):
    body = api_client.get("/api/trades/symbol/SOLUSDT").json()
    assert {t["order_link_id"] for t in body["results"]} == {"open-1", "t-SOLUSDT--80-20"}
    assert api_client.get("/api/trades/symbol/sol").status_code == 400


def test_cancelling_anything_but_a_pending_trade_answers_409_with_why(api_client, history):
    trade = Trade.objects.get(order_link_id="open-1")
    response = api_client.delete(f"/api/trades/{trade.pk}/cancel")
    assert response.status_code == 409
    assert response.json()["detail"] == (f"Trade {trade.pk} is open; only a pending trade can be cancelled; "
                                         f"close it instead.")
    done = Trade.objects.filter(status=TradeStatus.CLOSED).first()
    assert api_client.post(f"/api/trades/{done.pk}/close").status_code == 409
    assert api_client.post("/api/trades/999999/close").status_code == 404


def test_it_shows_the_last_decision_per_strategy_and_symbol(api_client, history):
    alpha, _ = history
    for minute, action in ((1, "HOLD"), (2, "LONG")):
        Decision.objects.create(strategy=alpha, symbol="BTCUSDT", timeframe="5", action=action, outcome="hold",
                                candle_time=timezone.now() - timedelta(minutes=10 - minute), reasons=["r"])
    body = api_client.get(f"/api/trades/decisions?strategy={alpha.pk}").json()
    assert [(row["symbol"], row["action"]) for row in body] == [("BTCUSDT", "LONG")]
    assert api_client.get("/api/trades/decisions?strategy=x").status_code == 400


def test_the_trade_endpoints_refuse_anonymous_callers(anonymous_api_client, history):
    for method, path in (("get", "/api/trades"), ("get", "/api/trades/stats"), ("post", "/api/trades/1/close"),
                         ("delete", "/api/trades/1/cancel"), ("get", "/api/trades/symbol/BTCUSDT")):
        assert getattr(anonymous_api_client, method)(path).status_code in (401, 403), path
