"""The dashboard socket: logged-in users only; events published by any process reach it."""

from decimal import Decimal

from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from core.events import Event, publish, publish_many
from dashboard.consumers import DashboardConsumer
from tradebot.asgi import application

ORIGIN = [(b"origin", b"http://127.0.0.1")]


def communicator_for(user):
    communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/")
    communicator.scope["user"] = user
    return communicator


def test_an_anonymous_socket_is_refused():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/", headers=ORIGIN)
        connected, _ = await communicator.connect()
        assert connected is False

    async_to_sync(scenario)()


def test_a_foreign_origin_is_refused(django_user_model, transactional_db):
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/", headers=[(b"origin", b"http://evil.example")])
        connected, _ = await communicator.connect()
        assert connected is False

    async_to_sync(scenario)()


def test_a_logged_in_socket_receives_published_events(user, transactional_db):
    async def scenario():
        communicator = communicator_for(user)
        connected, _ = await communicator.connect()
        assert connected
        await sync_to_async(publish)(Event.TRADE_EXECUTED, {"symbol": "BTCUSDT", "price": Decimal("70000.5")})
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return message

    assert async_to_sync(scenario)() == {"event": "tradeExecuted", "data": {"symbol": "BTCUSDT", "price": "70000.5"}}


def test_an_anonymous_user_in_scope_is_refused():
    async def scenario():
        connected, _ = await communicator_for(AnonymousUser()).connect()
        assert connected is False

    async_to_sync(scenario)()


def test_dashboards_open_in_one_process_share_each_rendered_fragment(user, transactional_db, monkeypatch):
    """Twenty open dashboards cost one render per event and process, not twenty."""
    from dashboard import live

    renders = []

    def counted_bot_status(data):
        renders.append(data)
        return f'<div id="bot-status" hx-swap-oob="true">{data["state"]}</div>'

    monkeypatch.setattr(live, "bot_status", counted_bot_status)

    async def scenario():
        sockets = []
        for _ in range(20):
            communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/?format=html&symbols=BTCUSDT")
            communicator.scope["user"] = user
            assert (await communicator.connect())[0]
            sockets.append(communicator)
        await sync_to_async(publish)(Event.BOT_STATUS, {"state": "running"})
        received = [await communicator.receive_from(timeout=5) for communicator in sockets]
        for communicator in sockets:
            await communicator.disconnect()
        return received

    received = async_to_sync(scenario)()
    assert received == ['<div id="bot-status" hx-swap-oob="true">running</div>'] * 20
    assert len(renders) == 1


def test_a_cycles_prices_sent_as_one_message_arrive_as_one_event_each(user, transactional_db):
    async def scenario():
        communicator = communicator_for(user)
        connected, _ = await communicator.connect()
        assert connected
        await sync_to_async(publish_many)(Event.MARKET_UPDATE, [{"symbol": "BTCUSDT", "price": Decimal("70000.5")},
                                                                 {"symbol": "ETHUSDT", "price": Decimal("3500")}])
        messages = [await communicator.receive_json_from(timeout=5) for _ in range(2)]
        await communicator.disconnect()
        return messages

    assert async_to_sync(scenario)() == [{"event": "marketUpdate", "data": {"symbol": "BTCUSDT", "price": "70000.5"}},
                                         {"event": "marketUpdate", "data": {"symbol": "ETHUSDT", "price": "3500"}}]
