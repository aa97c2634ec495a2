"""The dashboard page and its cards: one fragment per card, served alone for the slow polling fallback."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from trades.models import CycleRun

CARDS = {"status": 'id="status-card"', "balance": 'id="balance-card"', "positions": 'id="positions-card"',
         "stats": 'id="stats"', "trades": 'id="recent-trades"', "prices": 'id="prices"'}


def test_it_needs_a_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/cards/balance").status_code == 302


def test_it_shows_every_card_from_the_paper_exchange(logged_in_client, paper):
    page = logged_in_client.get("/").content.decode()

    for marker in CARDS.values():
        assert marker in page
    assert "10,000.00" in page  # the paper account's starting equity
    assert "Prices: Binance spot replay" in page  # replayed prices are never passed off as Bybit's
    assert 'ws-connect="/ws/?format=html&amp;symbols=BTCUSDT"' in page
    assert 'id="tick-BTCUSDT"' in page
    assert "No trades yet" in page and "No open positions." in page
    assert "Charts by <a href=\"https://www.tradingview.com/\"" in page  # the chart library's attribution
    assert 'id="socket-state"' in page and "connecting…" in page


def test_each_card_is_served_alone_and_polls_slowly(logged_in_client, paper):
    for name, marker in CARDS.items():
        response = logged_in_client.get(f"/cards/{name}")
        body = response.content.decode()
        assert response.status_code == 200, name
        assert body.lstrip().startswith("<") and marker in body, name
        assert 'hx-trigger="every 30s, refresh"' in body, name
        assert "hx-swap-oob" not in body, name  # only socket pushes swap out of band
        assert "<html" not in body, name


def test_an_unknown_card_is_not_found(logged_in_client, db):
    assert logged_in_client.get("/cards/nonsense").status_code == 404


def test_recent_trades_are_listed_newest_first_with_their_figures(logged_in_client, paper, make_trade,
                                                                  make_strategy):
    strategy = make_strategy(name="trend-1")
    older = make_trade(symbol="ETHUSDT", status="closed", price=Decimal("3000"), exit_price=Decimal("2970"),
                       realized_pnl=Decimal("-3.6"), strategy=strategy)
    newer = make_trade(symbol="BTCUSDT", status="open")
    body = logged_in_client.get("/cards/trades").content.decode()

    assert body.index(f'id="trade-{newer.pk}"') < body.index(f'id="trade-{older.pk}"')
    assert "65,000.5" in body and "0.012" in body and "\u22123.60" in body and "trend-1" in body
    assert "manual" in body  # a trade without a strategy


def test_the_stats_card_shows_the_figures_of_the_stats_api(logged_in_client, api_client, paper, make_trade):
    make_trade(symbol="BTCUSDT", status="closed", realized_pnl=Decimal("20"))
    make_trade(symbol="ETHUSDT", status="closed", realized_pnl=Decimal("-5"))
    api = api_client.get("/api/trades/stats").json()
    body = logged_in_client.get("/cards/stats").content.decode()

    assert Decimal(api["total_pnl"]) == Decimal("15") and "+15.00" in body
    assert Decimal(api["win_rate"]) == Decimal("50") and "50.00%" in body
    assert Decimal(api["profit_factor"]) == Decimal("4") and "4.00" in body


def test_a_balance_the_exchange_refuses_is_shown_with_the_reason(logged_in_client, bybit, settings):
    from exchange.factory import reset_exchange

    settings.BYBIT_API_KEY = "not-the-key"  # refused at once, not retried
    reset_exchange()
    body = logged_in_client.get("/cards/balance").content.decode()
    assert "Balance unavailable:" in body and "API key is invalid" in body


def test_positions_show_the_unrealized_pnl_of_the_exchange(logged_in_client, bybit, api_client):
    bybit.set_price("BTCUSDT", "60000")
    assert api_client.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01"},
                           format="json").status_code == 201
    bybit.set_price("BTCUSDT", "61000")
    body = logged_in_client.get("/cards/positions").content.decode()
    assert 'id="position-BTCUSDT"' in body and "Long" in body
    assert "+10.00" in body  # 0.01 BTC x 1,000 USDT


@pytest.mark.parametrize("minutes, overdue", [(1, False), (10, True)])
def test_the_status_says_when_the_cycle_stopped_running(logged_in_client, make_strategy, minutes, overdue):
    make_strategy()
    run = CycleRun.objects.create(trigger="beat", status="ok")
    CycleRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(minutes=minutes),
                                              finished_at=timezone.now() - timedelta(minutes=minutes))
    body = logged_in_client.get("/cards/status").content.decode()
    assert "running" in body and "1 active strategy" in body
    assert ("no cycle for over 3 minutes" in body) is overdue


def test_the_status_shows_the_last_cycle_error(logged_in_client, make_strategy):
    make_strategy()
    CycleRun.objects.create(trigger="beat", status="failed", error="balance: Bybit said no",
                            finished_at=timezone.now())
    body = logged_in_client.get("/cards/status").content.decode()
    assert "last error: balance: Bybit said no" in body and "attention" in body


def test_the_chart_opens_on_an_active_strategy_symbol_and_timeframe(logged_in_client, paper, make_strategy):
    strategy = make_strategy(symbols=["ETHUSDT"], timeframe="15")
    page = logged_in_client.get("/").content.decode()
    assert 'data-symbol="ETHUSDT"' in page and 'data-interval="15"' in page
    assert f'data-strategy="{strategy.pk}"' in page
    assert 'data-url="/api/chart/ETHUSDT"' in page


def test_the_chart_follows_the_symbol_and_timeframe_asked_for(logged_in_client, paper):
    page = logged_in_client.get("/", {"symbol": "solusdt", "interval": "60"}).content.decode()
    assert 'data-symbol="SOLUSDT"' in page and 'data-interval="60"' in page
    nonsense = logged_in_client.get("/", {"symbol": "<script>", "interval": "7"}).content.decode()
    assert 'data-symbol="BTCUSDT"' in nonsense and 'data-interval="5"' in nonsense
