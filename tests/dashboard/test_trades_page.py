"""The Trades page: the whole history, filtered like the API, paginated, and close / cancel for live trades."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trades.models import Trade, TradeStatus


def test_it_needs_a_login(client, db):
    assert client.get("/trades/").status_code == 302


def test_it_pages_through_the_history_fifty_at_a_time(logged_in_client, make_trade):
    for _ in range(53):
        make_trade(status="closed")
    first = logged_in_client.get("/trades/").content.decode()
    second = logged_in_client.get("/trades/", {"page": 2}).content.decode()

    assert "53 trades, page 1 of 2" in first and first.count('<tr id="trade-') == 50
    assert second.count('<tr id="trade-') == 3 and "← Newer" in second
    assert 'href="?page=2"' in first


def test_filters_narrow_the_list_and_the_api_link_keeps_them(logged_in_client, make_trade, make_strategy):
    strategy = make_strategy(name="mine")
    wanted = make_trade(symbol="ETHUSDT", status="closed", strategy=strategy)
    make_trade(symbol="ETHUSDT", status="failed")
    make_trade(symbol="BTCUSDT", status="closed", strategy=strategy)

    body = logged_in_client.get("/trades/", {"symbol": "ethusdt", "status": "closed",
                                             "strategy": strategy.pk}).content.decode()
    assert "1 trade" in body and f'id="trade-{wanted.pk}"' in body and body.count('<tr id="trade-') == 1
    assert f'href="/api/trades?symbol=ETHUSDT&amp;status=closed&amp;strategy={strategy.pk}"' in body


def test_dates_filter_on_when_the_trade_was_recorded(logged_in_client, make_trade):
    old = make_trade(status="closed")
    Trade.objects.filter(pk=old.pk).update(created_at=datetime(2026, 1, 5, tzinfo=UTC))
    new = make_trade(symbol="ETHUSDT", status="closed")
    body = logged_in_client.get("/trades/", {"since": "2026-02-01T00:00"}).content.decode()
    assert f'id="trade-{new.pk}"' in body and f'id="trade-{old.pk}"' not in body


@pytest.mark.parametrize("query, message", [
    ({"symbol": "BTC"}, "Use a USDT perpetual in capitals, e.g. BTCUSDT."),
    ({"status": "lost"}, "&quot;lost&quot; is not a valid choice."),
    ({"since": "2026-04-02T00:00", "until": "2026-04-01T00:00"}, "must be later than since."),
])
def test_a_bad_filter_is_explained_next_to_it_as_the_api_does(logged_in_client, api_client, make_trade, query,
                                                               message):
    make_trade(status="closed")
    body = logged_in_client.get("/trades/", query).content.decode()
    api = api_client.get("/api/trades", query)

    assert api.status_code == 400
    assert f'<p class="field-error">{message}</p>' in body
    assert "No trades match." in body and "Fix the filters above" in body


def test_an_htmx_filter_request_gets_only_the_table(logged_in_client, make_trade):
    make_trade(status="closed")
    response = logged_in_client.get("/trades/", {"status": "closed"}, HTTP_HX_REQUEST="true",
                                    HTTP_HX_TARGET="trades-table")
    body = response.content.decode()
    assert body.startswith('<div id="trades-table" ') and "<html" not in body and "1 trade" in body


def test_closing_an_open_trade_from_its_row(logged_in_client, bybit, api_client):
    bybit.set_price("BTCUSDT", "60000")
    assert api_client.post("/api/bybit/order", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01"},
                           format="json").status_code == 201
    trade = Trade.objects.get(symbol="BTCUSDT")  # manual API orders are recorded as trades
    bybit.set_price("BTCUSDT", "60600")

    response = logged_in_client.post(f"/trades/{trade.pk}/close", HTTP_HX_REQUEST="true")

    trade.refresh_from_db()
    assert trade.status == TradeStatus.CLOSED and trade.exit_price == Decimal("60600")
    body = response.content.decode()
    assert body.startswith(f'<tr id="trade-{trade.pk}"') and "Closed" in body and "field-error" not in body
    assert ">Close</button>" not in body


def test_closing_a_trade_that_is_not_open_says_why(logged_in_client, paper, make_trade):
    trade = make_trade(status="closed")
    htmx = logged_in_client.post(f"/trades/{trade.pk}/close", HTTP_HX_REQUEST="true").content.decode()
    assert f"Trade {trade.pk} is closed; only an open trade can be closed." in htmx

    plain = logged_in_client.post(f"/trades/{trade.pk}/close", follow=True)
    assert f"Trade {trade.pk} is closed; only an open trade can be closed." in plain.content.decode()


def test_cancelling_a_pending_trade_from_its_row(logged_in_client, paper, make_trade):
    trade = make_trade(status="pending", executed_at=None)
    response = logged_in_client.post(f"/trades/{trade.pk}/cancel")
    assert response.status_code == 302 and response["Location"] == "/trades/"
    trade.refresh_from_db()
    assert trade.status == TradeStatus.CANCELLED


def test_actions_only_accept_post(logged_in_client, make_trade):
    trade = make_trade(status="open")
    assert logged_in_client.get(f"/trades/{trade.pk}/close").status_code == 405


def test_the_newest_trade_comes_first(logged_in_client, make_trade):
    older = make_trade(status="closed")
    Trade.objects.filter(pk=older.pk).update(created_at=datetime.now(UTC) - timedelta(days=1))
    newer = make_trade(symbol="ETHUSDT", status="closed")
    body = logged_in_client.get("/trades/").content.decode()
    assert body.index(f'id="trade-{newer.pk}"') < body.index(f'id="trade-{older.pk}"')


def test_open_trades_show_their_unrealized_pnl_and_the_page_listens_for_trades(logged_in_client, paper,
                                                                                  django_user_model):
    """Issue 18, defect 2: the Trades page is live (a socket, and a table that refetches itself on a trade event)
    and an open trade's PnL is what closing at the mark price would make."""
    from decimal import Decimal

    from dashboard.templatetags.figures import signed
    from market.types import OrderRequest, Side
    from trades.commands import place_order
    from trades.models import Trade

    user = django_user_model.objects.create_superuser("page-opener", password=None)
    _, result = place_order(user, OrderRequest(symbol="BTCUSDT", side=Side.BUY, qty=Decimal("0.01"),
                                               order_link_id="page-open-1"), exchange=paper, sleep=lambda _: None)
    trade = Trade.objects.get(pk=result.trade.pk)
    [position] = paper.get_positions("BTCUSDT")
    body = logged_in_client.get("/trades/").content.decode()
    assert 'ws-connect="/ws/?format=html&amp;page=trades"' in body and 'data-live="trade"' in body
    expected = trade.unrealized_pnl(position.mark_price)
    assert expected is not None
    assert 'data-label="PnL (unrealized)"' in body
    assert f'<span class="unrealized">{signed(expected)}</span>' in body
