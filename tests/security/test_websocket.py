"""Every WebSocket route, through the whole ASGI stack (origin check, session auth): a session cookie of a
logged-in user opens it; no cookie, a logged-out session or another site's page does not."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from dashboard.routing import websocket_urlpatterns
from tradebot.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)  # the socket reads the session from another thread

OWN_ORIGIN = b"http://127.0.0.1"
PATHS = ["/" + str(route.pattern) for route in websocket_urlpatterns]


def connects(path: str, *, origin: bytes = OWN_ORIGIN, session: str | None = None) -> bool:
    headers = [(b"origin", origin)]
    if session:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))

    async def attempt():
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect()
        if connected:
            await communicator.disconnect()
        return connected

    return async_to_sync(attempt)()


@pytest.fixture
def session(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("socket-user", password=None))
    client.session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return client


def test_the_routing_has_the_dashboard_socket():
    assert PATHS == ["/ws/"]


@pytest.mark.parametrize("path", PATHS)
def test_a_logged_in_session_opens_the_socket(path, session):
    assert connects(path, session=session.session_key)


@pytest.mark.parametrize("path", PATHS)
def test_no_cookie_or_a_made_up_one_is_refused(path):
    assert not connects(path)
    assert not connects(path, session="not-a-session-key")


@pytest.mark.parametrize("path", PATHS)
def test_a_logged_out_session_is_refused(path, session):
    key = session.session_key
    session.logout()
    assert not connects(path, session=key)


@pytest.mark.parametrize("path", PATHS)
def test_another_sites_page_cannot_use_the_visitors_session(path, session):
    """Cross-site WebSocket hijacking: the browser sends the cookie, but also the attacker's Origin."""
    assert not connects(path, origin=b"https://evil.example", session=session.session_key)


def connects_with_token(path: str, key: str) -> bool:
    async def attempt():
        communicator = WebsocketCommunicator(application, path, headers=[(b"origin", OWN_ORIGIN),
                                                                          (b"authorization", f"Token {key}".encode())])
        connected, _ = await communicator.connect()
        if connected:
            await communicator.disconnect()
        return connected

    return async_to_sync(attempt)()


@pytest.mark.parametrize("path", PATHS)
def test_a_script_opens_the_socket_with_its_api_token_and_a_wrong_one_is_refused(path, django_user_model):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=django_user_model.objects.create_user("socket-script", password=None))
    assert connects_with_token(path, token.key)
    assert not connects_with_token(path, "not-a-real-token")
    token.user.is_active = False
    token.user.save()
    assert not connects_with_token(path, token.key)
