"""One whole cycle, as beat fires it: a real Celery worker process, the fake Bybit server at the wire, the
database, the API and the live events together."""

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from dashboard.consumers import DashboardConsumer
from tests.helpers import wait_until
from trades.models import CycleRun, Trade, TradeStatus
from trades.tasks import run_active_strategies

pytestmark = pytest.mark.slow


def test_a_cycle_in_the_worker_trades_once_and_everyone_sees_it(long_signal, fake_bybit, celery_worker_factory,
                                                                user, api_client):
    strategy, candles = long_signal
    worker = celery_worker_factory(EXCHANGE_MODE="testnet", BYBIT_API_KEY=fake_bybit.api_key,
                                   BYBIT_API_SECRET=fake_bybit.api_secret, BYBIT_BASE_URL=fake_bybit.url)

    async def watch_a_cycle():
        socket = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/")
        socket.scope["user"] = user
        assert (await socket.connect())[0]
        run_active_strategies.apply_async(kwargs={"trigger": "e2e"}, queue=worker.queue)
        events = []
        while not any(e["event"] == "tradeExecuted" for e in events) or not any(
                e["event"] == "balanceUpdate" for e in events):
            events.append(await socket.receive_json_from(timeout=30))
        await socket.disconnect()
        return events

    events = async_to_sync(watch_a_cycle)()

    trade = wait_until(lambda: Trade.objects.filter(status=TradeStatus.OPEN, stop_loss__isnull=False).first(),
                       timeout=20, what="the open trade", on_timeout=worker.output)
    assert len(fake_bybit.orders_received) == 1
    assert fake_bybit.orders_received[0]["orderLinkId"] == trade.order_link_id
    assert fake_bybit.state.positions["BTCUSDT"].stop_loss == trade.stop_loss
    executed = next(e for e in events if e["event"] == "tradeExecuted")["data"]
    assert executed["action"] == "opened" and executed["trade"]["order_link_id"] == trade.order_link_id
    assert {"marketUpdate", "balanceUpdate"} <= {e["event"] for e in events}
    assert wait_until(lambda: CycleRun.objects.filter(trigger="e2e", orders=1).exists(), timeout=10,
                      what="the cycle's record")

    stats = api_client.get("/api/trades/stats").json()
    assert (stats["open_trades"], stats["total_trades"]) == (1, 0)
    listed = api_client.get("/api/trades?status=open").json()["results"]
    assert [row["order_link_id"] for row in listed] == [trade.order_link_id]
    assert Decimal(listed[0]["stop_loss"]) == trade.stop_loss
