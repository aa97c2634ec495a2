"""Live events as server-rendered fragments: what ``dashboard.live`` renders, and what a browser's socket
receives after a real trading cycle (fake Bybit at the wire, the Redis channel layer in between)."""

from decimal import Decimal

from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from core.events import Event, publish
from dashboard import live
from dashboard.consumers import DashboardConsumer
from tests.fakes.scenarios import serve, signal_window
from trades.models import Trade
from trades.runner import run_strategies, start_run
from trades.serializers import TradeSerializer


class FailingExchange:
    name = "failing"

    def get_positions(self, symbol=None):
        from market.errors import ExchangeError

        raise ExchangeError("exchange down for maintenance")


def render_all(event, data, symbols=None, exchange=None):
    return [render() for render in live.plan(event, data, symbols=set() if symbols is None else symbols,
                                             exchange=exchange or FailingExchange)]


def test_a_trade_event_swaps_the_trades_table_and_adds_a_toast(make_trade, db):
    trade = make_trade(symbol="BTCUSDT", status="open")
    [first] = render_all(Event.TRADE_EXECUTED, {"action": "opened", "trade": TradeSerializer(trade).data})[:1]

    assert first.startswith('<tbody id="recent-trades"') and 'hx-swap-oob="true"' in first
    assert f'id="trade-{trade.pk}" class="status-open flash"' in first
    assert f'data-stamp="{trade.pk}:opened"' in first
    assert '<div hx-swap-oob="beforeend:#toasts"><div class="toast toast-info"' in first
    assert "Opened" in first and "Buy 0.012 BTCUSDT" in first and "65,000.5" in first


def test_a_closed_trade_toast_tells_the_pnl_and_a_failed_one_why(make_trade, db):
    closed = make_trade(status="closed", realized_pnl=Decimal("-12.5"), exit_price=Decimal("64000"))
    failed = make_trade(symbol="ETHUSDT", status="failed", status_reason="ab not enough for new order")
    closed_html = live.trade_executed({"action": "closed", "trade": TradeSerializer(closed).data})
    failed_html = live.trade_executed({"action": "failed", "trade": TradeSerializer(failed).data})

    assert "toast-bad" in closed_html and "Closed" in closed_html and "\u221212.50" in closed_html
    assert "64,000" in closed_html
    assert "Failed" in failed_html and "ab not enough for new order" in failed_html


def test_the_positions_and_stats_follow_a_trade_in_a_second_message(bybit, make_trade):
    trade = make_trade(status="closed")
    messages = render_all(Event.TRADE_EXECUTED, {"action": "closed", "trade": TradeSerializer(trade).data},
                          exchange=lambda: bybit.exchange())
    assert len(messages) == 2
    assert 'id="positions-card"' in messages[1] and 'id="stats"' in messages[1]
    assert messages[1].count('hx-swap-oob="true"') == 2
    assert "+14.75" in messages[1]  # the closed trade's PnL in the stats


def test_a_balance_event_renders_the_card_from_the_event_alone(db):
    [balance, _] = render_all(Event.BALANCE_UPDATE, {
        "coin": "USDT", "equity": "10123.45", "wallet_balance": "10000", "available": "9000.5",
        "unrealized_pnl": "123.45"})
    assert 'id="balance-card"' in balance and 'hx-swap-oob="true"' in balance
    assert "10,123.45" in balance and "9,000.50" in balance and "+123.45" in balance


def test_a_price_for_a_symbol_on_the_page_swaps_only_its_slot(db):
    symbols = {"BTCUSDT"}
    [html] = render_all(Event.MARKET_UPDATE, {"symbol": "BTCUSDT", "price": "70123.4",
                                              "time": "2026-04-01T12:00:00+00:00", "change_24h_pct": "-1.25"},
                        symbols=symbols)
    assert html.startswith('<li id="tick-BTCUSDT"') and 'hx-swap-oob="true"' in html
    assert 'data-price="70123.4"' in html and "70,123.40" in html and "neg" in html
    assert '\u22121.25% <small class="muted">24h</small>' in html


def test_a_price_for_a_new_symbol_redraws_the_strip_with_it_once(paper):
    symbols = {"BTCUSDT"}
    tick = {"symbol": "ETHUSDT", "price": "3000", "time": "2026-04-01T12:00:00+00:00"}
    [strip] = render_all(Event.MARKET_UPDATE, tick, symbols=symbols, exchange=lambda: paper)
    assert strip.startswith('<ul id="prices"') and 'hx-swap-oob="true"' in strip
    assert 'id="tick-BTCUSDT"' in strip and 'id="tick-ETHUSDT"' in strip
    assert symbols == {"BTCUSDT", "ETHUSDT"}
    [again] = render_all(Event.MARKET_UPDATE, tick, symbols=symbols, exchange=lambda: paper)
    assert again.startswith('<li id="tick-ETHUSDT"')


def test_the_bot_status_event_renders_the_status_line(db, settings):
    settings.MARKET_DATA = "bybit"  # live prices: the wall clock (the replay's clock has a test of its own)
    [html] = render_all(Event.BOT_STATUS, {
        "state": "paused", "active_strategies": 1, "exchange_mode": "paper", "last_cycle_status": "ok",
        "last_cycle_at": "2026-04-01T12:00:05+00:00", "last_error": "",
        "paused_strategies": [{"id": 1, "name": "trend", "until": "2026-04-02T00:00:00+00:00",
                               "reason": "daily loss limit reached"}]})
    assert html.startswith('<section id="status-card"') and 'hx-swap-oob="true"' in html
    assert "state-paused" in html and "Apr 1, 12:00:05 UTC" in html
    assert "trend paused until Apr 2, 00:00 UTC: daily loss limit reached" in html


