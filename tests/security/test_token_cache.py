"""API tokens are remembered a few seconds per web process (TOKEN_CACHE_SECONDS), never past a revocation made
in the same process, never past the TTL made in another."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from core.security import CachedTokenAuthentication

pytestmark = pytest.mark.django_db


@pytest.fixture
def script(django_user_model):
    CachedTokenAuthentication.forget()
    user = django_user_model.objects.create_user("script", password=None)
    token = Token.objects.create(user=user)
    yield user, token, Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    CachedTokenAuthentication.forget()


def token_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/strategies").status_code == 200
    return sum("authtoken_token" in query["sql"] for query in queries.captured_queries)


def test_a_token_is_looked_up_once_then_remembered(script):
    _, _, client = script
    assert [token_queries(client), token_queries(client), token_queries(client)] == [1, 0, 0]


def test_a_deleted_token_is_refused_at_once(script):
    _, token, client = script
    token_queries(client)
    token.delete()
    assert client.get("/api/strategies").status_code == 401


def test_a_deactivated_user_is_refused_at_once(script):
    user, _, client = script
    token_queries(client)
    user.is_active = False
    user.save()
    assert client.get("/api/strategies").status_code == 401


def test_a_revocation_made_elsewhere_applies_once_the_ttl_is_over(script, settings, monkeypatch):
    _, token, client = script
    token_queries(client)
    with connection.cursor() as cursor:  # no signal reaches this process: as if another process had deleted it
        cursor.execute("DELETE FROM authtoken_token WHERE key = %s", [token.key])
    assert client.get("/api/strategies").status_code == 200  # still remembered here, for at most the TTL

    now = time.monotonic()
    monkeypatch.setattr("core.security.time.monotonic", lambda: now + settings.TOKEN_CACHE_SECONDS + 0.1)
    assert client.get("/api/strategies").status_code == 401


def test_zero_seconds_looks_the_token_up_every_time(script, settings):
    settings.TOKEN_CACHE_SECONDS = 0
    _, _, client = script
    assert [token_queries(client), token_queries(client)] == [1, 1]
