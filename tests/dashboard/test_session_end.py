"""A session that ends (logout in another tab, or expiry) never leaves a page half alive (issue 18, defect 3):
a card refresh gets 401 with the login URL for htmx to follow instead of a login page to swap into the card,
and the session's sockets close with 4401 at logout."""

from types import SimpleNamespace

from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore

from core.events import end_session_sockets
from dashboard.consumers import SESSION_ENDED, DashboardConsumer


def test_a_card_refresh_without_a_session_is_told_where_to_sign_in(client, db):
    response = client.get("/cards/trades", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/trades/?x=1")
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/accounts/login/?next=/trades/%3Fx%3D1"
    assert b"<form" not in response.content


def test_a_page_without_a_session_still_redirects_to_the_login_page(client, db):
    response = client.get("/trades/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/trades/")


def test_logging_out_closes_the_sockets_that_session_opened(user, transactional_db):
    session = SessionStore()
    session.create()

    async def scenario():
        tab = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/?format=html")
        tab.scope.update(user=user, session=session)
        other = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/?format=html")
        other.scope["user"] = user  # a token socket: no session, not closed by this logout
        assert (await tab.connect())[0] and (await other.connect())[0]
        await sync_to_async(end_session_sockets)(None, request=SimpleNamespace(session=session))
        closed = await tab.receive_output(timeout=5)
        assert (closed["type"], closed["code"]) == ("websocket.close", SESSION_ENDED)
        assert await other.receive_nothing(timeout=0.3)
        await other.disconnect()

    async_to_sync(scenario)()