def test_events_the_dashboard_does_not_show_send_nothing(db):
    assert render_all(Event.BACKTEST_PROGRESS, {"percent": 50}) == []
    assert render_all("somethingNew", {}) == []
    assert render_all(Event.MARKET_UPDATE, {"symbol": "<b>x</b>", "price": "1"}) == [""]


def test_an_exchange_error_shows_in_the_card_instead_of_breaking_the_push(db):
    html = live.positions(FailingExchange())
    assert "Positions unavailable: exchange down for maintenance" in html


def receive_all(communicator, count, timeout=10):
    async def collect():
        return [await communicator.receive_from(timeout=timeout) for _ in range(count)]

    return collect()


def test_a_browser_socket_gets_a_fragment_for_every_event_of_a_cycle_that_trades(user, bybit, make_strategy,
                                                                                   transactional_db):
    candles, _ = signal_window(action="LONG", strategy_type="trend_following", symbol="BTCUSDT", interval="1")
    serve(bybit, "BTCUSDT", "1", candles)
    strategy = make_strategy(name="trend", type="trend_following", symbols=["BTCUSDT"], timeframe="1")

    async def scenario():
        communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/?format=html&symbols=BTCUSDT")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        report = await sync_to_async(run_strategies)([strategy], run=await sync_to_async(start_run)("test"))
        # opened trade: 2 messages; price: 1; balance: 2; status: 1
        messages = await receive_all(communicator, 6)
        assert await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return report, messages

    report, messages = async_to_sync(scenario)()
    assert report.orders == 1
    trade = Trade.objects.get()
    assert all(not message.lstrip().startswith("{") for message in messages)  # HTML, not JSON
    row = next(i for i, m in enumerate(messages) if f'id="trade-{trade.pk}"' in m)
    assert "toast" in messages[row] and "Opened" in messages[row]
    stats = next(i for i, m in enumerate(messages) if 'id="stats"' in m)
    assert row < stats and 'id="position-BTCUSDT"' in messages[stats]
    assert any(m.startswith('<li id="tick-BTCUSDT"') for m in messages)
    assert any('id="balance-card"' in m for m in messages)
    assert any('id="status-card"' in m and "running" in m for m in messages)


def test_scripts_still_get_json_by_default_and_when_they_ask(user, transactional_db):
    async def scenario(path):
        communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), path)
        communicator.scope["user"] = user
        await communicator.connect()
        await sync_to_async(publish)(Event.MARKET_UPDATE, {"symbol": "BTCUSDT", "price": Decimal("1.5")})
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return message

    for path in ("/ws/", "/ws/?format=json"):
        assert async_to_sync(scenario)(path) == {"event": "marketUpdate", "data": {"symbol": "BTCUSDT", "price": "1.5"}}


def test_a_fragment_that_fails_to_render_does_not_close_the_socket(user, transactional_db):
    async def scenario():
        communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/?format=html&symbols=BTCUSDT")
        communicator.scope["user"] = user
        await communicator.connect()
        await sync_to_async(publish)(Event.BOT_STATUS, {"state": "idle", "paused_strategies": "not a list"})
        await sync_to_async(publish)(Event.MARKET_UPDATE, {"symbol": "BTCUSDT", "price": "2"})
        message = await communicator.receive_from(timeout=5)
        nothing_else = await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return message, nothing_else

    message, nothing_else = async_to_sync(scenario)()
    assert message.startswith('<li id="tick-BTCUSDT"') and nothing_else


def test_the_price_slots_a_page_names_in_its_socket_url_are_checked_and_bounded():
    assert live.parse_symbols("") == set()
    assert live.parse_symbols("BTCUSDT,<b>,ETHUSDT,btcusdt") == {"BTCUSDT", "ETHUSDT"}
    assert len(live.parse_symbols(",".join(f"S{n:03d}USDT" for n in range(500)))) == live.MAX_SYMBOLS


def test_in_replay_the_status_line_and_trade_rows_read_the_replay_clock_and_say_so(paper, make_trade):
    """Issue 18, defect 5: one clock on the page. The replay plays old candles; a trade recorded now sits on the
    candle the replay shows now, and the page gives its time on that clock, as the chart and decisions do."""
    from django.utils import timezone

    from dashboard.chart_data import market_clock

    trade = make_trade(status="open")
    on_replay = market_clock(paper.market_data)(trade.created_at)
    assert abs(on_replay - trade.created_at).days >= 1  # the bundled month is long past
    [html] = render_all(Event.BOT_STATUS, {"state": "running", "active_strategies": 1, "last_cycle_status": "ok",
                                           "last_cycle_at": timezone.now().isoformat(), "last_error": "",
                                           "paused_strategies": []})
    assert "replay UTC" in html
    row = live.trade_executed({"action": "opened", "trade": TradeSerializer(trade).data})
    assert on_replay.strftime("%b %-d %H:%M") in row and "Time (replay UTC)" in row
