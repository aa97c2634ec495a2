"""The command layer (issue 19): one function per change, the same guards and the same announcements whichever
front end asks. Before the layer the pages' close skipped the order rate limit and an expired pause still showed as
a pause (those tests failed); a manual or reconciled entry that fails is announced like a cycle's since the one
``settle_entry`` / ``fail_entry`` of issue 17, and the last two tests hold it at the wire."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from core.events import DASHBOARD_GROUP
from core.models import OperatorSettings
from exchange.factory import get_exchange
from strategies import services as strategy_commands
from trades import commands, queries
from trades.models import Trade, TradeStatus
from trades.reconcile import reconcile

SYMBOL = "BTCUSDT"


@pytest.fixture
def dashboard_events(transactional_db):
    """The events published to every dashboard, as a browser's socket would get them (the real Redis layer)."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(DASHBOARD_GROUP, channel)

    def received(first_wait: float = 5.0) -> list[dict]:
        async def drain():
            messages, wait = [], first_wait
            while True:
                try:
                    messages.append(await asyncio.wait_for(layer.receive(channel), wait))
                except TimeoutError:
                    return messages
                wait = 0.3  # after the first message, only what arrives with it

        return async_to_sync(drain)()

    yield received
    async_to_sync(layer.group_discard)(DASHBOARD_GROUP, channel)


def failed_trades(messages: list[dict]) -> list[int]:
    return [message["data"]["trade"]["id"] for message in messages
            if message.get("event") == "tradeExecuted" and message["data"].get("action") == "failed"]


def test_the_pages_close_counts_against_the_order_rate_limit_like_the_api(app_on_fake_bybit, user, client, settings,
                                                                           django_user_model, transactional_db):
    opener = django_user_model.objects.create_superuser("opener", password=None)
    OperatorSettings.objects.create(user=opener, live_trading_enabled=True)
    order, result = commands.place_order(opener, _buy(), exchange=get_exchange(), sleep=lambda _: None)
    trade = result.trade
    assert trade.status == TradeStatus.OPEN
    settings.ORDER_RATE_LIMIT = "2/min"
    client.force_login(user)
    from rest_framework.test import APIClient  # noqa: PLC0415 - the API half of the same person's budget

    api = APIClient()
    api.force_authenticate(user)
    assert [api.post("/api/bybit/leverage", {"symbol": SYMBOL, "leverage": "2"}, format="json").status_code
            for _ in range(2)] == [200, 200]

    response = client.post(f"/trades/{trade.pk}/close", HTTP_HX_REQUEST="true")

    assert response.status_code == 429 and response["X-Refusal"] == "1" and 0 < int(response["Retry-After"]) <= 60
    assert "Too many order requests: at most 2/min per user (ORDER_RATE_LIMIT)" in response.content.decode()
    trade.refresh_from_db()
    assert trade.status == TradeStatus.OPEN
    assert [position.size for position in get_exchange().get_positions(SYMBOL)] == [trade.quantity]


def test_an_expired_pause_shows_as_running_and_does_not_hold_signals(make_strategy, logged_in_client):
    strategy = make_strategy(is_active=True)
    strategy.paused_until, strategy.pause_reason = timezone.now() - timedelta(minutes=1), "daily loss limit reached"
    strategy.save()

    page = logged_in_client.get("/strategies/").content.decode()
    status = queries.bot_status()

    assert not strategy.is_paused(timezone.now())
    assert "Paused until" not in page and "daily loss limit reached" not in page
    assert status["state"] == "running" and status["paused_strategies"] == []


def test_a_pause_by_a_person_holds_until_resumed(make_strategy, user):
    strategy = make_strategy(is_active=True)

    strategy_commands.pause(user, strategy.pk, reason="news at 14:00")
    assert strategy.__class__.objects.get(pk=strategy.pk).is_paused(timezone.now() + timedelta(days=3650))
    assert queries.bot_status()["state"] == "paused"

    strategy_commands.resume(user, strategy.pk)
    assert queries.bot_status()["state"] == "running"


def test_a_refused_manual_entry_is_announced_like_a_failed_cycle_entry(app_on_fake_bybit, api_client,
                                                                       dashboard_events):
    app_on_fake_bybit.reject_next_order_after_accepting("EC_InsufficientBalance")

    response = api_client.post("/api/bybit/order", {"symbol": SYMBOL, "side": "Buy", "qty": "0.010"}, format="json")

    assert response.status_code == 502, response.json()
    trade = Trade.objects.get(pk=response.json()["trade"])
    assert trade.status == TradeStatus.FAILED
    assert failed_trades(dashboard_events()) == [trade.pk]


def test_a_pending_entry_the_reconciler_fails_is_announced_like_a_failed_cycle_entry(app_on_fake_bybit,
                                                                                    dashboard_events):
    trade = Trade.objects.create(strategy=None, symbol=SYMBOL, side="Buy", quantity=Decimal("0.010"),
                                 order_link_id="never-reached-bybit", reasoning="manual order",
                                 status=TradeStatus.PENDING)

    reconcile(get_exchange(), now=timezone.now() + timedelta(minutes=5), sleep=lambda _: None)

    trade.refresh_from_db()
    assert trade.status == TradeStatus.FAILED
    assert failed_trades(dashboard_events()) == [trade.pk]


def _buy():
    from market.types import OrderRequest, Side  # noqa: PLC0415 - a test helper's values

    return OrderRequest(symbol=SYMBOL, side=Side.BUY, qty=Decimal("0.010"), order_link_id="")
